"""Running the repository's workflow from tests (shared by the end-to-end and SLURM tests)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOB_STATS = re.compile(r"^Job stats:\n.*?\n-+ +-+\n(.*?)^total +\d+$", re.MULTILINE | re.DOTALL)
# what the data stage leaves; training and everything after it is exp/, results/, logs/
TRAINING_AND_AFTER = {"exp", "results", "logs"}


def run_snakemake(workdir: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run the repository's workflow in `workdir` with this interpreter's snakemake."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
           "--directory", str(workdir), *args]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def planned_jobs(log: str) -> Counter[str]:
    """The jobs per rule that a snakemake run planned (its first 'Job stats' table)."""
    match = JOB_STATS.search(log)
    assert match, "no 'Job stats' table in the snakemake output"
    return Counter({rule: int(n) for rule, n in (line.split() for line in match[1].splitlines())})


def copy_data_stage(run: Path, to: Path) -> Path:
    """A copy of a finished run's working directory up to its data stage (corpus, manifests,
    FBANK archives and their snakemake metadata), without training, results, logs or locks."""
    dropped = {run: TRAINING_AND_AFTER, run / ".snakemake": {"slurm_logs", "locks", "log"}}

    def ignore(directory: str, names: list[str]) -> list[str]:
        return [n for n in names if n in dropped.get(Path(directory), ())]

    shutil.copytree(run, to, ignore=ignore)  # copy2: modification times are kept
    return to
