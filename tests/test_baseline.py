"""The mean-FBANK cosine baseline on real lilcom FBANK shards written with lhotse: trials join
the cuts by their audio paths under the corpus root, as the embeddings do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet, Features, MonoCut, Recording
from lhotse.audio import AudioSource
from lhotse.features.io import LilcomChunkyWriter

from voxsv.baseline import baseline_metrics, mean_fbank
from voxsv.metrics import evaluate

BINS = 24
ROOT = "corpus/voxceleb1/wav"  # relative, as config paths are: the job runs in the workdir


def write_shard(index: int, speakers: range, rng: np.random.Generator) -> tuple[str, list[str]]:
    """An FBANK shard (manifest + .lca) of two utterances per speaker; its trial paths."""
    manifest, archive = f"data/fbank/shard{index}.jsonl.gz", f"data/fbank/shard{index}.lca"
    Path(archive).parent.mkdir(parents=True, exist_ok=True)
    cuts, paths = [], []
    with LilcomChunkyWriter(archive) as writer:
        for spk in speakers:
            centre = rng.normal(0.0, 1.0, BINS)
            for video in range(2):
                utt, frames = f"id{10001 + spk}/vid{video}/00001", int(rng.integers(50, 150))
                feats = (centre + rng.normal(0.0, 2.0, (frames, BINS)) + 8).astype(np.float32)
                recording = Recording(
                    id=utt, sources=[AudioSource("file", [0], f"{ROOT}/{utt}.wav")],
                    sampling_rate=16000, num_samples=frames * 160, duration=frames / 100,
                )
                stored = Features(
                    type="kaldi-fbank", num_frames=frames, num_features=BINS, frame_shift=0.01,
                    sampling_rate=16000, start=0.0, duration=frames / 100,
                    storage_type=writer.name, storage_path=archive,
                    storage_key=writer.write(utt, feats), recording_id=utt,
                )
                cuts.append(MonoCut(id=utt, start=0.0, duration=frames / 100, channel=0,
                                    features=stored, recording=recording))
                paths.append(f"{utt}.wav")
    CutSet.from_cuts(cuts).to_file(manifest)
    return manifest, paths


def write_trials(path: str, paths: list[str], rng: np.random.Generator) -> list[tuple]:
    """Every pair of utterances, shuffled; a pair of one speaker is a target trial."""
    pairs = [(a, b) for n, a in enumerate(paths) for b in paths[n + 1:]]
    rows = [(int(a[:7] == b[:7]), a, b) for a, b in (pairs[i] for i in rng.permutation(len(pairs)))]
    Path(path).write_text("".join(f"{lab} {a} {b}\n" for lab, a, b in rows))
    return rows


def expected(rows: list[tuple], means: dict[str, np.ndarray], p_target: float):
    """Metrics of direct cosines of the centred means (no voxsv scoring code)."""
    centre = np.mean(list(means.values()), axis=0)
    unit = {k: (v - centre) / np.linalg.norm(v - centre) for k, v in means.items()}
    scores = np.array([unit[a] @ unit[b] for _, a, b in rows])
    return evaluate(scores, np.array([lab for lab, _, _ in rows]), p_target)


def test_baseline_scores_centred_mean_fbank_of_every_shard(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    shards = [write_shard(0, range(0, 3), rng), write_shard(1, range(3, 6), rng)]
    manifests = [m for m, _ in shards]
    paths = [p for _, ps in shards for p in ps]
    rows = {name: write_trials(f"{name}.txt", paths, rng) for name in ("O", "VoxSRC22-dev")}
    stored = {f"{c.id}.wav": c.load_features().mean(axis=0) for m in manifests
              for c in CutSet.from_file(m)}  # lilcom-decoded, as the baseline reads them

    metrics = baseline_metrics({"VoxSRC22-dev": "VoxSRC22-dev.txt", "O": "O.txt"},
                               manifests, ROOT)

    assert list(metrics) == ["O", "VoxSRC22-dev"]  # the result tables' order
    for name, p_target in (("O", 0.01), ("VoxSRC22-dev", 0.05)):
        want = expected(rows[name], stored, p_target)
        assert metrics[name].p_target == p_target
        assert metrics[name].n_trials == len(rows[name]) == 66
        assert metrics[name].eer_pct == pytest.approx(want.eer_pct, abs=1e-9)
        assert metrics[name].min_dcf == pytest.approx(want.min_dcf, abs=1e-6)


def test_mean_fbank_keys_are_trial_paths_and_centred(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    manifest, paths = write_shard(0, range(2), np.random.default_rng(4))
    ids, means = mean_fbank([manifest], ROOT)
    assert ids == paths and means.shape == (4, BINS)
    np.testing.assert_allclose(means.mean(axis=0), 0.0, atol=1e-5)

