"""Shared pytest options: local runs may skip the slow end-to-end and SLURM tests; CI never does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from workflow_support import run_snakemake


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


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded default run end to end once, locally on 2 cores (shared by the slow tests)."""
    workdir = tmp_path_factory.mktemp("default_run")
    result = run_snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    (workdir / "snakemake.log").write_text(result.stdout + result.stderr)
    return workdir


@pytest.fixture(scope="session")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real inputs of the command-line tests (good and bad), made once; see cli_inputs.py."""
    from cli_inputs import make_cli_files

    return make_cli_files(tmp_path_factory.mktemp("cli_files"))
