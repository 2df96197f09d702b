"""Trainable parameter counts of every zoo model, with and without the head."""

from __future__ import annotations

import torch
from torch import nn

from voxsv.heads import build_head
from voxsv.models import ZOO

# The training head of the recipe: sub-centre combined margin, K = 2, 5,994 VoxCeleb2 speakers.
NUM_SPEAKERS = 5994
HEAD_KIND, SUBCENTERS = "sc_cm", 2


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters (BN without affine contributes none)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def params_table(num_mel_bins: int) -> str:
    """TSV: model, bins, params, params_with_head, one row per zoo model."""
    rows = ["model\tbins\tparams\tparams_with_head"]
    for name, factory in ZOO.items():
        with torch.device("meta"):  # shapes only: skips allocation and initialisation
            model = factory(num_mel_bins)
            head = build_head(HEAD_KIND, model.embedding_dim, NUM_SPEAKERS, subcenters=SUBCENTERS)
        params = count_params(model)
        rows.append(f"{name}\t{num_mel_bins}\t{params}\t{params + count_params(head)}")
    return "\n".join(rows) + "\n"
