"""Building blocks shared by every extractor: batch norm, initialisation, pooling, embedding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# TF1 batch norm decay 0.997 is a PyTorch momentum of 1 - 0.997; the original had no affine
# parameters (center=False, scale=False) and eps 1e-5 (SPEC section 2).
BN_MOMENTUM = 0.003
BN_EPS = 1e-5
# Statistics pooling adds this to the variance before the square root (SPEC section 2).
STD_EPS = 1e-5
# TF1 `variance_scaling_initializer` draws from a normal truncated at two standard deviations
# and divides the stddev by this constant so that the truncated draw has variance scale/fan_in.
TRUNCATED_NORMAL_STD = 0.87962566103423978


def batch_norm1d(channels: int) -> nn.BatchNorm1d:
    """1-D batch norm without learnable scale/shift, TF1 momentum."""
    return nn.BatchNorm1d(channels, eps=BN_EPS, momentum=BN_MOMENTUM, affine=False)


def batch_norm2d(channels: int) -> nn.BatchNorm2d:
    """2-D batch norm without learnable scale/shift, TF1 momentum."""
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM, affine=False)


def set_bn_momentum(module: nn.Module, momentum: float) -> None:
    """Set the running-average momentum of every batch norm in `module`.

    The recipe's 0.003 averages over the last ~330 of its ~120k steps; a schedule of a few
    hundred steps needs a larger momentum, or the running statistics that evaluation uses stay
    near their initial values (0 mean, unit variance) and the embeddings suffer.
    """
    if not 0.0 < momentum <= 1.0:
        raise ValueError(f"bn_momentum must be in (0, 1], got {momentum}")
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum


def variance_scaling_(weight: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """TF1 variance scaling (fan-in, truncated normal) in place; fan-in = in/groups x kernel."""
    fan_in = weight[0].numel()
    std = math.sqrt(scale / fan_in) / TRUNCATED_NORMAL_STD
    return nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


def init_weights(module: nn.Module) -> None:
    """Initialise every conv and dense weight of `module` by TF1 variance scaling."""
    for m in module.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear):
            variance_scaling_(m.weight)


def tf_same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow 'SAME' padding of one axis: (before, after), the odd pixel after.

    Output size ceil(size / stride); total = max((out - 1) * stride + (kernel - 1) * dilation
    + 1 - size, 0), before = total // 2. Stride 2 on an even size pads 0 before and 1 after,
    which no symmetric PyTorch `padding` reproduces.
    """
    # `size` is symbolic under torch.export / compile with a dynamic time axis: only
    # non-negative floor divisions (ONNX's integer Div truncates) and sym_max (Python's max
    # would specialise the graph on the example input's size).
    out = (size + stride - 1) // stride
    total = torch.sym_max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class TFSameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding computed from the input size (any stride)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, padding=0, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad each spatial axis as TF 'SAME' would, then convolve without padding.

        Always pads (possibly by 0): branching on the amount would fix an exported graph's
        padding to the parity of the example input's length.
        """
        top, bottom = tf_same_padding(x.shape[-2], self.kernel_size[0], self.stride[0],
                                      self.dilation[0])
        left, right = tf_same_padding(x.shape[-1], self.kernel_size[1], self.stride[1],
                                      self.dilation[1])
        return super().forward(F.pad(x, (left, right, top, bottom)))


def mean_std(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, C, time, F) -> fp32 mean and sqrt(var + 1e-5) over time, each (batch, C, 1, F).

    Computed in fp32 even under autocast (squares of fp16 activations overflow).
    """
    with torch.autocast(x.device.type, enabled=False):
        var, mean = torch.var_mean(x.float(), dim=2, keepdim=True, correction=0)
        return mean, torch.sqrt(var + STD_EPS)


def flatten_stats(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Two (batch, C, 1, F) -> (batch, 2*C*F): every channel-frequency mean, then every std."""
    return torch.cat([mean.flatten(1), std.flatten(1)], dim=1)


class StatsPooling(nn.Module):
    """Statistics pooling over time only: mean and std of every channel-frequency pair."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, C, time, F) -> (batch, 2*C*F); a 1-D model passes F = 1."""
        return flatten_stats(*mean_std(x))


class AttentiveStatsPooling(nn.Module):
    """Attentive statistics pooling over time, per channel and frequency (SPEC section 2).

    The attention sees x concatenated with its global mean and std over time (tiled):
    1x1 conv to `hidden` -> tanh -> 1x1 conv back to `channels` -> softmax over time, one weight
    sequence per channel-frequency pair (the 1x1 convs are shared across frequencies). Pooled:
    weighted mean and sqrt(E_w[x^2] - mean^2 + 1e-5). Statistics and softmax run in fp32.
    """

    def __init__(self, channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.Conv2d(3 * channels, hidden, 1, bias=False),
            nn.Tanh(),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, C, time, F) -> (batch, 2*C*F)."""
        frames = x.shape[2]
        mean, std = (s.to(x.dtype).expand(-1, -1, frames, -1) for s in mean_std(x))
        logits = self.attention(torch.cat([x, mean, std], dim=1))
        with torch.autocast(x.device.type, enabled=False):
            weights = torch.softmax(logits.float(), dim=2)
            xf = x.float()
            mean = torch.sum(weights * xf, dim=2, keepdim=True)
            power = torch.sum(weights * xf * xf, dim=2, keepdim=True)
            std = torch.sqrt((power - mean * mean).clamp(min=0.0) + STD_EPS)
            return flatten_stats(mean, std)


def build_pooling(kind: str, channels: int, hidden: int = 128) -> nn.Module:
    """Pooling layer by name: `stats` or `attentive`."""
    if kind == "stats":
        return StatsPooling()
    if kind == "attentive":
        return AttentiveStatsPooling(channels, hidden)
    raise ValueError(f"unknown pooling {kind!r}; expected 'stats' or 'attentive'")


class Embedding(nn.Sequential):
    """Pooled statistics -> BN -> dense(out_dim) -> BN; the last BN's output is the embedding."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(batch_norm1d(in_dim), nn.Linear(in_dim, out_dim, bias=False),
                         batch_norm1d(out_dim))
