"""Checkpoints: atomic, loadable with `torch.load(weights_only=True)`, newest one resumed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from voxsv.atomic import atomic_path

_NAME = re.compile(r"^step(\d+)\.pt$")
KEEP = 2  # checkpoints kept in a run's directory (the newest ones)


def save(state: dict[str, Any], path: Path) -> None:
    """Write `state` to `path` atomically (a killed job never leaves a partial file)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint with weights_only=True (no code runs from the file)."""
    return torch.load(path, map_location=device, weights_only=True)


def step_path(directory: Path, step: int) -> Path:
    """Where the checkpoint after optimizer step count `step` goes."""
    return directory / f"step{step:09d}.pt"


def latest(directory: Path) -> Path | None:
    """The checkpoint with the highest step count in `directory`, if any."""
    found = [(int(m[1]), p) for p in directory.glob("step*.pt") if (m := _NAME.match(p.name))]
    return max(found)[1] if found else None


def prune(directory: Path, keep: int = KEEP) -> None:
    """Delete all but the `keep` newest checkpoints (each one holds weights and momentum)."""
    found = sorted((int(m[1]), p) for p in directory.glob("step*.pt") if (m := _NAME.match(p.name)))
    for _, path in found[:-keep]:
        path.unlink(missing_ok=True)


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The torch generators' states (data randomness is position-hashed, see voxsv.data)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    """Restore what `rng_state` saved."""
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)
