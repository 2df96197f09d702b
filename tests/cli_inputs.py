"""Inputs of the command-line tests: audio, a small TDNN as model.pt and model.onnx with its
feature settings, broken model files, embeddings stores and a trial list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import soundfile as sf
import torch
from onnx import TensorProto, helper

from voxsv.audio import write_wav
from voxsv.export import export_onnx
from voxsv.feature_settings import FeatureSettings
from voxsv.models import build_model

BINS = 40
SPEC = {"arch": "tdnn", "channels": [16, 16, 16, 16, 48], "embedding_dim": 8}
# not the defaults (80 bins, CMN 300): shows that embed/verify read them from the model file
FEATURES = FeatureSettings(num_mel_bins=BINS, cmn_window=150, dither=1.0)


def voice(seconds: float, pitch: float, seed: int) -> np.ndarray:
    """A harmonic tone with noise: audio whose FBANK is not constant."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wave = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6))
    return (0.2 * wave + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def trained_tdnn() -> torch.nn.Module:
    """The small TDNN with batch-norm statistics moved off their initial values."""
    torch.manual_seed(0)
    model = build_model(SPEC, BINS).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 80, BINS) * 3 + 1)
    return model.eval()


def save_checkpoint(model: torch.nn.Module, path: Path, features: dict | None) -> None:
    """A model.pt as training writes it (arch, num_mel_bins, model, features)."""
    checkpoint = {"arch": SPEC, "num_mel_bins": BINS, "model": model.state_dict()}
    if features is not None:
        checkpoint["features"] = features
    torch.save(checkpoint, path)


def rank2_onnx(path: Path) -> None:
    """An ONNX model that takes (batch, bins) rows, not (batch, frames, bins) utterances."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", BINS])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", BINS])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "rows", [x], [y])
    opset = [helper.make_opsetid("", 18)]
    onnx.save(helper.make_model(graph, opset_imports=opset, ir_version=9), path)


def make_cli_files(root: Path) -> dict[str, Path]:
    """Write every input file under root; return them by name."""
    f = {name: root / name for name in (
        "a.wav", "b.wav", "stereo.wav", "short.wav", "brief.wav", "model.pt", "model.onnx",
        "bare.pt", "bare.onnx", "junk.pt", "empty.onnx", "corrupt.onnx", "rows.onnx",
        "trials.txt", "emb6.npz", "emb6b.npz", "emb8.npz", "nan.npz", "zero.npz", "cohort8.npz",
        "cohort6.npz", "scores.txt",
    )}  # fmt: skip
    write_wav(f["a.wav"], voice(2.0, 140.0, 1))
    write_wav(f["b.wav"], voice(3.3, 210.0, 2))
    sf.write(f["stereo.wav"], np.stack([voice(1.0, 150.0, 3)] * 2, axis=1), 16000, "PCM_16")
    write_wav(f["short.wav"], voice(1.0, 150.0, 4)[:100])
    write_wav(f["brief.wav"], voice(1.0, 150.0, 5)[: 400 + 12 * 160])  # 13 frames < 15
    model = trained_tdnn()
    save_checkpoint(model, f["model.pt"], FEATURES.as_dict())
    save_checkpoint(model, f["bare.pt"], None)
    export_onnx(model, f["model.onnx"], BINS, FEATURES)
    export_onnx(model, f["bare.onnx"], BINS)
    torch.save({"weights": [1, 2, 3]}, f["junk.pt"])
    f["empty.onnx"].write_bytes(b"")
    f["corrupt.onnx"].write_bytes(f["model.onnx"].read_bytes()[:5000])
    rank2_onnx(f["rows.onnx"])
    f["trials.txt"].write_text("1 a.wav b.wav\n0 a.wav c.wav\n1 b.wav c.wav\n")
    rng = np.random.default_rng(0)

    def store(name: str, ids: list[str], emb: np.ndarray) -> None:
        np.savez(f[name], ids=np.array(ids), embeddings=emb.astype(np.float32))

    store("emb6.npz", ["a.wav", "b.wav"], rng.normal(size=(2, 6)))
    store("emb6b.npz", ["c.wav"], rng.normal(size=(1, 6)))
    store("emb8.npz", ["c.wav"], rng.normal(size=(1, 8)))
    store("nan.npz", ["a.wav", "b.wav", "c.wav"], np.array([[1.0, 0], [np.nan, 1], [0, 1]]))
    store("zero.npz", ["a.wav", "b.wav", "c.wav"], np.array([[1.0, 0], [0, 0], [0, 1]]))
    store("cohort8.npz", ["s1", "s2"], rng.normal(size=(2, 8)))
    store("cohort6.npz", ["s1", "s2", "s3"], rng.normal(size=(3, 6)))
    f["scores.txt"].write_text("a.wav b.wav 0.5\na.wav c.wav 0.1\nb.wav c.wav 0.3\n")
    return f
