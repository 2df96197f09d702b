"""Config validation: a wrong key, type or value stops snakemake before any job, naming the key."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    """Plan the default target from `workdir` with the repo's Snakefile; nothing is run."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_default_config_plans(tmp_path: Path) -> None:
    result = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "generate_corpus" in result.stdout


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ('corpus={"num_speakers": "x"}', "num_speakers"),
        ('data={"num_shards": "x"}', "num_shards"),
        ('data={"num_mel_bins": 64}', "num_mel_bins"),
        ('data={"on_bad_audio": "ignore"}', "on_bad_audio"),
        ('trials={"Q": "q.txt"}', "Q"),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, override: str, named: str) -> None:
    result = dry_run(tmp_path, "--config", override)
    assert result.returncode != 0
    assert f"'{named}'" in result.stdout + result.stderr
    assert "Job stats" not in result.stdout


def test_unknown_top_level_key_in_configfile(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["scorring"] = {"top_k": 10}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = dry_run(tmp_path, "--configfile", str(bad))
    assert result.returncode != 0
    assert "'scorring' was unexpected" in result.stdout + result.stderr


def test_bad_value_runs_no_job(tmp_path: Path) -> None:
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "1",
           "--config", 'corpus={"seed": -1}']
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "['corpus']['seed']" in result.stdout + result.stderr
    produced = [p for p in tmp_path.iterdir() if p.name != ".snakemake"]
    assert produced == []
    shutil.rmtree(tmp_path / ".snakemake", ignore_errors=True)
