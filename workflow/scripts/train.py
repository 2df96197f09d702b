"""Snakemake entry point of rules/train.smk: one stage, in-process, through torchrun on one
node, or through srun + torchrun across nodes (voxsv.train.launch)."""

import json
import os
import sys

from voxsv.train.launch import launch

smk = snakemake  # noqa: F821
nproc, nodes = smk.params.world_size, smk.params.nodes
os.environ["OMP_NUM_THREADS"] = str(max(1, smk.threads // nproc))
log = os.open(smk.log[0], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
for fd in (1, 2):  # the log gets this process's and every worker's output
    os.dup2(log, fd)
sys.exit(launch(nodes, nproc, json.dumps(smk.params.settings)))
