"""ONNX export of embedding extractors with dynamic batch and time axes, and its check.

Uses the torch.export-based exporter (PyTorch's default; the TorchScript one is deprecated) with
symbolic batch and frames dimensions: the models have no shape-dependent Python control flow, so
one file serves every utterance length from MIN_FRAMES up. Weights are stored inside the file
(no external data file that the atomic rename would orphan). The file's metadata_props say what
input it takes: `voxsv.min_frames` and, when given, the feature settings (voxsv.feature_settings)
that `voxsv embed` / `verify` use.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
import torch
from torch import nn
from torch.export import Dim

from voxsv.atomic import atomic_path
from voxsv.feature_settings import FeatureSettings

OPSET = 18
MIN_FRAMES = 25
MIN_FRAMES_KEY = "voxsv.min_frames"
INPUT_NAME, OUTPUT_NAME = "feats", "embedding"


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    num_mel_bins: int,
    features: FeatureSettings | None = None,
) -> None:
    """Write `model` (eval mode, on its device) to `path` as ONNX: (batch, frames, bins) -> emb,
    with the feature settings it was trained with in the file's metadata."""
    was_training = model.training
    example = torch.zeros(2, 200, num_mel_bins, device=next(model.parameters()).device)
    dims = {0: Dim("batch", min=1), 1: Dim("frames", min=MIN_FRAMES)}
    try:
        model.eval()
        with atomic_path(path) as tmp, torch.no_grad():
            torch.onnx.export(
                model, (example,), str(tmp), dynamo=True, external_data=False,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=OPSET,
                dynamic_shapes=(dims,), verbose=False,
            )
            metadata = features.to_metadata() if features is not None else {}
            _add_metadata(tmp, {MIN_FRAMES_KEY: str(MIN_FRAMES), **metadata})
    finally:
        model.train(was_training)


def _add_metadata(path: os.PathLike, entries: dict[str, str]) -> None:
    """Set metadata_props entries of the ONNX file at `path` (rewritten in place)."""
    proto = onnx.load(str(path))
    for key, value in entries.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))


def check_onnx(model: nn.Module, path: str | os.PathLike, inputs: list[np.ndarray]) -> float:
    """Max |PyTorch - onnxruntime CPU| embedding difference over `inputs` (batch, frames, bins)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    worst = 0.0
    try:
        for feats in inputs:
            feats = np.ascontiguousarray(feats, dtype=np.float32)
            with torch.no_grad():
                expected = model(torch.from_numpy(feats).to(device)).float().cpu().numpy()
            (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: feats})
            worst = max(worst, float(np.max(np.abs(got - expected))))
    finally:
        model.train(was_training)
    return worst
