"""Cosine and AS-norm scoring against a direct per-trial computation; stores and score files."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from voxsv import scoring
from voxsv.cli import main
from voxsv.scoring import (
    MissingEmbeddingError,
    ScoreFileError,
    cohort_means,
    load_embeddings,
    read_scores,
    save_embeddings,
    score_trials,
    write_scores,
)
from voxsv.trials import Trials


def random_case(seed=0, n_utts=40, n_trials=300, dim=16):
    rng = np.random.default_rng(seed)
    ids = [f"id{1 + i % 7:05d}/vid{i:03d}/00001.wav" for i in range(n_utts)]
    embeddings = rng.normal(size=(n_utts, dim)).astype(np.float32) * rng.uniform(
        0.5, 3.0, (n_utts, 1)
    )
    a, b = rng.integers(0, n_utts, (2, n_trials))
    trials = Trials(
        labels=rng.integers(0, 2, n_trials).astype(np.int8),
        enroll=[ids[i] for i in a],
        test=[ids[i] for i in b],
    )
    return ids, embeddings.astype(np.float32), trials, rng


def cos(x, y):
    return float(np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y))


def test_cosine_matches_direct_loop():
    ids, emb, trials, _ = random_case()
    row = {u: i for i, u in enumerate(ids)}
    expected = [
        cos(emb[row[e]], emb[row[t]]) for e, t in zip(trials.enroll, trials.test, strict=True)
    ]
    np.testing.assert_allclose(score_trials(trials, ids, emb), expected, atol=1e-6)


@pytest.mark.parametrize("top_k", [2, 5, 12])
def test_asnorm_matches_direct_loop(top_k, monkeypatch):
    monkeypatch.setattr(scoring, "ROW_CHUNK", 7)  # several chunks, one ragged
    monkeypatch.setattr(scoring, "TRIAL_CHUNK", 50)
    ids, emb, trials, rng = random_case(seed=top_k)
    cohort = rng.normal(size=(12, emb.shape[1])).astype(np.float32)
    row = {u: i for i, u in enumerate(ids)}

    def stats(x):
        top = np.sort([cos(x, c) for c in cohort])[::-1][:top_k]
        return np.mean(top), np.std(top)

    expected = []
    for e, t in zip(trials.enroll, trials.test, strict=True):
        x, y = emb[row[e]], emb[row[t]]
        s = cos(x, y)
        (m1, d1), (m2, d2) = stats(x), stats(y)
        expected.append(0.5 * ((s - m1) / d1 + (s - m2) / d2))
    got = score_trials(trials, ids, emb, cohort, top_k=top_k)
    # float32 cosines; a top-2 std can be tiny and amplify their rounding
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_asnorm_with_one_cohort_score_stays_finite():
    ids, emb, trials, rng = random_case()
    cohort = rng.normal(size=(3, emb.shape[1])).astype(np.float32)
    assert np.isfinite(score_trials(trials, ids, emb, cohort, top_k=1)).all()


def test_top_k_beyond_cohort_is_clamped_with_warning(caplog):
    ids, emb, trials, rng = random_case()
    cohort = rng.normal(size=(6, emb.shape[1])).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        clamped = score_trials(trials, ids, emb, cohort, top_k=400)
    assert "top_k 400 exceeds the cohort size" in caplog.text
    np.testing.assert_array_equal(clamped, score_trials(trials, ids, emb, cohort, top_k=6))


def test_trials_join_embeddings_by_utterance_id():
    ids, emb, trials, _ = random_case()
    cut_ids = [i.removesuffix(".wav") for i in ids]  # cut ids carry no suffix
    np.testing.assert_array_equal(
        score_trials(trials, cut_ids, emb), score_trials(trials, ids, emb)
    )


def test_missing_embedding_fails_loudly():
    ids, emb, trials, _ = random_case()
    used = sorted(set(trials.enroll) | set(trials.test))
    keep = [i for i in range(len(ids)) if ids[i] not in used[:3]]
    with pytest.raises(
        MissingEmbeddingError, match=f"3 utterance\\(s\\) .* no embedding, e.g. {used[0]}"
    ):
        score_trials(trials, [ids[i] for i in keep], emb[keep])


def test_cohort_means_are_means_of_normalised_embeddings():
    ids = ["id00001/a/1.wav", "id00002/a/1.wav", "id00001/b/2.wav"]
    emb = np.array([[3.0, 0.0], [0.0, 5.0], [0.0, 2.0]], dtype=np.float32)
    speakers, means = cohort_means(ids, emb)
    assert speakers == ["id00001", "id00002"]
    np.testing.assert_allclose(means, [[0.5, 0.5], [0.0, 1.0]])
    speakers, means = cohort_means(ids, emb, {ids[0]: "x", ids[1]: "x", ids[2]: "y"})
    assert speakers == ["x", "y"]
    np.testing.assert_allclose(means, [[0.5, 0.5], [0.0, 1.0]])


def test_embeddings_store_round_trip_and_errors(tmp_path):
    ids, emb, _, _ = random_case()
    path = tmp_path / "emb.npz"
    save_embeddings(path, ids, emb)
    got_ids, got = load_embeddings(path)
    assert got_ids == ids
    np.testing.assert_array_equal(got, emb)
    np.savez(tmp_path / "dup.npz", ids=np.array(["a", "a"]), embeddings=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dup.npz: 1 repeated id"):
        load_embeddings(tmp_path / "dup.npz")
    np.savez(tmp_path / "bad.npz", ids=np.array(["a"]))
    with pytest.raises(ValueError, match="bad.npz: embeddings store lacks \\['embeddings'\\]"):
        load_embeddings(tmp_path / "bad.npz")


def test_score_file_round_trip_and_join(tmp_path):
    ids, emb, trials, _ = random_case()
    scores = score_trials(trials, ids, emb)
    path = tmp_path / "scores.txt"
    write_scores(path, trials, scores)
    np.testing.assert_allclose(read_scores(path, trials), scores, rtol=1e-8)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(reversed(lines)) + "\n")
    np.testing.assert_allclose(read_scores(path, trials), scores, rtol=1e-8)


def test_score_file_mismatch_fails_loudly(tmp_path):
    trials = Trials(
        np.array([1, 0, 1], np.int8), ["a.wav", "a.wav", "b.wav"], ["b.wav", "c.wav", "c.wav"]
    )
    path = tmp_path / "scores.txt"
    path.write_text("a.wav b.wav 0.5\nb.wav c.wav 0.1\n")
    with pytest.raises(ScoreFileError, match="1 trial\\(s\\) have no score, e.g. a.wav c.wav"):
        read_scores(path, trials)
    path.write_text("a.wav b.wav 0.5\na.wav c.wav 0.2\nb.wav c.wav 0.1\nc.wav d.wav 0.3\n")
    with pytest.raises(
        ScoreFileError, match="1 scored pair\\(s\\) are not trials, e.g. c.wav d.wav"
    ):
        read_scores(path, trials)
    path.write_text("a.wav b.wav 0.5\na.wav c.wav x\nb.wav c.wav 0.1\n")
    with pytest.raises(ScoreFileError, match="scores.txt:2: score 'x' is not a number"):
        read_scores(path, trials)
    path.write_text("a.wav b.wav 0.5\na.wav c.wav\nb.wav c.wav 0.1\n")
    with pytest.raises(ScoreFileError, match="scores.txt:2: expected 3 fields"):
        read_scores(path, trials)


def test_score_cli_writes_cosine_and_asnorm(tmp_path):
    ids, emb, trials, rng = random_case()
    trials_path = tmp_path / "trials.txt"
    trials_path.write_text(
        "".join(
            f"{lab} {e} {t}\n"
            for lab, e, t in zip(trials.labels, trials.enroll, trials.test, strict=True)
        )
    )
    save_embeddings(tmp_path / "emb.npz", ids, emb)
    cohort = rng.normal(size=(10, emb.shape[1])).astype(np.float32)
    save_embeddings(tmp_path / "cohort.npz", [f"spk{i}" for i in range(10)], cohort)
    args = ["score", "--trials", str(trials_path), "--embeddings", str(tmp_path / "emb.npz")]
    assert main([*args, "--out", str(tmp_path / "cos.txt")]) == 0
    np.testing.assert_allclose(
        read_scores(tmp_path / "cos.txt", trials), score_trials(trials, ids, emb), rtol=1e-6
    )
    extra = ["--cohort", str(tmp_path / "cohort.npz"), "--top-k", "4"]
    assert main([*args, *extra, "--out", str(tmp_path / "as.txt")]) == 0
    np.testing.assert_allclose(
        read_scores(tmp_path / "as.txt", trials),
        score_trials(trials, ids, emb, cohort, top_k=4),
        rtol=1e-6,
    )


def test_cohort_from_shards_and_sharded_scoring(tmp_path):
    from voxsv.scoring import merge_embeddings, write_cohort

    ids, emb, trials, _ = random_case()
    save_embeddings(tmp_path / "a.npz", ids[:25], emb[:25])
    save_embeddings(tmp_path / "b.npz", ids[25:], emb[25:])
    merged_ids, merged = merge_embeddings([tmp_path / "a.npz", tmp_path / "b.npz"])
    assert merged_ids == ids
    np.testing.assert_array_equal(merged, emb)
    write_cohort([tmp_path / "a.npz", tmp_path / "b.npz"], tmp_path / "cohort.npz")
    speakers, means = load_embeddings(tmp_path / "cohort.npz")
    assert speakers == [f"id{i:05d}" for i in range(1, 8)]
    np.testing.assert_allclose(means, cohort_means(ids, emb)[1])
    save_embeddings(tmp_path / "c.npz", ids[24:25], emb[24:25])  # also in a.npz
    with pytest.raises(ValueError, match="1 id\\(s\\) appear in more than one"):
        merge_embeddings([tmp_path / "a.npz", tmp_path / "c.npz"])
