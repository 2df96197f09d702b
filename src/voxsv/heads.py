"""Classification heads for training extractors: plain linear and margin softmaxes (SPEC 3).

Margin heads normalise embeddings and class weights and compute cos(theta) in fp32 with autocast
off, clipped to [-1, 1], so fp16/bf16 training never sees NaN or inf at cos = +-1. `scale` and
`margin` are properties backed by buffers: setting them every step does not recompile a
`torch.compile`d head and needs no host-device sync.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# sin(theta) = sqrt(max(1 - cos^2, SIN_EPS)): bounds d sin / d cos (at most 1/(2*sqrt(SIN_EPS))
# = 500) where cos = +-1 exactly; changes the logit by less than 1e-3 * sin(m) * scale.
SIN_EPS = 1e-6

MARGIN_KINDS = ("am", "aam", "arcface", "cm", "cm_voxsrc2020", "sc_cm", "sc_am")
HEAD_KINDS = ("linear", *MARGIN_KINDS)


@torch.no_grad()
def tf_orthogonal_(weight: torch.Tensor, subcenters: int) -> torch.Tensor:
    """Orthogonal init of the original's kernel [K, D, C] as TF's orthogonal initializer does it.

    TF flattens all dims but the last into a (K*D) x C matrix M and makes its columns
    orthonormal (K*D >= C) or its rows (K*D < C); torch's `orthogonal_` on a 2-D matrix does
    the same, so M is drawn with it and stored in voxsv's layout:
    weight[c*K + k] = M[k*D:(k+1)*D, c].
    """
    rows, dim = weight.shape
    classes = rows // subcenters
    m = torch.empty(subcenters * dim, classes, dtype=weight.dtype, device=weight.device)
    m = nn.init.orthogonal_(m)
    return weight.copy_(m.view(subcenters, dim, classes).permute(2, 0, 1).reshape(rows, dim))


class LinearHead(nn.Module):
    """Plain bias-free dense layer to class logits; margin and labels are ignored."""

    def __init__(self, embedding_dim: int, num_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        tf_orthogonal_(self.weight, subcenters=1)
        self.scale = 1.0
        self.margin = 0.0

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, dim) -> (batch, classes) fp32 logits."""
        with torch.autocast(embeddings.device.type, enabled=False):
            return embeddings.float() @ self.weight.float().t()


class MarginHead(nn.Module):
    """Cosine head with a margin on the target class; `subcenters` > 1 takes the max per class.

    Target logit for cos c = cos(theta), a = margin: `am` s(c - a); `cm` and `aam` (the
    original's `aam_linear` also subtracts a^2/2) s(cos(theta + a) - a^2/2); `arcface` (plain
    ArcFace) s cos(theta + a); `cm_voxsrc2020` s(cos(theta + a) - a/2); `sc_cm` / `sc_am` as
    `cm` / `am` on the best of K sub-centres. Where theta + a would pass pi, cos(theta + a)
    stops decreasing; as in insightface / wespeaker it is replaced by c - a sin(a), which keeps
    the target logit monotonic in theta (SPEC is silent on this edge).
    """

    def __init__(
        self, kind: str, embedding_dim: int, num_classes: int, scale: float, margin: float,
        subcenters: int,
    ) -> None:
        super().__init__()
        if kind not in MARGIN_KINDS:
            raise ValueError(f"unknown margin head {kind!r}; expected one of {HEAD_KINDS}")
        if subcenters < 1:
            raise ValueError(f"subcenters must be >= 1, got {subcenters}")
        self.kind, self.num_classes, self.subcenters = kind, num_classes, subcenters
        self.weight = nn.Parameter(torch.empty(num_classes * subcenters, embedding_dim))
        tf_orthogonal_(self.weight, subcenters)
        self.register_buffer("_scale", torch.tensor(0.0), persistent=False)
        self.register_buffer("_margin", torch.tensor(0.0), persistent=False)
        self.scale, self.margin = scale, margin

    @property
    def scale(self) -> float:
        """Logit scale s."""
        return self._scale_value

    @scale.setter
    def scale(self, value: float) -> None:
        self._scale_value = float(value)
        self._scale.fill_(value)

    @property
    def margin(self) -> float:
        """Margin m on the target class (0 = plain scaled cosine)."""
        return self._margin_value

    @margin.setter
    def margin(self, value: float) -> None:
        self._margin_value = float(value)
        self._margin.fill_(value)

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(batch, dim) -> (batch, classes) fp32 cos(theta), max over sub-centres, in [-1, 1]."""
        x = F.normalize(embeddings.float(), dim=1)
        w = F.normalize(self.weight.float(), dim=1)
        cos = (x @ w.t()).clamp(-1.0, 1.0)
        if self.subcenters > 1:
            cos = cos.view(-1, self.num_classes, self.subcenters).amax(dim=2)
        return cos

    def target_logit(self, cos: torch.Tensor) -> torch.Tensor:
        """The margin-adjusted cos of the target class (before scaling)."""
        m = self._margin.float()
        if self.kind in ("am", "sc_am"):
            return cos - m
        sin = torch.sqrt((1.0 - cos * cos).clamp(min=SIN_EPS))
        shifted = cos * torch.cos(m) - sin * torch.sin(m)
        # theta + m > pi  <=>  cos < cos(pi - m) = -cos(m)
        shifted = torch.where(cos > -torch.cos(m), shifted, cos - m * torch.sin(m))
        if self.kind in ("cm", "sc_cm", "aam"):
            return shifted - m * m / 2
        if self.kind == "cm_voxsrc2020":
            return shifted - m / 2
        return shifted

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, dim), (batch,) class ids or None -> (batch, classes) fp32 logits."""
        with torch.autocast(embeddings.device.type, enabled=False):
            cos = self.cosine(embeddings)
            if labels is not None:
                target = cos.gather(1, labels.view(-1, 1))
                cos = cos.scatter(1, labels.view(-1, 1), self.target_logit(target))
            return self._scale.float() * cos


def build_head(
    kind: str, embedding_dim: int, num_classes: int, scale: float = 32.0, margin: float = 0.2,
    subcenters: int = 2,
) -> nn.Module:
    """Head by name: linear or one of MARGIN_KINDS (K sub-centres for sc_*)."""
    if kind == "linear":
        return LinearHead(embedding_dim, num_classes)
    k = subcenters if kind.startswith("sc_") else 1
    return MarginHead(kind, embedding_dim, num_classes, scale, margin, k)
