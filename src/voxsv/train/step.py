"""One optimizer step as the original takes it (SPEC section 4): gradients of `accumulation`
micro-batches averaged (and averaged over ranks by DDP), plus the gradient of the L2 loss term,
then clipped to a global norm, then plain SGD with momentum; fp16 steps with inf/NaN skipped."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def decayed_weights(net: nn.Module) -> list[nn.Parameter]:
    """The weights the original regularises: every conv, dense and head kernel (ndim > 1).

    voxsv's networks have no biases and no batch-norm scales, so this is every parameter.
    """
    return [p for p in net.parameters() if p.requires_grad and p.ndim > 1]


@torch.no_grad()
def add_l2_gradient(weights: list[nn.Parameter], coefficient: float) -> None:
    """Add the gradient of coefficient * sum(w^2) / 2 (TF `l2_regularizer`) to each weight's.

    The original adds that term to the loss of every micro-batch (scaled by 1/accumulation like
    the rest) and all-reduces the sum, so the averaged gradient gets coefficient * w exactly
    once; adding it here, after the average and before clipping, is the same gradient without
    differentiating the term on every micro-step.
    """
    for w in weights:
        if w.grad is None:
            w.grad = coefficient * w.detach().clone()
        else:
            w.grad.add_(w, alpha=coefficient)


class OptimizerStep:
    """Takes optimizer steps for `net` (through `model`, its DDP wrapper or itself)."""

    def __init__(
        self, net: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler, dtype: torch.dtype | None, device: torch.device,
        accumulation: int, clip_norm: float, weight_decay: float,
    ) -> None:
        self.net, self.model, self.optimizer, self.scaler = net, model, optimizer, scaler
        self.dtype, self.device, self.accumulation = dtype, device, accumulation
        self.clip_norm, self.weight_decay = clip_norm, weight_decay
        self.weights = decayed_weights(net)

    def __call__(
        self, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """One step over `accumulation` micro-batches: (mean loss, mean accuracy, applied)."""
        self.optimizer.zero_grad(set_to_none=True)
        totals = torch.zeros(2, device=self.device)
        for micro in range(self.accumulation):
            feats, labels = next(batches)
            feats = feats.to(self.device, non_blocking=True)
            labels = labels.to(self.device, non_blocking=True)
            last = micro == self.accumulation - 1
            # DDP all-reduces gradients only on the last micro-step of an optimizer step.
            skip_sync = not last and isinstance(self.model, DistributedDataParallel)
            with self.model.no_sync() if skip_sync else contextlib.nullcontext():
                with torch.autocast(self.device.type, self.dtype, enabled=bool(self.dtype)):
                    logits = self.model(feats, labels)
                loss = F.cross_entropy(logits.float(), labels)
                self.scaler.scale(loss / self.accumulation).backward()
            accuracy = (logits.argmax(dim=1) == labels).float().mean()
            totals += torch.stack([loss.detach(), accuracy.detach()]) / self.accumulation
        return totals[0], totals[1], self._apply()

    def _apply(self) -> bool:
        """Unscale, add the L2 gradient, clip to the global norm, step unless inf/NaN."""
        self.scaler.unscale_(self.optimizer)
        add_l2_gradient(self.weights, self.weight_decay)
        norm = nn.utils.clip_grad_norm_(self.net.parameters(), self.clip_norm)
        finite = bool(torch.isfinite(norm))
        if finite or self.scaler.is_enabled():
            self.scaler.step(self.optimizer)  # an enabled scaler skips inf/NaN steps itself
        self.scaler.update()
        return finite
