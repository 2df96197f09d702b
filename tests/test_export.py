"""ONNX export: one file per family, dynamic batch and time, matches PyTorch in onnxruntime (run
here directly, not through voxsv's check_onnx), carries the model's feature settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from voxsv.export import check_onnx, export_onnx
from voxsv.feature_settings import FeatureSettings
from voxsv.models import build_model

FAMILIES = {
    "tdnn": {"arch": "tdnn", "channels": [32, 32, 32, 32, 64], "embedding_dim": 32},
    "res2net_stats": {"arch": "res2net", "blocks": [1, 2, 1, 1], "base_channels": 8,
                      "width": 4, "scale": 4, "embedding_dim": 48, "pooling": "stats"},
    "res2net_att": {"arch": "res2net", "blocks": [1, 1, 2, 1], "base_channels": 8, "width": 2,
                    "scale": 6, "embedding_dim": 40, "pooling": "attentive"},
    "dpn": {"arch": "dpn", "stem_channels": 8, "blocks": [2, 1, 2, 1],
            "increments": [4, 8, 8, 16], "base_width": 8, "bottleneck": 16, "groups": 4,
            "embedding_dim": 64},
}


def trained(spec: dict, bins: int) -> torch.nn.Module:
    """A model whose batch-norm statistics have left their initial values."""
    torch.manual_seed(0)
    model = build_model(spec, bins).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 80, bins) * 3 + 1)
    return model


@pytest.mark.parametrize("family", list(FAMILIES))
def test_export_matches_pytorch_at_two_lengths(family: str, tmp_path: Path) -> None:
    model = trained(FAMILIES[family], 40)
    path = tmp_path / f"{family}.onnx"
    export_onnx(model, path, 40, FeatureSettings(num_mel_bins=40, cmn_window=200, dither=0.5))
    assert model.training  # restored after export
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left behind
    onnx.checker.check_model(str(path))
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props == {"voxsv.min_frames": "25", "voxsv.num_mel_bins": "40",
                     "voxsv.cmn_window": "200", "voxsv.dither": "0.5"}
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ((name, shape),) = [(i.name, i.shape) for i in session.get_inputs()]
    assert isinstance(shape[0], str) and isinstance(shape[1], str) and shape[2] == 40
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, 57, 40)).astype(np.float32),
              rng.normal(size=(1, 431, 40)).astype(np.float32)]
    worst = 0.0
    model.eval()
    for feats in inputs:  # one file serves both batch sizes and lengths
        (got,) = session.run(None, {name: feats})
        with torch.no_grad():
            expected = model(torch.from_numpy(feats)).numpy()
        assert got.shape == expected.shape == (len(feats), FAMILIES[family]["embedding_dim"])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        worst = max(worst, float(np.abs(got - expected).max()))
    assert check_onnx(model, path, inputs) == pytest.approx(worst, rel=1e-6, abs=1e-12)


def test_export_failure_keeps_the_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous")
    model = trained(FAMILIES["tdnn"], 40)
    with pytest.raises(RuntimeError):
        export_onnx(model, path, 80)  # wrong bins: the trace fails
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
