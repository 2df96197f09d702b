"""How a training stage is started: in-process, torchrun on one node, or srun + torchrun with
c10d rendezvous across the nodes of a SLURM allocation."""

from __future__ import annotations

import os
import subprocess
import sys

RDZV_PORT = 29500


def single_node_args(nproc: int, settings: str) -> list[str]:
    """torchrun arguments for `nproc` processes on this node."""
    return ["--standalone", f"--nproc_per_node={nproc}", "-m", "voxsv.train",
            "--settings", settings]  # fmt: skip


def multi_node_command(nodes: int, nproc: int, settings: str, head: str, job_id: str) -> list[str]:
    """One torchrun agent per node through srun (inside the job's own allocation, hence
    --overlap), joined by torchrun's c10d rendezvous on the first node."""
    return [
        "srun", "--overlap", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1",
        sys.executable, "-m", "torch.distributed.run",
        f"--nnodes={nodes}", f"--nproc_per_node={nproc}",
        "--rdzv_backend=c10d", f"--rdzv_endpoint={head}:{RDZV_PORT}", f"--rdzv_id={job_id}",
        "-m", "voxsv.train", "--settings", settings,
    ]  # fmt: skip


def slurm_head_node() -> str:
    """The first host of this SLURM job's allocation."""
    nodelist = os.environ.get("SLURM_JOB_NODELIST")
    if not nodelist:
        raise RuntimeError("multi-node training needs a SLURM job (SLURM_JOB_NODELIST unset)")
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.split()[0]


def launch(nodes: int, nproc: int, settings: str) -> int:
    """Run one training stage on `nodes` nodes with `nproc` processes each; the exit code."""
    if nodes > 1:
        command = multi_node_command(
            nodes, nproc, settings, slurm_head_node(), os.environ.get("SLURM_JOB_ID", "voxsv")
        )
        return subprocess.run(command).returncode
    if nproc > 1:
        from torch.distributed.run import main as torchrun

        torchrun(single_node_args(nproc, settings))
        return 0
    from voxsv.train.__main__ import main

    return main(["--settings", settings])
