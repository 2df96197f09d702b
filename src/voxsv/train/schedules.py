"""Learning-rate and margin schedules per optimizer step (SPEC section 4).

Step numbers count from the start of a stage (LMFT's step 0 is pre-training's last step);
E is the stage's number of optimizer steps per epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """The recipe's schedule of one stage; `constant_until_epoch=None` never decays the rate.

    Learning rate: linear warm-up 0 -> base over [0, warmup_epochs*E), constant until
    constant_until_epoch*E, then base * 0.5^ceil((step - C*E) / E). The stage's rate is
    base / lr_divisor (128 in LMFT). Margin: 0 for epochs < warmup_epochs, then rising in
    per-epoch steps linearly to the full margin at margin_full_epoch, constant after.
    """

    base_lr: float
    steps_per_epoch: int
    warmup_epochs: int
    constant_until_epoch: int | None
    margin: float
    margin_full_epoch: int
    lr_divisor: float = 1.0

    def __post_init__(self) -> None:
        if self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {self.steps_per_epoch}")
        if self.margin_full_epoch < self.warmup_epochs:
            raise ValueError("margin_full_epoch must not be before warmup_epochs")

    def lr(self, step: int) -> float:
        """Learning rate used by optimizer step `step`."""
        return self._recipe_lr(step) / self.lr_divisor

    def _recipe_lr(self, step: int) -> float:
        """SPEC's base-scaled rate before the stage divisor."""
        e = self.steps_per_epoch
        warmup = self.warmup_epochs * e
        if step < warmup:
            return self.base_lr * step / warmup
        if self.constant_until_epoch is None or step <= self.constant_until_epoch * e:
            return self.base_lr
        halvings = math.ceil((step - self.constant_until_epoch * e) / e)
        return self.base_lr * 0.5**halvings

    def margin_at(self, step: int) -> float:
        """Margin used by optimizer step `step`."""
        epoch = step // self.steps_per_epoch
        if epoch >= self.margin_full_epoch:
            return self.margin
        if epoch <= self.warmup_epochs:
            return 0.0
        return self.margin * (epoch - self.warmup_epochs) / (
            self.margin_full_epoch - self.warmup_epochs
        )
