"""Learning-rate and margin schedules per optimizer step (SPEC section 4).

`step` is the number of optimizer steps this stage has already taken when the rate and margin
are used: the original read TF's global_step in the forward pass and in the update, and
`apply_gradients` increments it only after the update, so its first step runs at step 0.
Step numbers count from the start of a stage; E is the stage's optimizer steps per epoch.

The original ran LMFT as a continuation whose first step sat on pre-training's last
(inclusive) boundary, 23E: that one step still used the last decayed rate base * 0.5^10 and
gradients accumulated across the stage switch. voxsv starts LMFT cleanly at base / 128 from
its first step (one step in 5,332 differs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """The recipe's schedule of one stage (the original's `warmup_constant_exponential_decay`
    and `zero_linear_constant`, staircase); `constant_until_epoch=None` never decays the rate.

    With W = warmup_epochs * E, C = constant_until_epoch * E, F = margin_full_epoch * E:
    lr = base * step / W for step <= W; base for W < step <= C; base * 0.5^ceil((step - C) / E)
    after C; the stage's rate is that divided by lr_divisor (128 in LMFT). Margin: 0 for
    step <= W; m * ceil((step - W) / E) / (F/E - W/E) for W < step <= F; m after F. A stage
    without warm-up (W = 0, LMFT) starts mid-recipe, so its margin is m from its first step
    when F = W.
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
        if self.constant_until_epoch is not None and self.constant_until_epoch < self.warmup_epochs:
            raise ValueError("constant_until_epoch must not be before warmup_epochs")

    def lr(self, step: int) -> float:
        """Learning rate of the optimizer step taken after `step` steps of this stage."""
        return self._recipe_lr(step) / self.lr_divisor

    def _recipe_lr(self, step: int) -> float:
        """SPEC's base-scaled rate before the stage divisor."""
        e = self.steps_per_epoch
        warmup = self.warmup_epochs * e
        if warmup > 0 and step <= warmup:
            return self.base_lr * step / warmup
        if self.constant_until_epoch is None or step <= self.constant_until_epoch * e:
            return self.base_lr
        halvings = math.ceil((step - self.constant_until_epoch * e) / e)
        return self.base_lr * 0.5**halvings

    def margin_at(self, step: int) -> float:
        """Margin of the optimizer step taken after `step` steps of this stage."""
        e = self.steps_per_epoch
        warmup, full = self.warmup_epochs * e, self.margin_full_epoch * e
        if warmup > 0 and step <= warmup:
            return 0.0
        if step > full or full == warmup:
            return self.margin
        stairs = math.ceil((step - warmup) / e)
        return self.margin * stairs / (self.margin_full_epoch - self.warmup_epochs)
