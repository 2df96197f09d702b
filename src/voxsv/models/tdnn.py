"""TDNN (x-vector style) extractor: 1-D dilated convolutions over time, mel bins as channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxsv.models.layers import (
    BN_MOMENTUM,
    Embedding,
    StatsPooling,
    batch_norm1d,
    init_weights,
    set_bn_momentum,
)


class TDNN(nn.Module):
    """Conv1d layers (conv -> ReLU -> BN), statistics pooling, embedding (SPEC section 2).

    Convolutions use 'same' padding as the original (TF padding='same': total (k - 1) * d,
    the odd frame after), so the frame count is kept through the network.
    """

    def __init__(
        self,
        num_mel_bins: int,
        channels: Sequence[int] = (512, 512, 512, 512, 1536),
        kernels: Sequence[int] = (5, 3, 3, 1, 1),
        dilations: Sequence[int] = (1, 2, 3, 1, 1),
        embedding_dim: int = 256,
        bn_momentum: float = BN_MOMENTUM,
    ) -> None:
        super().__init__()
        if not len(channels) == len(kernels) == len(dilations):
            raise ValueError("tdnn: channels, kernels and dilations must have the same length")
        layers: list[nn.Module] = []
        in_ch = num_mel_bins
        for out_ch, kernel, dilation in zip(channels, kernels, dilations, strict=True):
            layers += [nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation, padding="same",
                                 bias=False),
                       nn.ReLU(inplace=True), batch_norm1d(out_ch)]
            in_ch = out_ch
        self.frames = nn.Sequential(*layers)
        self.pool = StatsPooling()
        self.embedding = Embedding(2 * in_ch, embedding_dim)
        self.embedding_dim = embedding_dim
        init_weights(self)
        set_bn_momentum(self, bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, frames, bins) -> (batch, embedding_dim)."""
        return self.embedding(self.pool(self.frames(x.transpose(1, 2)).unsqueeze(-1)))


def tdnn(num_mel_bins: int) -> TDNN:
    """The VoxSRC-2020 TDNN: 5 layers up to 1,536 channels, 256-dim embedding."""
    return TDNN(num_mel_bins)
