"""Feature settings an extractor was trained with, kept in its model file, and the network input
they give an audio file: the input the pipeline's evaluation gives the same utterance.

model.pt stores them as `features` = {"num_mel_bins", "cmn_window", "dither"}; model.onnx as
metadata_props `voxsv.<key>` (written by voxsv.export). The pipeline embeds VoxCeleb1 from its
FBANK archives: FBANK with Kaldi dither seeded per utterance (voxsv.featurize.utterance_seed of
the data seed and the cut id), stored lilcom-compressed, then sliding CMN. `network_input` does
the same for a file, so `voxsv embed` of a corpus file, given the data seed and the file's path
relative to the corpus root (its cut id plus suffix), equals the pipeline's embedding.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from voxsv.errors import ModelError

METADATA_PREFIX = "voxsv."
# The FBANK archives are lhotse LilcomChunkyWriter files at its default tick power: the
# pipeline's features carry that quantisation, so the command line applies it too.
STORAGE_TICK_POWER = -5


@dataclass(frozen=True)
class FeatureSettings:
    """FBANK and CMN settings of a model's input."""

    num_mel_bins: int
    cmn_window: int
    dither: float

    @classmethod
    def from_mapping(cls, values: object, source: str | os.PathLike) -> FeatureSettings:
        """Settings from a checkpoint's `features` dict; a missing or bad value names `source`."""
        if not isinstance(values, Mapping):
            raise ModelError(f"{source}: `features` is {type(values).__name__}, not a mapping")
        missing = sorted({"num_mel_bins", "cmn_window", "dither"} - set(values))
        if missing:
            raise ModelError(f"{source}: `features` lacks {missing}")
        try:
            settings = cls(
                int(values["num_mel_bins"]), int(values["cmn_window"]), float(values["dither"])
            )
        except (TypeError, ValueError) as err:
            raise ModelError(f"{source}: bad `features` value ({err})") from err
        if settings.num_mel_bins < 3 or settings.cmn_window < 0 or not settings.dither >= 0:
            raise ModelError(f"{source}: `features` out of range: {values}")
        return settings

    @classmethod
    def from_metadata(
        cls, metadata: Mapping[str, str], source: str | os.PathLike
    ) -> FeatureSettings | None:
        """Settings from ONNX metadata_props (None when the file has none)."""
        values = {
            key[len(METADATA_PREFIX) :]: value
            for key, value in metadata.items()
            if key.startswith(METADATA_PREFIX)
        }
        if not {"num_mel_bins", "cmn_window", "dither"} & set(values):
            return None
        return cls.from_mapping(values, source)

    def as_dict(self) -> dict[str, int | float]:
        """The `features` dict of a checkpoint."""
        return asdict(self)

    def to_metadata(self) -> dict[str, str]:
        """ONNX metadata_props entries."""
        return {f"{METADATA_PREFIX}{key}": str(value) for key, value in asdict(self).items()}


def stored(feats: np.ndarray) -> np.ndarray:
    """`feats` after the FBANK archive's lilcom round trip (same chunks, same tick power)."""
    import lilcom
    from lhotse import LilcomChunkyWriter
    from lhotse.features.compression import lilcom_compress_chunked

    chunks = lilcom_compress_chunked(
        feats, tick_power=STORAGE_TICK_POWER, chunk_size=LilcomChunkyWriter.CHUNK_SIZE
    )
    return np.concatenate([lilcom.decompress(chunk) for chunk in chunks]).astype(np.float32)


def network_input(
    samples: np.ndarray, settings: FeatureSettings, utterance: str, seed: int
) -> np.ndarray:
    """CMN'ed FBANK of one utterance exactly as the pipeline's archive + evaluation give it."""
    import torch

    from voxsv.features import fbank, sliding_cmn
    from voxsv.featurize import utterance_seed

    generator = torch.Generator().manual_seed(utterance_seed(seed, utterance))
    feats = fbank(samples, settings.num_mel_bins, settings.dither, generator)
    return sliding_cmn(stored(feats), settings.cmn_window)
