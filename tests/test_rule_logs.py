"""A failing job writes its own error, with the traceback, to the rule's declared log (where
cluster users look), and the real recipe's command plans on a skeleton after the README's edit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml
from workflow_support import run_snakemake

REPO = Path(__file__).resolve().parents[1]


def write_tiny_corpus(root: Path, trial_lines: list[str]) -> dict:
    """Two VoxCeleb1-like speakers, empty other corpora, and the README's edit of the config."""
    rng = np.random.default_rng(0)
    for speaker in ("id10001", "id10002"):
        path = root / "voxceleb1/wav" / speaker / "vid" / "00001.wav"
        path.parent.mkdir(parents=True)
        sf.write(path, (rng.normal(size=16000) * 3000).astype(np.int16), 16000)
    for key in ("voxceleb2", "musan", "RIRS_NOISES"):
        (root / key).mkdir()
    (root / "O.txt").write_text("".join(line + "\n" for line in trial_lines))
    return {
        "corpus": {"generate": False},
        "paths": {"voxceleb1": str(root / "voxceleb1/wav"),
                  "voxceleb2_dev": str(root / "voxceleb2"), "musan": str(root / "musan"),
                  "rirs": str(root / "RIRS_NOISES")},
        "trials": {"O": str(root / "O.txt"), "E": None, "H": None},
    }


def test_failed_job_writes_its_error_to_its_log(tmp_path: Path) -> None:
    edit = write_tiny_corpus(tmp_path / "corpus", [
        "1 id10001/vid/00001.wav id10001/vid/00001.wav",
        "0 id10001/vid/00001.wav id10009/vid/00007.wav",
    ])
    overlay = tmp_path / "site.yaml"
    overlay.write_text(yaml.safe_dump(edit))
    work = tmp_path / "work"
    result = run_snakemake(work, "data/manifests/trials_checked.tsv", "--cores", "1",
                           "--configfile", str(overlay))
    assert result.returncode != 0
    log = (work / "logs/manifests/check_trials.log").read_text()
    assert "check_trials failed: TrialsMismatch:" in log
    assert "1 utterance(s) not in data/manifests/vox1_recordings.jsonl.gz, first: " \
           "id10009/vid/00007.wav" in log
    assert "Traceback (most recent call last):" in log
    assert not (work / "data/manifests/trials_checked.tsv").exists()


def test_generate_corpus_failure_is_in_its_log(tmp_path: Path) -> None:
    kept = tmp_path / "corpus/voxceleb2/notes.txt"  # a file the generator must not overwrite
    kept.parent.mkdir(parents=True)
    kept.write_text("mine")
    result = run_snakemake(tmp_path, "corpus/voxceleb1/veri_test2.txt", "--cores", "1")
    assert result.returncode != 0
    log = (tmp_path / "logs/corpus/generate_corpus.log").read_text()
    assert "generate_corpus failed: FileExistsError: corpus/voxceleb2 already holds files" in log
    assert "Traceback (most recent call last):" in log
    assert kept.read_text() == "mine"


def test_readme_edit_plans_a_published_table_on_a_skeleton(tmp_path: Path) -> None:
    edit = write_tiny_corpus(tmp_path / "corpus", ["1 id10001/vid/00001.wav id10002/vid/00001.wav"])
    overlay = tmp_path / "site.yaml"
    overlay.write_text(yaml.safe_dump(edit))
    cmd = [sys.executable, "-m", "snakemake", "results/res2net200_lmft_asnorm.tsv", "-s",
           str(REPO / "Snakefile"), "--directory", str(tmp_path / "work"), "-n", "--quiet",
           "rules", "--configfile", str(overlay)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = dict(line.split() for line in result.stdout.splitlines()
                  if len(line.split()) == 2 and line.split()[1].isdigit())
    assert counts["train"] == "2" and counts["fbank"] == str(256 * 5 + 32)
    assert counts["crop_store"] == str(256 * 5)
    assert counts["embed"] == str(2 * 32) and counts["score"] == "1"
