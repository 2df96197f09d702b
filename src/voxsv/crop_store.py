"""The training crop store of one FBANK shard: every cut's whole-utterance sliding CMN, once.

Sliding CMN with a centred window is a function of the utterance alone, and voxsv.features
computes it exactly, so slicing these rows gives a crop bit for bit equal to one normalised at
read time (voxsv.data.LilcomRows): the loader slices a memory map instead of decoding lilcom
chunks and normalising every crop. The rows (voxsv.cmn_storage) are renamed into place before
the manifest, so a present manifest means a whole store.
"""

from __future__ import annotations

import os
from pathlib import Path

from lhotse import CutSet, Features, load_manifest_lazy
from lhotse.cut import MonoCut
from lhotse.utils import fastcopy

from voxsv.atomic import atomic_path
from voxsv.cmn_storage import FEATURES_TYPE, STORAGE_TYPE, CmnRowsWriter
from voxsv.data import LILCOM, DataError, LilcomRows, load_utterances


def write_store(fbank_manifest: str | os.PathLike, manifest: str | os.PathLike,
                rows: str | os.PathLike, cmn_window: int) -> int:
    """Write the sliding CMN (window `cmn_window`) of every cut of a lilcom FBANK manifest to
    `rows` (.npy), then its CutSet to `manifest`; returns the number of cuts."""
    utts = load_utterances([fbank_manifest])
    if utts.storage_type != LILCOM:
        raise DataError(f"{fbank_manifest}: a crop store is written from {LILCOM} FBANK "
                        f"archives, not from {utts.storage_type}")
    normalised = LilcomRows(utts, cmn_window)
    with atomic_path(manifest, suffix=".jsonl.gz") as tmp_manifest:
        with atomic_path(rows, suffix=".npy") as tmp_rows:
            with CmnRowsWriter(tmp_rows) as writer, CutSet.open_writer(tmp_manifest) as cuts:
                for utt, cut in enumerate(load_manifest_lazy(fbank_manifest)):
                    num_frames = int(utts.num_frames[utt])
                    key = writer.write(cut.id, normalised(utt, 0, num_frames))
                    cuts.write(_stored(cut, num_frames, key, rows, cmn_window))
    return len(utts)


def _stored(cut: MonoCut, num_frames: int, key: str, rows: str | os.PathLike,
            cmn_window: int) -> MonoCut:
    """The cut with its features in the store (the manifest names the final rows path)."""
    source = cut.features
    features = Features(
        type=FEATURES_TYPE,
        num_frames=num_frames,
        num_features=source.num_features,
        frame_shift=source.frame_shift,
        sampling_rate=source.sampling_rate,
        start=cut.start,
        duration=round(num_frames * source.frame_shift, 6),
        storage_type=STORAGE_TYPE,
        storage_path=str(Path(rows)),
        storage_key=key,
        recording_id=source.recording_id,
        channels=source.channels,
    )
    return fastcopy(cut, features=features, custom={**(cut.custom or {}), "cmn_window": cmn_window})
