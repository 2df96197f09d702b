"""Speaker-embedding extractors: TDNN, Res2Net and DPN families and the published zoo.

`build_model(spec, num_mel_bins)` takes a config entry: `{"arch": <zoo name>}` for a published
model, or `{"arch": "tdnn"|"res2net"|"dpn", ...}` with the family's constructor parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from voxsv.models.dpn import DPN, dpn68
from voxsv.models.res2net import (
    Res2Net,
    res2net50_w8_s6_c16,
    res2net50_w24_s4_c32,
    res2net50_w24_s4_c64,
    res2net101_w24_s4_c32_att,
    res2net152_w24_s4_c32_att,
    res2net200_w24_s4_c32_att,
)
from voxsv.models.tdnn import TDNN, tdnn

__all__ = ["FAMILIES", "ZOO", "build_model"]

ZOO: dict[str, Callable[[int], nn.Module]] = {
    f.__name__: f
    for f in (
        tdnn,
        res2net50_w24_s4_c64,
        res2net50_w24_s4_c32,
        res2net50_w8_s6_c16,
        res2net101_w24_s4_c32_att,
        res2net152_w24_s4_c32_att,
        res2net200_w24_s4_c32_att,
        dpn68,
    )
}
FAMILIES: dict[str, type[nn.Module]] = {"tdnn": TDNN, "res2net": Res2Net, "dpn": DPN}


def build_model(spec: Mapping[str, Any], num_mel_bins: int) -> nn.Module:
    """Build an extractor from a config spec; errors name the offending arch or key."""
    if "arch" not in spec:
        raise ValueError(f"model spec {dict(spec)} has no 'arch'")
    arch, params = spec["arch"], {k: v for k, v in spec.items() if k != "arch"}
    if arch in FAMILIES:
        try:
            return FAMILIES[arch](num_mel_bins, **params)
        except TypeError as err:
            raise ValueError(f"model spec for arch {arch!r}: {err}") from err
    if arch in ZOO:
        if params:
            raise ValueError(f"zoo model {arch!r} takes no parameters, got {sorted(params)}")
        return ZOO[arch](num_mel_bins)
    known = sorted(set(ZOO) | set(FAMILIES))
    raise ValueError(f"unknown model arch {arch!r}; expected one of {known}")
