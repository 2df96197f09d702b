"""Mixed precision: autocast dtype and loss scaler per device and config."""

from __future__ import annotations

import torch

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype (None = fp32): `auto` is fp16 on CUDA and fp32 on CPU."""
    if precision == "auto":
        precision = "fp16" if device.type == "cuda" else "fp32"
    if precision not in DTYPES:
        raise ValueError(f"train.precision must be auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("train.precision fp16 needs CUDA; use bf16 or fp32 on CPU")
    return DTYPES[precision]


def make_scaler(dtype: torch.dtype | None, device: torch.device) -> torch.amp.GradScaler:
    """Dynamic loss scaling for fp16; a disabled (pass-through) scaler otherwise."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


class SkipGuard:
    """Counts optimizer steps skipped for inf/NaN gradients; raises when they persist."""

    def __init__(self, limit: int, total: int = 0) -> None:
        self.limit = limit
        self.total = total
        self.consecutive = 0

    def record(self, skipped: bool, step: int) -> None:
        """Note whether `step` was skipped; stop training after `limit` skips in a row."""
        self.total += int(skipped)
        self.consecutive = self.consecutive + 1 if skipped else 0
        if self.consecutive > self.limit:
            raise FloatingPointError(
                f"{self.consecutive} optimizer steps in a row up to step {step} had inf/NaN "
                f"gradients (train.max_skipped_steps = {self.limit}); training diverged: lower "
                "the learning rate or use precision fp32/bf16"
            )
