"""Shared pytest options: local runs may skip the slow end-to-end and SLURM tests; CI never does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--skip-slow", action="store_true", help="skip end-to-end workflow runs")
    parser.addoption("--skip-slurm", action="store_true", help="skip the real-SLURM test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    in_ci = os.environ.get("CI") == "true"
    for flag, marker in (("--skip-slow", "slow"), ("--skip-slurm", "slurm")):
        if not config.getoption(flag):
            continue
        if in_ci:
            raise pytest.UsageError(f"{flag} is for local runs only; CI runs every test")
        skip = pytest.mark.skip(reason=f"{flag} given")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


REPO = Path(__file__).resolve().parents[1]


def run_snakemake(workdir: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run the repository's workflow in `workdir` with this interpreter's snakemake."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
           "--directory", str(workdir), *args]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded default run end to end once, locally on 2 cores (shared by the slow tests)."""
    workdir = tmp_path_factory.mktemp("default_run")
    result = run_snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    (workdir / "snakemake.log").write_text(result.stdout + result.stderr)
    return workdir
