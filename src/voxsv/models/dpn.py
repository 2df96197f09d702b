"""Dual Path Network extractors (2-D: H = time, W = mel bins) in the manner of resnet.py.

Each block's output is one tensor: the first `bw` channels are the residual path (summed),
the rest the densely connected path (concatenated), as in the original DPN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxsv.models.layers import (
    BN_MOMENTUM,
    Embedding,
    StatsPooling,
    TFSameConv2d,
    batch_norm2d,
    init_weights,
    set_bn_momentum,
)
from voxsv.models.res2net import conv3x3, downsampled


class BnReluConv(nn.Sequential):
    """Pre-activation unit: BN -> ReLU -> bias-free conv with TF 'SAME' padding (original)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> None:
        # Stride 1: 'SAME' is PyTorch's padding='same'; strided: padded per input size.
        conv = (
            nn.Conv2d(in_ch, out_ch, kernel, padding="same", groups=groups, bias=False)
            if stride == 1
            else TFSameConv2d(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=False)
        )
        super().__init__(batch_norm2d(in_ch), nn.ReLU(inplace=True), conv)


class DualPathBlock(nn.Module):
    """1x1(R) -> grouped 3x3(R) -> 1x1(bw + inc); `kind` is 'proj', 'down' or 'normal'."""

    def __init__(self, in_ch: int, r: int, bw: int, inc: int, groups: int, kind: str) -> None:
        super().__init__()
        stride = 2 if kind == "down" else 1
        self.bw = bw
        self.proj = BnReluConv(in_ch, bw + 2 * inc, 1, stride) if kind != "normal" else None
        self.units = nn.Sequential(
            BnReluConv(in_ch, r, 1),
            BnReluConv(r, r, 3, stride, groups),
            BnReluConv(r, bw + inc, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in_ch, T, F) -> (batch, in_ch + inc (or bw + 3*inc if projected), T', F')."""
        paths = x if self.proj is None else self.proj(x)
        out = self.units(x)
        residual = paths[:, : self.bw] + out[:, : self.bw]
        return torch.cat([residual, paths[:, self.bw :], out[:, self.bw :]], dim=1)


class DPN(nn.Module):
    """3x3 stem -> 4 dual-path stages (strides 1, 2, 2, 2) -> BN -> ReLU -> stats -> embedding."""

    def __init__(
        self,
        num_mel_bins: int,
        stem_channels: int = 10,
        blocks: Sequence[int] = (3, 4, 12, 3),
        increments: Sequence[int] = (16, 32, 32, 64),
        base_width: int = 64,
        bottleneck: int = 128,
        groups: int = 32,
        embedding_dim: int = 256,
        bn_momentum: float = BN_MOMENTUM,
    ) -> None:
        super().__init__()
        if len(blocks) != 4 or len(increments) != 4 or min(blocks) < 1:
            raise ValueError("dpn: blocks and increments must each have 4 entries, blocks >= 1")
        self.stem = nn.Sequential(conv3x3(1, stem_channels), batch_norm2d(stem_channels),
                                  nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        in_ch = stem_channels
        for i, (count, inc) in enumerate(zip(blocks, increments, strict=True)):
            bw, r = base_width * 2**i, bottleneck * 2**i
            for j in range(count):
                kind = "normal" if j > 0 else ("proj" if i == 0 else "down")
                layers.append(DualPathBlock(in_ch, r, bw, inc, groups, kind))
                in_ch = bw + 3 * inc if j == 0 else in_ch + inc
        self.stages = nn.Sequential(*layers)
        self.post = nn.Sequential(batch_norm2d(in_ch), nn.ReLU(inplace=True))
        self.pool = StatsPooling()
        self.embedding = Embedding(2 * in_ch * downsampled(num_mel_bins), embedding_dim)
        self.embedding_dim = embedding_dim
        init_weights(self)
        set_bn_momentum(self, bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, frames, bins) -> (batch, embedding_dim)."""
        x = self.post(self.stages(self.stem(x.unsqueeze(1))))
        return self.embedding(self.pool(x))


def dpn68(num_mel_bins: int) -> DPN:
    """DPN-68: k_sec (3, 4, 12, 3), inc_sec (16, 32, 32, 64), k_r 128, 32 groups, 10-ch stem."""
    return DPN(num_mel_bins)
