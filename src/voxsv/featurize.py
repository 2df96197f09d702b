"""FBANK archives per shard and copy: decode, augment by plan, Kaldi FBANK, lilcom chunky storage.

An archive is a lhotse CutSet manifest (`shard{i}.jsonl.gz`) of MonoCuts with features in a
lilcom-chunky file (`shard{i}.lca`), so a loader reads a 200-frame crop without decompressing
the utterance. Both are written under temporary names and renamed at the end, the archive
first and the manifest last: a present manifest means a complete archive.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from lhotse import CutSet, Features, LilcomChunkyWriter, Recording, SupervisionSegment
from lhotse.cut import MonoCut
from lhotse.lazy import LazyJsonlIterator

from voxsv.atomic import atomic_path
from voxsv.audio import (
    FFMPEG_EXTENSIONS,
    SAMPLE_RATE,
    AudioError,
    decode_ffmpeg_many,
    read_audio,
)
from voxsv.augment import apply_plan, generator, read_plans
from voxsv.features import fbank
from voxsv.manifests import report_bad_audio

log = logging.getLogger(__name__)

FRAME_SHIFT = 0.01
DECODE_BATCH = 64  # .m4a files per ffmpeg process: its ~60 ms start-up is ~1 ms per file


@dataclass(frozen=True)
class FbankOptions:
    """What the features depend on (config `data`)."""

    num_mel_bins: int = 80
    dither: float = 1.0
    seed: int = 0
    on_bad_audio: str = "error"


def shard_items(path: str | os.PathLike, index: int, num_shards: int) -> Iterator[dict]:
    """Stream shard `index` of a manifest sorted by id: items index, index + n, ... (round-robin).

    Manifests are written sorted by utterance id, so this is `sorted(ids)[index::num_shards]`
    in one pass with memory for one item. Round-robin over sorted ids spreads every speaker
    over all shards (a split by speaker would make shards differ in content) and is stable.
    """
    if not 0 <= index < num_shards:
        raise ValueError(f"shard {index} is not in [0, {num_shards})")
    previous = None
    for position, item in enumerate(LazyJsonlIterator(path)):
        if previous is not None and item["id"] <= previous:
            raise ValueError(f"{path}: ids are not sorted and unique at {item['id']!r}")
        previous = item["id"]
        if position % num_shards == index:
            yield item


def _speakers(supervisions: str | os.PathLike, index: int, num_shards: int) -> dict[str, str]:
    """Speaker of every recording of the shard (one supervision per recording)."""
    return {s["recording_id"]: s["speaker"] for s in shard_items(supervisions, index, num_shards)}


def utterance_seed(seed: int, cut_id: str) -> int:
    """The dither seed of one cut (stable across runs, independent of sharding)."""
    return int(generator(seed, "dither", cut_id).integers(2**62))


def compute(samples: np.ndarray, cut_id: str, options: FbankOptions) -> np.ndarray:
    """FBANK of one utterance with its own seeded dither."""
    gen = torch.Generator().manual_seed(utterance_seed(options.seed, cut_id))
    return fbank(samples, options.num_mel_bins, options.dither, gen)


def _cut(cut_id: str, recording: Recording, speaker: str, feats: Features, copy: str) -> MonoCut:
    """A MonoCut whose duration is the features' (num_frames x 10 ms), as lhotse's Kaldi import."""
    duration = feats.duration
    supervision = SupervisionSegment(
        id=cut_id, recording_id=recording.id, start=0.0, duration=duration, speaker=speaker
    )
    return MonoCut(
        id=cut_id,
        start=0.0,
        duration=duration,
        channel=0,
        supervisions=[supervision],
        features=feats,
        recording=recording if copy == "clean" else None,
        custom={"copy": copy},
    )


def featurize_shard(
    recordings: str | os.PathLike,
    supervisions: str | os.PathLike,
    manifest: str | os.PathLike,
    archive: str | os.PathLike,
    index: int,
    num_shards: int,
    options: FbankOptions,
    copy: str = "clean",
    plans: str | os.PathLike | None = None,
) -> list[str]:
    """Write one shard's archive (`archive` .lca, then `manifest`); return the skipped files.

    `plans` (for an augmented copy) must hold one plan per utterance of the shard. Cut ids are
    utterance ids, with `_{copy}` appended for augmented copies.
    """
    speakers = _speakers(supervisions, index, num_shards)
    plan_of = _plans(plans, copy)
    bad: list[str] = []
    with atomic_path(manifest, suffix=".jsonl.gz") as tmp_manifest:
        with atomic_path(archive, suffix=".lca") as tmp_archive:
            with (
                LilcomChunkyWriter(tmp_archive) as writer,
                CutSet.open_writer(tmp_manifest) as cuts,
            ):
                items = shard_items(recordings, index, num_shards)
                for recording, samples in decoded(Recording.from_dict(i) for i in items):
                    cut_id = recording.id if copy == "clean" else f"{recording.id}_{copy}"
                    try:
                        feats = _features(recording, samples, cut_id, plan_of, options)
                    except AudioError as err:
                        bad.append(str(err))
                        if options.on_bad_audio != "skip":
                            break
                        continue
                    stored = _store(writer, cut_id, feats, recording.id, archive)
                    cuts.write(_cut(cut_id, recording, speakers[recording.id], stored, copy))
            report_bad_audio(bad, options.on_bad_audio)
    return bad


def _plans(plans: str | os.PathLike | None, copy: str) -> dict[str, dict] | None:
    """Plans by utterance id, or None for the clean copy."""
    if copy == "clean":
        return None
    if plans is None:
        raise ValueError(f"copy {copy!r} needs its augmentation plans")
    return {p["id"]: p for p in read_plans(plans) if p["copy"] == copy}


def _features(
    recording: Recording, samples, cut_id: str, plan_of, options: FbankOptions
) -> np.ndarray:
    """Augment (if planned) and compute FBANK of one decoded recording (or raise its error)."""
    if isinstance(samples, AudioError):
        raise samples
    path = recording.sources[0].source
    if plan_of is not None:
        if recording.id not in plan_of:
            raise ValueError(f"no augmentation plan for {recording.id} ({path})")
        samples = apply_plan(samples, plan_of[recording.id])
    feats = compute(samples, cut_id, options)
    if len(feats) == 0:
        raise AudioError(f"{path}: shorter than one 25 ms frame ({len(samples)} samples)")
    return feats


def decoded(recordings: Iterable[Recording]) -> Iterator[tuple[Recording, np.ndarray | AudioError]]:
    """Each recording with its samples, or with the AudioError (naming the file) that it raised.

    `.m4a` files are decoded DECODE_BATCH to one ffmpeg process: ffmpeg's start-up (~50 ms of
    CPU) costs more than decoding an 8 s utterance, and a process per file capped the data stage
    near 100x real time. The options and so the samples are voxsv.audio.read_audio's; a batch
    that ffmpeg reports any problem with is decoded again file by file, so a bad file gets
    read_audio's own error.
    """
    batch: list[Recording] = []
    for recording in recordings:
        batch.append(recording)
        if len(batch) == DECODE_BATCH:
            yield from _decode_batch(batch)
            batch = []
    yield from _decode_batch(batch)


def _decode_batch(batch: list[Recording]) -> Iterator[tuple[Recording, np.ndarray | AudioError]]:
    """Decode one batch: its .m4a files together, everything else with read_audio."""
    paths = [r.sources[0].source for r in batch]
    together = [p for p in paths if Path(p).suffix.lower() in FFMPEG_EXTENSIONS]
    samples = decode_ffmpeg_many(together) if len(together) > 1 else {}
    for recording, path in zip(batch, paths, strict=True):
        if path in samples:
            yield recording, samples[path]
            continue
        try:
            yield recording, read_audio(path)
        except AudioError as err:
            yield recording, err


def _store(writer, cut_id: str, feats: np.ndarray, recording_id: str, archive) -> Features:
    """Write one feature matrix; the manifest names the final archive path."""
    key = writer.write(cut_id, feats)
    return Features(
        type="kaldi-fbank",
        num_frames=feats.shape[0],
        num_features=feats.shape[1],
        frame_shift=FRAME_SHIFT,
        sampling_rate=SAMPLE_RATE,
        start=0.0,
        duration=round(feats.shape[0] * FRAME_SHIFT, 6),
        storage_type=writer.name,
        storage_path=str(Path(archive)),
        storage_key=key,
        recording_id=recording_id,
        channels=0,
    )


def options_from_config(data: Mapping) -> FbankOptions:
    """FbankOptions from the config's `data` section."""
    return FbankOptions(
        num_mel_bins=data["num_mel_bins"],
        dither=data["dither"],
        seed=data["seed"],
        on_bad_audio=data["on_bad_audio"],
    )
