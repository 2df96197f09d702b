"""Kill a training run with SIGKILL mid-way; the rerun resumes and ends bit-identical (fp32)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from test_train_support import make_archive, settings

from voxsv.train import checkpoint


def _command(run_settings: dict) -> list[str]:
    return [sys.executable, "-m", "voxsv.train", "--settings", json.dumps(run_settings)]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _kill_after_checkpoint(run_settings: dict, min_step: int) -> int:
    """Start training, SIGKILL it once a checkpoint of step >= min_step exists; return that step."""
    ckpt_dir = Path(run_settings["run_dir"]) / "checkpoints"
    proc = subprocess.Popen(_command(run_settings), env=_env(), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            newest = checkpoint.latest(ckpt_dir)
            if newest and int(newest.stem.removeprefix("step")) >= min_step:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training ended before it could be killed"
    return checkpoint.load(checkpoint.latest(ckpt_dir))["step"]


def test_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    archive, _ = make_archive(tmp_path / "shard0.jsonl.gz")
    shape = {"epochs": 10, "steps_per_epoch": 3, "batch_per_gpu": 16, "global_batch": 16}
    killed = settings(tmp_path / "killed", archive, **shape)
    whole = settings(tmp_path / "whole", archive, **shape)

    step = _kill_after_checkpoint(killed, min_step=4)
    out = Path(killed["out"])
    assert 0 < step < 30 and not out.exists()
    rerun = subprocess.run(_command(killed), env=_env(), capture_output=True, text=True,
                           check=True)
    assert f"resuming pretrain from {killed['run_dir']}/checkpoints" in rerun.stderr
    assert f"(step {step})" in rerun.stderr
    subprocess.run(_command(whole), env=_env(), capture_output=True, check=True)

    a, b = checkpoint.load(out), checkpoint.load(whole["out"])
    assert a["step"] == b["step"] == 30
    for part in ("model", "head"):
        for name, value in b[part].items():
            assert torch.equal(a[part][name], value), f"{part}.{name}"
    with (Path(killed["run_dir"]) / "train_log.tsv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f, delimiter="\t")] == list(range(30))
