"""Snakemake entry point of rules/train.smk: one stage, in-process or through torchrun.

With more than one process this is `torchrun --standalone --nproc_per_node N -m voxsv.train`,
run via torch.distributed.run so the workers use this job's interpreter (and conda env).
"""

import json
import os
import sys

smk = snakemake  # noqa: F821
world_size = smk.params.world_size
os.environ["OMP_NUM_THREADS"] = str(max(1, smk.threads // world_size))
log = os.open(smk.log[0], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
for fd in (1, 2):  # the log gets this process's and every worker's output
    os.dup2(log, fd)
settings = json.dumps(smk.params.settings)
if world_size > 1:
    from torch.distributed.run import main as torchrun

    torchrun(["--standalone", f"--nproc_per_node={world_size}", "-m", "voxsv.train",
              "--settings", settings])
else:
    from voxsv.train.__main__ import main

    sys.exit(main(["--settings", settings]))
