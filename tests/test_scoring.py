"""Cosine and AS-norm scoring against a direct per-trial computation; stores and score files."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from voxsv import scoring
from voxsv.cli import main
from voxsv.score_files import read_scores
from voxsv.scoring import (
    MissingEmbeddingError,
    cohort_means,
    load_embeddings,
    save_embeddings,
    score_trials,
)
from voxsv.trials import Trials


def random_case(seed=0, n_utts=40, n_trials=300, dim=16):
    rng = np.random.default_rng(seed)
    ids = [f"id{1 + i % 7:05d}/vid{i:03d}/00001.wav" for i in range(n_utts)]
    embeddings = rng.normal(size=(n_utts, dim)).astype(np.float32) * rng.uniform(
        0.5, 3.0, (n_utts, 1)
    )
    pairs = rng.choice(n_utts * n_utts, n_trials, replace=False)  # each ordered pair once
    a, b = pairs // n_utts, pairs % n_utts
    trials = Trials(
        labels=rng.integers(0, 2, n_trials).astype(np.int8),
        enroll=[ids[i] for i in a],
        test=[ids[i] for i in b],
    )
    return ids, embeddings.astype(np.float32), trials, rng


def write_trials(path, trials):
    """A trial list file of `trials` (`<label> <enroll> <test>` lines); returns its path."""
    rows = zip(trials.labels, trials.enroll, trials.test, strict=True)
    path.write_text("".join(f"{lab} {e} {t}\n" for lab, e, t in rows))
    return path


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

    def stats(x):  # SPEC: dot products with the cohort vectors as stored (not normalised)
        top = np.sort([np.dot(x / np.linalg.norm(x), c) for c in cohort])[::-1][:top_k]
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


def test_stores_are_mapped_when_stored_and_read_alike_when_compressed(tmp_path):
    ids, emb, _, _ = random_case()
    emb[0] = 3e19  # its squared norm overflows float32: finite all the same
    emb[1] = 1e-30  # its squared norm underflows to zero: not all zero all the same
    save_embeddings(tmp_path / "stored.npz", ids, emb)
    np.savez_compressed(tmp_path / "packed.npz", ids=np.array(ids), embeddings=emb)
    mapped = scoring.map_npz(tmp_path / "stored.npz", ("ids", "embeddings"))
    assert mapped is not None and not mapped["embeddings"].flags.writeable
    assert scoring.map_npz(tmp_path / "packed.npz", ("ids", "embeddings")) is None
    for name in ("stored.npz", "packed.npz"):
        got_ids, got = load_embeddings(tmp_path / name)
        assert got_ids == ids
        np.testing.assert_array_equal(got, emb)


@pytest.mark.parametrize(
    ("value", "what"),
    [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (None, "all zero")],
)
def test_embeddings_store_names_each_bad_row(tmp_path, value, what):
    ids, emb, _, _ = random_case()
    if value is None:
        emb[[3, 5]] = 0.0
    else:
        emb[[3, 5], 2] = value
    save_embeddings(tmp_path / "bad.npz", ids, emb)
    with pytest.raises(ValueError, match=f"bad.npz: 2 embedding.s. are {what}: {ids[3]}, {ids[5]}"):
        load_embeddings(tmp_path / "bad.npz")


def test_score_cli_writes_cosine_and_asnorm(tmp_path):
    ids, emb, trials, rng = random_case()
    trials_path = write_trials(tmp_path / "trials.txt", trials)
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


def asnorm_reference(emb, ids, trials, cohort, top_k):
    """SPEC section 5 written out per trial: top-k dot products with the cohort as given."""
    row = {u: i for i, u in enumerate(ids)}

    def stats(x):
        top = np.sort(cohort.astype(np.float64) @ (x / np.linalg.norm(x)))[::-1][:top_k]
        return top.mean(), top.std()

    out = []
    for e, t in zip(trials.enroll, trials.test, strict=True):
        x, y = emb[row[e]].astype(np.float64), emb[row[t]].astype(np.float64)
        s = cos(x, y)
        (m1, d1), (m2, d2) = stats(x), stats(y)
        out.append(0.5 * ((s - m1) / d1 + (s - m2) / d2))
    return np.array(out)


def test_inconsistent_cohort_speaker_keeps_a_shorter_unnormalised_mean(tmp_path):
    from voxsv.scoring import write_cohort

    ids, emb, trials, rng = random_case(seed=3)
    dim = emb.shape[1]
    # cohort speaker c1: four nearly equal embeddings; c2: four unrelated ones; c3..c8 random
    base = rng.normal(size=dim)
    cohort_emb = [base * s + 0.01 * rng.normal(size=dim) for s in (1.0, 2.0, 0.5, 3.0)]
    cohort_emb += list(rng.normal(size=(4 + 6 * 3, dim)))
    speakers = ["c1"] * 4 + ["c2"] * 4 + [f"c{3 + i // 3}" for i in range(18)]
    cohort_ids = [f"{spk}/v/{n:05d}.wav" for n, spk in enumerate(speakers)]
    save_embeddings(tmp_path / "cohort_shard.npz", cohort_ids, np.array(cohort_emb, np.float32))
    write_cohort([tmp_path / "cohort_shard.npz"], tmp_path / "cohort.npz")
    names, cohort = load_embeddings(tmp_path / "cohort.npz")
    lengths = dict(zip(names, np.linalg.norm(cohort, axis=1).tolist(), strict=True))
    assert lengths["c1"] == pytest.approx(1.0, abs=1e-3)  # consistent: about unit length
    assert lengths["c2"] < 0.8  # inconsistent: a shorter mean, kept as it is
    # the reference: means of the normalised embeddings, written out here
    unit = [np.asarray(v, np.float64) / np.linalg.norm(v) for v in cohort_emb]
    means = np.array(
        [np.mean([u for u, s in zip(unit, speakers, strict=True) if s == n], axis=0) for n in names]
    )
    np.testing.assert_allclose(cohort, means, rtol=1e-5, atol=1e-6)
    expected = asnorm_reference(emb, ids, trials, means, top_k=3)
    got = score_trials(trials, ids, emb, cohort, top_k=3)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def previous_case():
    """The inputs that tests/data/scoring_previous_*.txt were scored from (by the scoring code
    before the cohort-statistics rewrite; its cohort is of unit vectors, so normalising the
    cohort or not gives the same scores)."""
    rng = np.random.default_rng(2026)
    n_utts, dim = 50, 16
    ids = [f"id{1 + i % 7:05d}/vid{i:03d}/00001.wav" for i in range(n_utts)]
    noise = rng.standard_normal((n_utts, dim))
    emb = (noise * rng.uniform(0.5, 3.0, (n_utts, 1))).astype(np.float32)
    cohort = rng.standard_normal((30, dim))
    cohort = (cohort / np.linalg.norm(cohort, axis=1, keepdims=True)).astype(np.float32)
    pairs = rng.choice(n_utts * n_utts, 400, replace=False)
    labels = rng.integers(0, 2, 400)
    rows = zip(labels, pairs // n_utts, pairs % n_utts, strict=True)
    lines = "".join(f"{lab} {ids[e]} {ids[t]}\n" for lab, e, t in rows)
    return ids, emb, cohort, lines


@pytest.mark.parametrize("method", ["cosine", "asnorm"])
def test_scores_equal_the_previous_implementation(tmp_path, method):
    from pathlib import Path

    ids, emb, cohort, lines = previous_case()
    (tmp_path / "trials.txt").write_text(lines)
    save_embeddings(tmp_path / "emb.npz", ids, emb)
    save_embeddings(tmp_path / "cohort.npz", [f"s{i}" for i in range(len(cohort))], cohort)
    args = ["score", "--trials", str(tmp_path / "trials.txt")]
    args += ["--embeddings", str(tmp_path / "emb.npz"), "--out", str(tmp_path / "new.txt")]
    if method == "asnorm":
        args += ["--cohort", str(tmp_path / "cohort.npz"), "--top-k", "10"]
    assert main(args) == 0
    previous = Path(__file__).parent / "data" / f"scoring_previous_{method}.txt"
    old = [line.split() for line in previous.read_text().splitlines()]
    new = [line.split() for line in (tmp_path / "new.txt").read_text().splitlines()]
    assert [row[:2] for row in new] == [row[:2] for row in old]
    np.testing.assert_allclose(
        [float(row[2]) for row in new], [float(row[2]) for row in old], rtol=1e-5, atol=1e-5
    )


def save_model(path, weight):
    import torch

    torch.save({"arch": "x", "head": {"weight": torch.from_numpy(weight)}}, path)


def test_head_cohort_is_every_normalised_weight_vector(tmp_path):
    from voxsv.scoring import head_cohort

    rng = np.random.default_rng(4)
    classes, subcenters, dim = 6, 2, 16
    weight = rng.normal(size=(classes * subcenters, dim)).astype(np.float32) * 3
    save_model(tmp_path / "model.pt", weight)
    cohort = head_cohort(tmp_path / "model.pt")
    # as export_projection_weight.py: every sub-centre of every class, each L2-normalised
    np.testing.assert_allclose(
        cohort, weight / np.linalg.norm(weight, axis=1, keepdims=True), rtol=1e-6
    )
    # the same vectors stored in the original's [K, D, C] layout
    tf_layout = weight.reshape(classes, subcenters, dim).transpose(1, 2, 0).copy()
    save_model(tmp_path / "tf.pt", tf_layout)
    by_row = {tuple(np.round(r, 5)) for r in head_cohort(tmp_path / "tf.pt")}
    assert by_row == {tuple(np.round(r, 5)) for r in cohort}
    torch_free = tmp_path / "nohead.pt"
    import torch

    torch.save({"arch": "x"}, torch_free)
    with pytest.raises(ValueError, match="nohead.pt: no classifier weights"):
        head_cohort(torch_free)


def test_asnorm_head_scores_match_the_reference(tmp_path):
    ids, emb, trials, rng = random_case(seed=5)
    weight = rng.normal(size=(10, emb.shape[1])).astype(np.float32) * 5
    save_model(tmp_path / "model.pt", weight)
    unit = weight / np.linalg.norm(weight, axis=1, keepdims=True)
    expected = asnorm_reference(emb, ids, trials, unit, top_k=4)
    trials_path = write_trials(tmp_path / "trials.txt", trials)
    save_embeddings(tmp_path / "emb.npz", ids, emb)
    args = ["score", "--trials", str(trials_path), "--embeddings", str(tmp_path / "emb.npz")]
    args += ["--head-cohort", str(tmp_path / "model.pt"), "--top-k", "4"]
    assert main([*args, "--out", str(tmp_path / "as.txt")]) == 0
    np.testing.assert_allclose(
        read_scores(tmp_path / "as.txt", trials), expected, rtol=1e-4, atol=1e-4
    )


def test_stored_stats_give_the_same_scores_for_every_trial_list(tmp_path):
    from voxsv.scoring import load_stats, save_stats, utterance_stats

    ids, emb, trials, rng = random_case(seed=6)
    cohort = rng.normal(size=(15, emb.shape[1])).astype(np.float32)
    save_stats(tmp_path / "stats.npz", utterance_stats(ids, emb, cohort, top_k=5))
    stats = load_stats(tmp_path / "stats.npz")
    assert (stats.top_k, stats.cohort_size, stats.ids) == (5, 15, ids)
    direct = score_trials(trials, ids, emb, cohort, top_k=5)
    np.testing.assert_allclose(
        score_trials(trials, ids, emb, stats=stats), direct, rtol=1e-5, atol=1e-5
    )
    half = Trials(trials.labels[:100], trials.enroll[:100], trials.test[:100])
    np.testing.assert_allclose(
        score_trials(half, ids, emb, stats=stats), direct[:100], rtol=1e-5, atol=1e-5
    )
    short = type(stats)(stats.ids[1:], stats.mean[1:], stats.std[1:], 5, 15)
    wanted = [u for u in ids if u in set(trials.enroll) | set(trials.test)]
    if ids[0] in wanted:
        with pytest.raises(MissingEmbeddingError, match="no cohort statistics"):
            score_trials(trials, ids, emb, stats=short)


def test_statistics_started_ahead_equal_those_computed_for_the_rows(monkeypatch):
    import sys

    from threadpoolctl import threadpool_info

    from voxsv.scoring import StatsJob, cohort_stats

    monkeypatch.setattr(scoring, "ROW_CHUNK", 8)  # many blocks: some ahead, some after
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(300, 16)).astype(np.float32)
    cohort = rng.normal(size=(40, 16)).astype(np.float32)
    mean, std = cohort_stats(emb, cohort, 7)
    blas = [lib["num_threads"] for lib in threadpool_info()]
    interval = sys.getswitchinterval()
    for rows in (np.arange(300), np.arange(0, 300, 7), np.array([299])):
        with StatsJob(emb, cohort, 7) as job:
            job.only(rows)
            got_mean, got_std = job.result()
        np.testing.assert_array_equal(got_mean[rows], mean[rows])
        np.testing.assert_array_equal(got_std[rows], std[rows])
    # the moments are numpy's mean and std of the top 7 scores (of a float32 product: noise)
    scores = (emb / np.linalg.norm(emb, axis=1, keepdims=True)) @ cohort.T
    top = np.sort(scores, axis=1)[:, -7:].astype(np.float64)
    np.testing.assert_allclose(mean, top.mean(axis=1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std, top.std(axis=1), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError), StatsJob(emb, cohort, 7):  # left early: threads stop
        raise RuntimeError
    assert [lib["num_threads"] for lib in threadpool_info()] == blas
    assert sys.getswitchinterval() == interval


def test_registry_names_the_inputs_of_each_method():
    from voxsv import scoring_methods as sm

    assert sm.score_inputs("cosine") == ("embeddings",)
    assert sm.stats_inputs("cosine") == ()
    assert sm.score_inputs("asnorm") == ("embeddings", "cohort_stats")
    assert sm.stats_inputs("asnorm") == ("embeddings", "cohort_embeddings")
    assert sm.stats_inputs("asnorm_head") == ("embeddings", "head_weights")
    with pytest.raises(ValueError, match="unknown scoring method 'plda'"):
        sm.get_method("plda")
