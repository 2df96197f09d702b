"""Helpers for the loader and training tests: tiny lilcom-chunky FBANK archives and settings.

(No tests here; the loader and training tests import these.)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from itertools import cycle
from pathlib import Path
from typing import Any

import numpy as np
from lhotse import CutSet, MonoCut, SupervisionSegment
from lhotse.features import Features
from lhotse.features.io import LilcomChunkyWriter

BINS = 80
TINY_TDNN = {
    "arch": "tdnn", "channels": [16, 16, 16, 16, 32], "kernels": [5, 3, 3, 1, 1],
    "dilations": [1, 2, 3, 1, 1], "embedding_dim": 16,
}


def make_archive(
    path: Path, speakers: int = 4, per_speaker: int = 6, frames: tuple[int, int] = (120, 420),
    seed: int = 0, bins: int = BINS, lengths: Sequence[int] | None = None,
) -> tuple[Path, dict[str, np.ndarray]]:
    """Write a CutSet (`path`, .jsonl.gz) of speaker-dependent random FBANK; return it and feats.

    Each speaker has its own mean spectrum, so a classifier can learn the labels; lengths vary
    around the 200-frame crop so both cropping and zero-padding occur (or are `lengths`, in
    turn, where given).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 2.0, size=(speakers, bins))
    cuts, feats = [], {}
    fixed = cycle(lengths or [0])
    with LilcomChunkyWriter(path.with_suffix("").with_suffix(".lca")) as writer:
        for s in range(speakers):
            spk = f"id{10001 + s}"
            for u in range(per_speaker):
                n = int(rng.integers(*frames)) if lengths is None else next(fixed)
                x = (means[s] + rng.normal(0, 1.0, size=(n, bins)) + 10).astype(np.float32)
                cut_id = f"{spk}/vid{u}/{u:05d}"
                key = writer.write(cut_id, x)
                feats[cut_id] = x
                cuts.append(_cut(cut_id, spk, n, bins, writer.storage_path, key))
    CutSet.from_cuts(cuts).to_file(path)
    return path, feats


def _cut(cut_id: str, spk: str, n: int, bins: int, storage: str, key: str) -> MonoCut:
    duration = n * 0.01
    features = Features(
        type="fbank", num_frames=n, num_features=bins, frame_shift=0.01, sampling_rate=16000,
        start=0.0, duration=duration, storage_type="lilcom_chunky", storage_path=storage,
        storage_key=key, recording_id=cut_id, channels=0,
    )
    sup = SupervisionSegment(id=cut_id, recording_id=cut_id, start=0.0, duration=duration,
                             speaker=spk)
    return MonoCut(id=cut_id, start=0.0, duration=duration, channel=0, features=features,
                   supervisions=[sup])


TRAIN = {
    "head": {"type": "sc_cm", "scale": 32.0, "subcenters": 2},
    "momentum": 0.9, "weight_decay": 1.0e-3, "clip_grad_norm": 1.0, "precision": "fp32",
    "checkpoint_every_steps": 2, "log_every_steps": 1, "num_workers": 0, "seed": 7,
    "skip_fraction": 0.1, "max_skipped_steps": 5, "retries": 1,
    "pretrain": {
        "copies": ["clean"], "crop_frames": 200, "batch_per_gpu": 8, "gpus": 0,
        "cpu_processes": 1, "global_batch": 8, "epochs": 4, "steps_per_epoch": 2,
        "warmup_epochs": 1, "constant_until_epoch": 2, "margin_full_epoch": 3, "margin": 0.2,
        "lr_per_128": 0.08, "lr_divisor": 1,
        "resources": {"cpus": 1, "mem_mb": 2000, "runtime": 10},
    },
    "lmft": {
        "copies": ["clean"], "crop_frames": 300, "batch_per_gpu": 4, "gpus": 0,
        "cpu_processes": 1, "global_batch": 8, "epochs": 1, "steps_per_epoch": None,
        "warmup_epochs": 0, "constant_until_epoch": None, "margin_full_epoch": 0, "margin": 0.4,
        "lr_per_128": 0.08, "lr_divisor": 128,
        "resources": {"cpus": 1, "mem_mb": 2000, "runtime": 10},
    },
}


def settings(tmp: Path, archive: Path, stage: str = "pretrain", **stage_overrides: Any) -> dict:
    """A RunSettings dict for a tiny TDNN on `archive`, run directory under `tmp`."""
    train = copy.deepcopy(TRAIN)
    train[stage].update(stage_overrides)
    run_dir = tmp / "exp" / "tiny" / stage
    return {
        "alias": "tiny", "stage": stage, "model": TINY_TDNN, "num_mel_bins": BINS,
        "cmn_window": 300, "dither": 1.0, "train": train, "archives": [str(archive)],
        "init": str(tmp / "exp" / "tiny" / "pretrain" / "model.pt") if stage == "lmft" else None,
        "run_dir": str(run_dir), "out": str(run_dir / "model.pt"),
    }


def free_port() -> int:
    """A TCP port that is free now (for a test's process group rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddp_rank(rank: int, world: int, port: int, run_settings: dict, out_dir: str) -> None:
    """One rank of a gloo job (as torchrun would start it); saves its final parameters."""
    import os

    import torch

    from voxsv.train.loop import run
    from voxsv.train.settings import RunSettings

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    net = run(RunSettings.from_dict(run_settings))
    torch.save(dict(net.named_parameters()), Path(out_dir) / f"rank{rank}.pt")
