"""The train rule under Snakemake: a job killed mid-way (SIGKILL, as a cluster time limit would)
is retried and resumes from its newest checkpoint, which Snakemake keeps (not an output)."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from test_train_support import BINS, TINY_TDNN, make_archive

from voxsv.train import checkpoint

ROOT = Path(__file__).parents[1]


def _descendants(pid: int) -> list[int]:
    """Process ids below `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _workdir(tmp: Path) -> Path:
    """A working directory with a tiny-model config and one tiny clean FBANK shard (the
    crop_store rule writes its crop store)."""
    (tmp / "config").mkdir()
    shutil.copy(ROOT / "config/schema.yaml", tmp / "config/schema.yaml")
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg["data"]["num_shards"] = 1
    cfg["default_models"] = ["tiny"]
    cpu = {"gpus": 0, "cpu_processes": 1, "resources": {"cpus": 1, "mem_mb": 2000, "runtime": 10}}
    train = {
        "checkpoint_every_steps": 2, "log_every_steps": 1, "num_workers": 0, "precision": "fp32",
        "pretrain": {"copies": ["clean"], "epochs": 10, "steps_per_epoch": 3,
                     "constant_until_epoch": 10, "margin_full_epoch": 10, "global_batch": 16,
                     "batch_per_gpu": 16, **cpu},
        "lmft": {"global_batch": 32, "batch_per_gpu": 16, **cpu},
    }
    cfg["models"]["tiny"] = {"model": TINY_TDNN, "num_mel_bins": BINS, "train": train,
                             "scoring": {"top_k": 20}}
    (tmp / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    make_archive(tmp / f"data/fbank/{BINS}/vox2dev/clean/shard0.jsonl.gz")
    return tmp


def test_killed_job_is_retried_and_resumes(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "1",
           "--configfile", "config/config.yaml", "--allowed-rules", "crop_store", "train", "--",
           "exp/tiny/pretrain/model.pt"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    smk = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    ckpt_dir = work / "exp/tiny/pretrain/checkpoints"
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and smk.poll() is None:
        newest = checkpoint.latest(ckpt_dir)
        if newest and int(newest.stem.removeprefix("step")) >= 4:
            for pid in _descendants(smk.pid):
                if "train.py" in _cmdline(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed = checkpoint.load(checkpoint.latest(ckpt_dir))["step"]
        time.sleep(0.005)
    output = smk.communicate(timeout=120)[0]
    assert killed is not None and 0 < killed < 30, output
    assert smk.returncode == 0, output
    log = (work / "logs/train/tiny/pretrain.log").read_text()
    assert f"resuming pretrain from exp/tiny/pretrain/checkpoints/step{killed:09d}.pt" in log
    assert checkpoint.load(work / "exp/tiny/pretrain/model.pt")["step"] == 30
    with (work / "exp/tiny/pretrain/train_log.tsv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f, delimiter="\t")] == list(range(30))

    # LMFT continues from the pre-trained checkpoint: one more epoch of the same samples
    lmft = subprocess.run([*cmd[:-1], "exp/tiny/lmft/model.pt"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert lmft.returncode == 0, lmft.stdout + lmft.stderr
    with (work / "exp/tiny/lmft/train_log.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert int(rows[0]["step"]) == 30 and float(rows[0]["margin"]) == 0.4
