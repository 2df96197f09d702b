"""Snakemake entry point of rules/train.smk: one stage, in-process, through torchrun on one
node, or through srun + torchrun across nodes (voxsv.train.launch). The rule's params are what
the model depends on; the run layout and everything else come from the loaded config."""

import json
import os
import sys

from voxsv.configuration import processes_per_node
from voxsv.experiments import resolve, run_settings
from voxsv.train import fingerprint
from voxsv.train.launch import launch

smk = snakemake  # noqa: F821
log = os.open(smk.log[0], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
for fd in (1, 2):  # the log gets this process's and every worker's output, failures included
    os.dup2(log, fd)
exp = resolve(smk.config)[smk.wildcards.alias]
stage = exp.stage(smk.wildcards.stage)
nproc = processes_per_node(stage)
os.environ["OMP_NUM_THREADS"] = str(max(1, smk.threads // nproc))
settings = run_settings(
    smk.config, exp, smk.wildcards.stage, list(smk.input.archives),
    smk.input.init[0] if smk.input.init else None,
    os.path.dirname(smk.output[0]), smk.output[0],
)
moved = fingerprint.prepare(os.path.join(settings["run_dir"], "checkpoints"), smk.params.settings)
if moved:
    print(moved, flush=True)
sys.exit(launch(stage.get("nodes", 1), nproc, json.dumps(settings)))
