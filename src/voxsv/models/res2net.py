"""Res2Net extractors (2-D: H = time, W = mel bins) in the manner of torchvision's resnet.py.

One network class, one block class, and a factory function per published variant.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxsv.models.layers import (
    BN_MOMENTUM,
    Embedding,
    batch_norm2d,
    build_pooling,
    init_weights,
    set_bn_momentum,
)


def conv3x3(in_ch: int, out_ch: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution without bias, padded 1 on each side (the original's explicit padding
    before its strided convolutions; 'SAME' at stride 1)."""
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)


def downsampled(size: int, stages: int = 3) -> int:
    """Size of an axis after `stages` stride-2 3x3 convolutions (ceil(size / 2) each)."""
    for _ in range(stages):
        size = (size + 1) // 2
    return size


class Bottle2neck(nn.Module):
    """Res2Net bottleneck: 1x1 -> hierarchical 3x3 group over `scale` splits -> 1x1 (x4)."""

    expansion = 4

    def __init__(
        self, in_ch: int, planes: int, width: int, scale: int, stride: int, project: bool
    ) -> None:
        super().__init__()
        if scale < 2:
            raise ValueError(f"res2net: scale must be at least 2, got {scale}")
        self.width, self.stride = width, stride
        self.conv1 = conv1x1(in_ch, width * scale)
        self.bn1 = batch_norm2d(width * scale)
        self.convs = nn.ModuleList(conv3x3(width, width, stride) for _ in range(scale - 1))
        self.bns = nn.ModuleList(batch_norm2d(width) for _ in range(scale - 1))
        # The untouched last split must shrink like the others in a strided block. The original
        # pads the block input explicitly (1 each side) and then pools 'VALID', so the padded
        # zeros count in the average: count_include_pad=True.
        self.pool = (
            nn.AvgPool2d(3, stride, padding=1, count_include_pad=True) if stride != 1 else None
        )
        self.conv3 = conv1x1(width * scale, planes * self.expansion)
        self.bn3 = batch_norm2d(planes * self.expansion)
        self.shortcut = (
            nn.Sequential(conv1x1(in_ch, planes * self.expansion, stride),
                          batch_norm2d(planes * self.expansion))
            if project else None
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in_ch, T, F) -> (batch, 4*planes, T/stride, F/stride)."""
        parts = torch.split(self.relu(self.bn1(self.conv1(x))), self.width, dim=1)
        outs: list[torch.Tensor] = []
        for k, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            # Hierarchical residual: a split sees the previous split's output (not when strided).
            sp = parts[k] if k == 0 or self.stride != 1 else outs[-1] + parts[k]
            outs.append(self.relu(bn(conv(sp))))
        outs.append(parts[-1] if self.pool is None else self.pool(parts[-1]))
        out = self.bn3(self.conv3(torch.cat(outs, dim=1)))
        out = out + (x if self.shortcut is None else self.shortcut(x))
        return self.relu(out)


class Res2Net(nn.Module):
    """3x3 stem -> 4 Res2Net stages (strides 1, 2, 2, 2) -> pooling over time -> embedding."""

    def __init__(
        self,
        num_mel_bins: int,
        blocks: Sequence[int],
        base_channels: int,
        width: int,
        scale: int,
        embedding_dim: int,
        pooling: str = "stats",
        attention_channels: int = 128,
        bn_momentum: float = BN_MOMENTUM,
    ) -> None:
        super().__init__()
        if len(blocks) != 4 or min(blocks) < 1:
            raise ValueError(f"res2net: blocks must be 4 positive counts, got {list(blocks)}")
        self.stem = nn.Sequential(conv3x3(1, base_channels), batch_norm2d(base_channels),
                                  nn.ReLU(inplace=True))
        stages: list[nn.Module] = []
        in_ch = base_channels
        for i, count in enumerate(blocks):
            planes, stride = base_channels * 2**i, 1 if i == 0 else 2
            layer = []
            for j in range(count):
                layer.append(Bottle2neck(in_ch, planes, width * 2**i, scale,
                                         stride if j == 0 else 1, project=j == 0))
                in_ch = planes * Bottle2neck.expansion
            stages.append(nn.Sequential(*layer))
        self.stages = nn.Sequential(*stages)
        self.pool = build_pooling(pooling, in_ch, attention_channels)
        self.embedding = Embedding(2 * in_ch * downsampled(num_mel_bins), embedding_dim)
        self.embedding_dim = embedding_dim
        init_weights(self)
        set_bn_momentum(self, bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, frames, bins) -> (batch, embedding_dim)."""
        x = self.stages(self.stem(x.unsqueeze(1)))
        return self.embedding(self.pool(x))


def res2net50_w24_s4_c64(num_mel_bins: int) -> Res2Net:
    """Res2Net-50, 64 stem channels, width 24, scale 4, statistics pooling."""
    return Res2Net(num_mel_bins, (3, 4, 6, 3), 64, 24, 4, 256, "stats")


def res2net50_w24_s4_c32(num_mel_bins: int) -> Res2Net:
    """Res2Net-50, 32 stem channels, width 24, scale 4, statistics pooling."""
    return Res2Net(num_mel_bins, (3, 4, 6, 3), 32, 24, 4, 256, "stats")


def res2net50_w8_s6_c16(num_mel_bins: int) -> Res2Net:
    """Res2Net-50, 16 stem channels, width 8, scale 6, 192-dim embedding."""
    return Res2Net(num_mel_bins, (3, 4, 6, 3), 16, 8, 6, 192, "stats")


def res2net101_w24_s4_c32_att(num_mel_bins: int) -> Res2Net:
    """Res2Net-101, 32 stem channels, width 24, scale 4, attentive statistics pooling."""
    return Res2Net(num_mel_bins, (3, 4, 23, 3), 32, 24, 4, 256, "attentive")


def res2net152_w24_s4_c32_att(num_mel_bins: int) -> Res2Net:
    """Res2Net-152, 32 stem channels, width 24, scale 4, attentive statistics pooling."""
    return Res2Net(num_mel_bins, (3, 8, 36, 3), 32, 24, 4, 256, "attentive")


def res2net200_w24_s4_c32_att(num_mel_bins: int) -> Res2Net:
    """Res2Net-200, 32 stem channels, width 24, scale 4, attentive statistics pooling."""
    return Res2Net(num_mel_bins, (3, 24, 36, 3), 32, 24, 4, 256, "attentive")
