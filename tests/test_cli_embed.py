"""`voxsv embed` / `verify`: the pipeline's embedding of an utterance, from the feature settings
stored in the model file; printed and saved forms agree; verify scores as the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_inputs import BINS, FEATURES
from test_manifests import make_voxceleb

from voxsv import featurize, manifests
from voxsv.cli import main
from voxsv.embed import embed_cuts, load_extractor
from voxsv.scoring import load_embeddings

DATA_SEED = 20200  # config/config.yaml data.seed
CHUNK = 50  # utterances of 73-123 frames: two or three chunks each (ONNX: 49 or more)


@pytest.fixture(scope="module")
def vox1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], Path]:
    """A VoxCeleb1-like tree, its paths as trial lists write them, and the pipeline's FBANK
    shard of it (featurize_shard: dithered, seeded per cut, lilcom archive)."""
    tmp = tmp_path_factory.mktemp("vox1")
    root = tmp / "wav"
    ids = make_voxceleb(root, {"id10001": {"vidA": 2}, "id10002": {"vidB": 2}})
    rec, sup = tmp / "rec.jsonl.gz", tmp / "sup.jsonl.gz"
    manifests.write_voxceleb(root, rec, sup)
    shard = tmp / "shard0.jsonl.gz"
    options = featurize.FbankOptions(num_mel_bins=BINS, dither=FEATURES.dither, seed=DATA_SEED)
    featurize.featurize_shard(rec, sup, shard, tmp / "shard0.lca", 0, 1, options)
    return root, [f"{i}.wav" for i in ids], shard


def pipeline_embeddings(model: Path, shard: Path) -> dict[str, np.ndarray]:
    """The evaluation's embeddings (rule embed: embed_cuts on the stored shard), by cut id."""
    from lhotse import CutSet

    ids, emb = embed_cuts(
        CutSet.from_file(shard), load_extractor(model), CHUNK, cmn_window=FEATURES.cmn_window
    )
    return dict(zip(ids, emb, strict=True))


@pytest.mark.parametrize("model", ["model.pt", "model.onnx"])
def test_cli_embedding_equals_the_pipelines(
    vox1: tuple[Path, list[str], Path],
    cli_files: dict[str, Path],
    model: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same model, same utterances: `voxsv embed` from the corpus root with the data seed gives
    the pipeline's embeddings (the pipeline dithers with seed data.seed per cut id and stores
    lilcom-rounded FBANK; the CLI does both from the model's settings: CMN 150, 40 bins).
    Measured here: model.pt 0 difference, model.onnx 2e-8; another dither seed: ~8e-4."""
    root, paths, shard = vox1
    expected = pipeline_embeddings(cli_files["model.pt"], shard)
    monkeypatch.chdir(root)
    out = tmp_path / "emb.npz"
    argv = ["embed", "--model", str(cli_files[model]), *paths, "--chunk-frames", str(CHUNK)]
    assert main([*argv, "--seed", str(DATA_SEED), "--out", str(out)]) == 0
    ids, got = load_embeddings(out)
    assert ids == paths
    want = np.stack([expected[p.removesuffix(".wav")] for p in paths])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # the dither is real: another seed moves the embeddings by more than the tolerance
    assert main([*argv, "--seed", "1", "--out", str(out)]) == 0
    assert np.abs(load_embeddings(out)[1] - want).max() > 1e-4


def test_embed_prints_what_it_saves_and_verify_scores_the_pair(
    cli_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model, a, b = (str(cli_files[n]) for n in ("model.onnx", "a.wav", "b.wav"))
    out = tmp_path / "emb.npz"
    assert main(["embed", "--model", model, a, b, "--out", str(out)]) == 0
    ids, emb = load_embeddings(out)
    assert ids == [a, b] and emb.shape == (2, 8)
    assert main(["embed", "--model", model, a]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[0] == a
    np.testing.assert_allclose([float(v) for v in printed[1:]], emb[0], rtol=1e-5)
    expected = float(emb[0] @ emb[1] / np.linalg.norm(emb[0]) / np.linalg.norm(emb[1]))
    for threshold, decision in ((expected - 0.01, "accept"), (expected + 0.01, "reject")):
        assert main(["verify", "--model", model, a, b, "--threshold", str(threshold)]) == 0
        lines = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
        assert float(lines["score"]) == pytest.approx(expected, abs=1e-5)
        assert lines["decision"] == decision


def test_model_pt_and_onnx_carry_the_same_feature_settings(cli_files: dict[str, Path]) -> None:
    for name in ("model.pt", "model.onnx"):
        extractor = load_extractor(cli_files[name])
        assert extractor.features == FEATURES, name
        assert extractor.num_mel_bins == BINS
    assert load_extractor(cli_files["bare.pt"]).features is None
    assert load_extractor(cli_files["bare.onnx"]).features is None
