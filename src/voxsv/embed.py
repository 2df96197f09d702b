"""Utterance embeddings (SPEC section 5): whole utterance after sliding CMN, cut into chunks of
at most `chunk_frames` frames, embedding = chunk embeddings averaged with chunk-length weights.

Chunking is the original's `tf_extract.py`: num_chunks = 1 + (T - 25) // chunk_frames; chunk i
covers [chunk_frames * i, min(chunk_frames * (i + 1), T)), so a tail shorter than 25 frames is
dropped (T = 2,020 gives two 1,000-frame chunks) and the weights are the kept chunks' lengths.
The original assumes at least 25 frames (fewer gives no chunk and a division by zero there);
here a shorter utterance is an error naming it. Chunks of equal length from different
utterances are stacked into one batch; no padding is ever used, so a batched embedding equals
the one-at-a-time one.

The extractor is a torch module or an ONNX model (onnxruntime), behind `Extractor`.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from voxsv.errors import InputError, ModelError
from voxsv.feature_settings import FeatureSettings

CHUNK_FRAMES = 1000
MIN_FRAMES = 25  # tf_extract.py: the shortest input, and the shortest tail chunk kept
BATCH_SIZE = 64
WINDOW = 512  # utterances whose chunks are grouped by length at once


class Extractor(Protocol):
    """An embedding extractor: (batch, frames, bins) float32 -> (batch, dim) float32."""

    num_mel_bins: int
    features: FeatureSettings | None  # the settings stored in the model file, if any
    min_frames: int  # the shortest input it accepts

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class TorchExtractor:
    """A torch embedding extractor run in eval mode without gradients on `device`."""

    def __init__(
        self,
        model: torch.nn.Module,
        num_mel_bins: int,
        device: str = "cpu",
        features: FeatureSettings | None = None,
    ) -> None:
        self.model = model.to(device).eval()
        self.num_mel_bins = num_mel_bins
        self.device = torch.device(device)
        self.features = features

    @functools.cached_property
    def min_frames(self) -> int:
        """Shortest input the model runs on (its receptive field), tried from 1 frame up."""
        from voxsv.export import MIN_FRAMES

        for frames in range(1, MIN_FRAMES):
            try:
                self(np.zeros((1, frames, self.num_mel_bins), dtype=np.float32))
            except RuntimeError:  # torch: "Kernel size can't be greater than actual input size"
                continue
            return frames
        return MIN_FRAMES

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            return self.model(x).float().cpu().numpy()


class OnnxExtractor:
    """An exported ONNX extractor (input (batch, frames, bins), output (batch, dim))."""

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] | None = None) -> None:
        import onnxruntime as ort

        from voxsv.export import MIN_FRAMES, MIN_FRAMES_KEY

        if not Path(path).is_file():
            raise ModelError(f"{path}: no such file")
        try:
            self.session = ort.InferenceSession(
                str(path), providers=list(providers or ["CPUExecutionProvider"])
            )
        except Exception as err:  # onnxruntime's errors (NO_SUCHFILE, INVALID_PROTOBUF, ...)
            # are pybind classes with no common base below Exception
            # "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from P failed:<reason>"
            reason = str(err).split(" failed:", 1)[-1].strip().split("\n")[0][:200]
            raise ModelError(f"{path}: not a loadable ONNX model ({reason})") from err
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else None
        if (
            shape is None
            or len(shape) != 3
            or isinstance(shape[1], int)
            or not isinstance(shape[2], int)
            or len(outputs) != 1
            or len(outputs[0].shape) != 2
        ):
            found = ", ".join(f"{i.name} {i.shape}" for i in inputs)
            raise ModelError(
                f"{path}: inputs {found}: an extractor takes one (batch, frames, bins) input "
                "with dynamic frames and gives one (batch, dim) output"
            )
        self.path = Path(path)
        self.input_name = inputs[0].name
        self.num_mel_bins = shape[2]
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.features = FeatureSettings.from_metadata(metadata, path)
        if self.features is not None and self.features.num_mel_bins != self.num_mel_bins:
            raise ModelError(
                f"{path}: metadata says {self.features.num_mel_bins} mel bins, "
                f"the input has {self.num_mel_bins}"
            )
        self.min_frames = int(metadata.get(MIN_FRAMES_KEY, MIN_FRAMES))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        try:
            return self.session.run(None, feed)[0]
        except Exception as err:  # onnxruntime's pybind errors (see __init__)
            reason = str(err).splitlines()[0][:200]
            raise ModelError(f"{self.path}: fails on input {batch.shape} ({reason})") from err


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is available, else `cpu`; other names pass through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_extractor(path: str | os.PathLike, device: str = "cpu") -> Extractor:
    """An `.onnx` model (run on CPU), or a training checkpoint (`exp/{alias}/{stage}/model.pt`)."""
    path = Path(path)
    if path.suffix == ".onnx":
        return OnnxExtractor(path)
    from voxsv.models import build_model

    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a non-checkpoint fails in pickle, zipfile or torch, each its own way
        raise ModelError(
            f"{path}: not a model.pt checkpoint or .onnx model ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(checkpoint, dict):
        raise ModelError(f"{path}: holds a {type(checkpoint).__name__}, not a model checkpoint")
    missing = {"arch", "num_mel_bins", "model"} - set(checkpoint)
    if missing:
        raise ModelError(f"{path}: checkpoint lacks {sorted(missing)}")
    features = checkpoint.get("features")
    if features is not None:
        features = FeatureSettings.from_mapping(features, path)
        if features.num_mel_bins != checkpoint["num_mel_bins"]:
            raise ModelError(
                f"{path}: `features` says {features.num_mel_bins} mel bins, "
                f"the model takes {checkpoint['num_mel_bins']}"
            )
    try:
        model = build_model(checkpoint["arch"], checkpoint["num_mel_bins"])
        model.load_state_dict(checkpoint["model"])
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise ModelError(f"{path}: weights do not fit arch {checkpoint['arch']} ({err})") from err
    return TorchExtractor(model, checkpoint["num_mel_bins"], resolve_device(device), features)


def chunk_bounds(num_frames: int, chunk_frames: int = CHUNK_FRAMES) -> list[tuple[int, int]]:
    """[start, end) of the chunks of an utterance, as the original's tf_extract.py cuts them."""
    if num_frames < MIN_FRAMES:
        raise ValueError(
            f"cannot embed an utterance of {num_frames} frames (at least {MIN_FRAMES} needed)"
        )
    n = 1 + (num_frames - MIN_FRAMES) // chunk_frames
    return [(i * chunk_frames, min((i + 1) * chunk_frames, num_frames)) for i in range(n)]


