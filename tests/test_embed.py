"""Utterance embeddings: chunking and length weighting, batching, ONNX/torch paths, CLIs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from voxsv.audio import write_wav
from voxsv.embed import (
    OnnxExtractor,
    TorchExtractor,
    chunk_bounds,
    embed_features,
    embed_wavs,
    wav_features,
)
from voxsv.export import export_onnx
from voxsv.features import fbank, sliding_cmn
from voxsv.scoring import load_embeddings

BINS = 8


class MeanLinear(nn.Module):
    """A linear 'extractor': a projection of the time-averaged features."""

    def __init__(self, bins: int = BINS, dim: int = 4) -> None:
        super().__init__()
        self.proj = nn.Linear(bins, dim, bias=False)
        self.embedding_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.mean(dim=1))


class LengthProbe(MeanLinear):
    """MeanLinear plus one output that is the chunk length (reveals chunks and weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = torch.full((x.shape[0], 1), float(x.shape[1]))
        return torch.cat([super().forward(x), length], dim=1)


class Recorder:
    """Wraps an extractor and records the batch shapes it is called with."""

    def __init__(self, inner):
        self.inner, self.num_mel_bins, self.shapes = inner, inner.num_mel_bins, []

    def __call__(self, batch):
        self.shapes.append(batch.shape)
        return self.inner(batch)


def tf_extract_chunks(frames, max_frames=1000):
    """The chunk lengths of the original's tf_extract.py, written from SPEC's formula."""
    lengths = []
    for i in range(1 + (frames - 25) // max_frames):
        lengths.append(max_frames if (i + 1) * max_frames <= frames else frames - i * max_frames)
    return lengths


@pytest.mark.parametrize(
    ("frames", "lengths"),
    [
        (25, [25]),
        (999, [999]),
        (1000, [1000]),
        (1024, [1000]),
        (1025, [1000, 25]),
        (2020, [1000, 1000]),
        (2025, [1000, 1000, 25]),
    ],
)
def test_chunks_follow_tf_extract(frames, lengths):
    assert tf_extract_chunks(frames) == lengths
    bounds = chunk_bounds(frames, 1000)
    assert [end - start for start, end in bounds] == lengths
    assert bounds[0][0] == 0 and all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))


@pytest.mark.parametrize("frames", [0, 1, 24])
def test_fewer_than_25_frames_is_an_error(frames):
    # tf_extract.py gets zero chunks there and divides by zero; here the error names the utterance
    with pytest.raises(ValueError, match="at least 25"):
        chunk_bounds(frames)
    feats = np.zeros((frames, BINS), dtype=np.float32)
    with pytest.raises(ValueError, match=f"short: {frames} frames; embedding needs 25"):
        embed_features([("short", feats)], TorchExtractor(MeanLinear(), BINS))


@pytest.mark.parametrize("frames", [999, 1000, 1024, 1025, 2020, 2025, 2500])
def test_embedding_is_length_weighted_average_of_kept_chunks(frames):
    torch.manual_seed(0)
    extractor = Recorder(TorchExtractor(LengthProbe(), BINS))
    feats = np.random.default_rng(frames).normal(size=(frames, BINS)).astype(np.float32)
    ids, emb = embed_features([("u", feats)], extractor)
    assert ids == ["u"]
    lengths = tf_extract_chunks(frames)
    assert sorted(s[1] for s in extractor.shapes) == sorted(set(lengths))  # equal ones batched
    # weighted by the kept chunks' lengths: sum(len^2) / sum(len)
    assert emb[0, -1] == pytest.approx(sum(n * n for n in lengths) / sum(lengths))
    # for a linear model that is the embedding of the kept frames (the short tail is dropped)
    whole = extractor.inner(feats[None, : sum(lengths)])[0]
    np.testing.assert_allclose(emb[0, :-1], whole[:-1], rtol=1e-5, atol=1e-6)


def test_batched_equals_one_at_a_time():
    torch.manual_seed(1)
    extractor = Recorder(TorchExtractor(LengthProbe(), BINS))
    rng = np.random.default_rng(1)
    items = [
        (f"u{i}", rng.normal(size=(n, BINS)).astype(np.float32))
        for i, n in enumerate([300, 2500, 300, 1700, 850, 850, 300])
    ]
    ids, batched = embed_features(items, extractor, chunk_frames=1000, batch_size=2, window=4)
    assert ids == [uid for uid, _ in items]
    assert max(s[0] for s in extractor.shapes) == 2
    single = np.concatenate([embed_features([item], extractor)[1] for item in items])
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)


def test_wrong_number_of_bins_is_an_error():
    extractor = TorchExtractor(MeanLinear(), BINS)
    with pytest.raises(ValueError, match="u: features of shape \\(10, 5\\), the model takes 8"):
        embed_features([("u", np.zeros((10, 5), np.float32))], extractor)


