"""Score files: written in trial order, read against their trial list (in order: as bytes; in
any other order: joined by pair), every mismatch an error naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from test_scoring import random_case, write_trials

from voxsv import score_files
from voxsv.score_files import ScoreFileError, labelled_scores, read_scores, write_scores
from voxsv.scoring import score_trials
from voxsv.trials import Trials, TrialsError, read_trials


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


def test_score_lines_are_those_python_formats(tmp_path, monkeypatch):
    # every kind of value "%.9g" formats: with and without an exponent, rounding that carries
    # into another digit, ties, zeros, NaN and infinities; chunks of 1,000 lines
    monkeypatch.setattr(score_files, "WRITE_CHUNK", 1000)
    rng = np.random.default_rng(5)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, 10.0, 1e8, 1e9, 999999999.5, 9.9999999996,
               1e-4, 9.999999999e-5, 123456789.0, 0.5, 2.5, 1.25, 5e-324, 1.7976931348623157e308]
    values = np.concatenate([
        rng.normal(size=3000) * 3,
        rng.normal(size=1000) * 1e-3,
        10.0 ** rng.uniform(-12, 14, 1000) * rng.choice([-1, 1], 1000),
        rng.integers(-(10**9), 10**9, 1000) / 10.0 ** rng.integers(0, 12, 1000),
        special,
    ])  # fmt: skip
    names = [f"id{i:05d}/vid/{i:05d}.wav" for i in range(40)] + ["é/ü.wav", "x"]
    enroll, test = rng.integers(0, len(names), (2, len(values)))
    trials = Trials(np.zeros(len(values), np.int8), [names[i] for i in enroll],
                    [names[i] for i in test])  # fmt: skip
    write_scores(tmp_path / "scores.txt", trials, values)
    lines = zip(trials.enroll, trials.test, values.tolist(), strict=True)
    want = "".join(f"{e} {t} {'%.9g' % v}\n" for e, t, v in lines)  # noqa: UP031
    assert (tmp_path / "scores.txt").read_text(encoding="utf-8") == want


def _general(trials_path, scores_path):
    """What the general path reads: the trial list, then its scores joined by pair."""
    trials = read_trials(trials_path)
    return trials.labels, read_scores(scores_path, trials)


def _in_order_case(tmp_path):
    ids, emb, trials, rng = random_case(n_trials=500)
    trials_path = write_trials(tmp_path / "trials.txt", trials)
    scores_path = tmp_path / "scores.txt"
    write_scores(scores_path, trials, score_trials(trials, ids, emb))
    return trials_path, scores_path, rng


def test_a_score_file_in_list_order_is_read_as_bytes(tmp_path, monkeypatch):
    trials_path, scores_path, _ = _in_order_case(tmp_path)
    labels, values = _general(trials_path, scores_path)
    monkeypatch.setattr(score_files, "read_trials", None)  # the general path would fail
    got_labels, got = labelled_scores(trials_path, scores_path)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(got, values)
    # other whitespace and blank lines in either file are the same fields
    trials_path.write_text("\n" + trials_path.read_text().replace(" ", "\t", 50))
    scores_path.write_text(scores_path.read_text().replace("\n", "\n\n", 50))
    got_labels, got = labelled_scores(trials_path, scores_path)
    np.testing.assert_array_equal(got, values)


def _reorder(lines):
    return lines[::-1]


def _repeat_first(lines):
    return lines + lines[:1]


def _rename(lines):
    return [lines[0].replace(".wav", ".flac", 1), *lines[1:]]


def _drop_last(lines):
    return lines[:-1]


def _bad_score(lines):
    return [lines[0].rsplit(" ", 1)[0] + " x", *lines[1:]]


def _bad_label(lines):
    return ["x" + lines[0][1:], *lines[1:]]


@pytest.mark.parametrize(
    ("change_scores", "change_trials", "error"),
    [
        (_reorder, None, None),
        (_repeat_first, _repeat_first, None),  # a pair listed twice counts once
        (_rename, None, "1 trial\\(s\\) have no score"),
        (_drop_last, None, "1 trial\\(s\\) have no score"),
        (_bad_score, None, "scores.txt:1: score 'x' is not a number"),
        (None, _bad_label, "trials.txt:1: label must be 0 or 1"),
    ],
)
def test_anything_else_is_read_by_the_general_path(tmp_path, change_scores, change_trials, error):
    trials_path, scores_path, _ = _in_order_case(tmp_path)
    for change, path in ((change_scores, scores_path), (change_trials, trials_path)):
        if change is not None:
            lines = path.read_text().splitlines()
            path.write_text("\n".join(change(lines)) + "\n")
    assert score_files._scores_in_list_order(trials_path, scores_path) is None
    if error is not None:
        with pytest.raises((ScoreFileError, TrialsError), match=error):
            labelled_scores(trials_path, scores_path)
        return
    labels, values = labelled_scores(trials_path, scores_path)
    want_labels, want = _general(trials_path, scores_path)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_array_equal(values, want)
    assert len(values) == 500