def _embed_window(
    items: list[tuple[str, np.ndarray]], extractor: Extractor, chunk_frames: int, batch_size: int
) -> np.ndarray:
    """Embeddings of a few utterances, their equal-length chunks batched together."""
    by_length: dict[int, list[tuple[int, int]]] = defaultdict(list)  # length -> (utt, start)
    for n, (_, feats) in enumerate(items):
        for start, end in chunk_bounds(len(feats), chunk_frames):
            by_length[end - start].append((n, start))
    sums: np.ndarray | None = None
    for length, chunks in by_length.items():
        for lo in range(0, len(chunks), batch_size):
            group = chunks[lo : lo + batch_size]
            batch = np.stack([items[n][1][start : start + length] for n, start in group])
            out = np.asarray(extractor(batch), dtype=np.float64)
            if sums is None:
                sums = np.zeros((len(items), out.shape[1]))
            np.add.at(sums, [n for n, _ in group], length * out)
    kept = [chunk_bounds(len(feats), chunk_frames) for _, feats in items]
    lengths = np.array([bounds[-1][1] - bounds[0][0] for bounds in kept], dtype=np.float64)
    return (sums / lengths[:, None]).astype(np.float32)


def embed_features(
    items: Iterable[tuple[str, np.ndarray]],
    extractor: Extractor,
    chunk_frames: int = CHUNK_FRAMES,
    batch_size: int = BATCH_SIZE,
    window: int = WINDOW,
) -> tuple[list[str], np.ndarray]:
    """(ids, N x D embeddings) of CMN'ed feature matrices; feed them sorted by length to batch."""
    ids: list[str] = []
    parts: list[np.ndarray] = []
    for block in _windows(items, window):
        for uid, feats in block:
            if feats.ndim != 2 or feats.shape[1] != extractor.num_mel_bins:
                raise InputError(
                    f"{uid}: features of shape {feats.shape}, the model takes "
                    f"{extractor.num_mel_bins} mel bins"
                )
            if len(feats) < MIN_FRAMES:
                raise ValueError(f"{uid}: {len(feats)} frames; embedding needs {MIN_FRAMES}")
        ids.extend(uid for uid, _ in block)
        parts.append(_embed_window(block, extractor, chunk_frames, batch_size))
    if not parts:
        raise ValueError("no utterances to embed")
    return ids, np.concatenate(parts)


def _windows(items: Iterable[tuple[str, np.ndarray]], size: int) -> Iterator[list]:
    """Consecutive lists of at most `size` items (itertools.batched needs Python 3.12)."""
    block: list[tuple[str, np.ndarray]] = []
    for item in items:
        block.append(item)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def wav_features(path: str | os.PathLike, num_mel_bins: int, cmn_window: int = 300) -> np.ndarray:
    """Network input of an audio file: FBANK (no dither) then sliding CMN, as in evaluation."""
    from voxsv.audio import read_audio
    from voxsv.features import fbank, sliding_cmn

    feats = fbank(read_audio(path), num_mel_bins=num_mel_bins, dither=0.0)
    return sliding_cmn(feats, window=cmn_window)


def embed_wavs(
    paths: Sequence[str | os.PathLike],
    extractor: Extractor,
    chunk_frames: int = CHUNK_FRAMES,
    cmn_window: int = 300,
) -> tuple[list[str], np.ndarray]:
    """(paths as given, embeddings) of audio files, by the same code path as the evaluation."""
    items = ((str(p), wav_features(p, extractor.num_mel_bins, cmn_window)) for p in paths)
    return embed_features(items, extractor, chunk_frames)


def embed_cuts(
    cuts: Iterable,
    extractor: Extractor,
    chunk_frames: int = CHUNK_FRAMES,
    batch_size: int = BATCH_SIZE,
    cmn_window: int = 300,
) -> tuple[list[str], np.ndarray]:
    """(cut ids, embeddings) of lhotse cuts with stored raw FBANK, sorted by length to batch."""
    from voxsv.features import sliding_cmn

    ordered = sorted(cuts, key=lambda cut: cut.num_frames)
    items = ((cut.id, sliding_cmn(cut.load_features(), window=cmn_window)) for cut in ordered)
    return embed_features(items, extractor, chunk_frames, batch_size)


def embed_manifest(
    manifest: str | os.PathLike,
    extractor: Extractor,
    out: str | os.PathLike,
    chunk_frames: int = CHUNK_FRAMES,
    batch_size: int = BATCH_SIZE,
    cmn_window: int = 300,
) -> None:
    """Embed every cut of a feature shard (lhotse CutSet manifest) into an embeddings store."""
    from lhotse import CutSet

    from voxsv.scoring import save_embeddings

    cuts = CutSet.from_file(manifest)
    save_embeddings(out, *embed_cuts(cuts, extractor, chunk_frames, batch_size, cmn_window))