@pytest.fixture
def audio_and_model(tmp_path):
    rng = np.random.default_rng(2)
    paths = []
    for i, seconds in enumerate([3.0, 12.5]):  # the second has 1,248 frames: two chunks
        t = np.arange(int(16000 * seconds)) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (200 + 100 * i) * t) + 0.05 * rng.normal(size=t.size)
        paths.append(tmp_path / f"utt{i}.wav")
        write_wav(paths[-1], wave.astype(np.float32))
    torch.manual_seed(3)
    model = MeanLinear(bins=80, dim=6)
    export_onnx(model, tmp_path / "model.onnx", 80)
    return paths, model, tmp_path / "model.onnx"


def test_wavs_onnx_matches_torch_and_manual_pipeline(audio_and_model):
    paths, model, onnx_path = audio_and_model
    ids, from_onnx = embed_wavs(paths, OnnxExtractor(onnx_path))
    assert ids == [str(p) for p in paths]
    _, from_torch = embed_wavs(paths, TorchExtractor(model, 80))
    np.testing.assert_allclose(from_onnx, from_torch, rtol=1e-4, atol=1e-5)
    import soundfile as sf

    samples = sf.read(paths[1], dtype="float32")[0]
    feats = sliding_cmn(fbank(samples, num_mel_bins=80, dither=0.0), window=300)
    np.testing.assert_array_equal(wav_features(paths[1], 80), feats)
    with torch.no_grad():
        whole = model(torch.from_numpy(feats)[None])[0].numpy()
    np.testing.assert_allclose(from_torch[1], whole, rtol=1e-4, atol=1e-5)


def test_checkpoint_extractor_matches_its_model(tmp_path):
    from voxsv.embed import load_extractor
    from voxsv.models import build_model

    spec = {"arch": "tdnn", "channels": [16, 16, 16, 16, 48], "embedding_dim": 8}
    torch.manual_seed(4)
    model = build_model(spec, BINS).eval()
    path = tmp_path / "model.pt"
    torch.save({"arch": spec, "num_mel_bins": BINS, "model": model.state_dict()}, path)
    extractor = load_extractor(path, device="auto")
    feats = np.random.default_rng(4).normal(size=(2, 120, BINS)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(feats)).numpy()
    np.testing.assert_allclose(extractor(feats), expected, rtol=1e-5, atol=1e-6)
    torch.save({"arch": spec, "model": model.state_dict()}, path)
    with pytest.raises(ValueError, match="model.pt: checkpoint lacks \\['num_mel_bins'\\]"):
        load_extractor(path)


def test_embed_manifest_of_a_feature_shard(tmp_path):
    from lhotse import CutSet, Features, LilcomChunkyWriter, MonoCut

    from voxsv.embed import embed_manifest

    rng = np.random.default_rng(5)
    raw = {
        f"id1000{i}/vid/00001": rng.normal(size=(n, BINS)).astype(np.float32)
        for i, n in enumerate([1300, 400, 1300])
    }
    cuts = []
    with LilcomChunkyWriter(tmp_path / "shard0.lca") as writer:
        for cut_id, feats in raw.items():
            key = writer.write(cut_id, feats)
            stored = Features(
                type="kaldi-fbank",
                num_frames=len(feats),
                num_features=BINS,
                frame_shift=0.01,
                sampling_rate=16000,
                start=0.0,
                duration=len(feats) * 0.01,
                storage_type=writer.name,
                storage_path=str(tmp_path / "shard0.lca"),
                storage_key=key,
            )
            cuts.append(
                MonoCut(id=cut_id, start=0.0, duration=stored.duration, channel=0, features=stored)
            )
    CutSet.from_cuts(cuts).to_file(tmp_path / "shard0.jsonl.gz")
    torch.manual_seed(5)
    extractor = Recorder(TorchExtractor(LengthProbe(), BINS))
    embed_manifest(tmp_path / "shard0.jsonl.gz", extractor, tmp_path / "emb.npz")
    ids, emb = load_embeddings(tmp_path / "emb.npz")
    assert sorted(ids) == sorted(raw) and ids[0] == "id10001/vid/00001"  # shortest first
    # 1,300 frames give 1,000 + 300: both 1,000-frame chunks at once, both 300-frame ones too
    assert sorted((s[1], s[0]) for s in extractor.shapes) == [(300, 2), (400, 1), (1000, 2)]
    for uid, row in zip(ids, emb, strict=True):
        stored = CutSet.from_cuts(cuts)[uid].load_features()  # lilcom-compressed values
        single = embed_features([(uid, sliding_cmn(stored, 300))], extractor)[1][0]
        np.testing.assert_allclose(row, single, rtol=1e-5, atol=1e-6)
