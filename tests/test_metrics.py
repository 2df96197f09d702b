"""EER and minDCF against hand-worked cases and an independent computation (scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from voxsv.cli import main
from voxsv.metrics import det_curve, eer, evaluate, min_dcf


def sklearn_reference(scores, labels, p_target):
    """SPEC's definitions read off scikit-learn's ROC with every threshold kept."""
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1 - tpr
    best = np.argmin(np.abs(fnr - fpr))
    cost = fnr * p_target + fpr * (1 - p_target)
    dcf = np.argmin(cost)
    norm = min(p_target, 1 - p_target)
    return 100 * fpr[best], thresholds[best], cost[dcf] / norm, thresholds[dcf]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("p_target", [0.01, 0.05])
def test_matches_scikit_learn(seed, tied, p_target):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 5000)
    scores = rng.normal(size=5000) + 1.5 * labels
    if tied:
        scores = np.round(scores, 1)  # many trials share each threshold
    eer_pct, eer_thr = eer(scores, labels)
    dcf, dcf_thr = min_dcf(scores, labels, p_target)
    ref = sklearn_reference(scores, labels, p_target)
    assert eer_pct == pytest.approx(ref[0], abs=1e-12)
    assert eer_thr == ref[1]
    assert dcf == pytest.approx(ref[2], abs=1e-12)
    assert dcf_thr == ref[3]


def test_hand_worked_case():
    # Sorted: 0.9 T, 0.8 N, 0.7 T, 0.6 N, 0.5 T, 0.4 N (3 targets, 3 non-targets).
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 0, 1, 0, 1, 0])
    fpr, fnr = det_curve(scores, labels)
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    np.testing.assert_allclose(fnr, [1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0, 0])
    # |FNR - FPR| is 0 only at threshold 0.7 (FNR = FPR = 1/3).
    pct, thr = eer(scores, labels)
    assert pct == pytest.approx(100 / 3)
    assert thr == 0.7
    # p = 0.5: cost = 0.5 * (fnr + fpr), normalised by 0.5; the minimum 2/3 is first at 0.9.
    dcf, thr = min_dcf(scores, labels, p_target=0.5 - 1e-12)
    assert dcf == pytest.approx(2 / 3)
    assert thr == 0.9


def test_ties_form_one_threshold():
    # A target and a non-target share 0.5: there is no point between them. |FNR - FPR| is 1/2
    # at both 0.9 (FPR 0) and 0.5 (FPR 1/2); without interpolation the first, 0.9, is taken.
    scores = np.array([0.5, 0.5, 0.9, 0.1])
    labels = np.array([1, 0, 1, 0])
    fpr, fnr = det_curve(scores, labels)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(fnr, [1, 0.5, 0, 0])
    assert eer(scores, labels) == (0.0, 0.9)


def test_perfect_separation_and_min_dcf_ceiling():
    labels = np.array([1, 1, 0, 0, 0])
    scores = np.array([3.0, 2.0, 1.0, 0.0, -1.0])
    assert eer(scores, labels)[0] == 0.0
    assert min_dcf(scores, labels)[0] == 0.0
    # Reversed scores: the best cost is accepting nothing, which normalises to exactly 1.
    assert min_dcf(-scores, labels) == (1.0, np.inf)


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="both target and non-target"):
        evaluate(np.array([0.1, 0.2]), np.array([1, 1]))


def test_eer_cli_prints_key_values(tmp_path, capsys):
    trials = tmp_path / "trials.txt"
    scores = tmp_path / "scores.txt"
    utts = [f"id1/v/{i:05d}.wav" for i in range(6)]
    trials.write_text("".join(f"{i % 2} {utts[i]} {utts[5 - i]}\n" for i in range(6)))
    values = [0.2, 0.9, 0.4, 0.8, 0.6, 0.7]
    # Written out of trial order: the reader joins on the utterance pair.
    scores.write_text("".join(f"{utts[i]} {utts[5 - i]} {values[i]}\n" for i in reversed(range(6))))
    assert main(["eer", "--trials", str(trials), "--scores", str(scores)]) == 0
    out = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert out["eer_pct"] == "0.0000"
    assert float(out["eer_threshold"]) == 0.7
    assert out["min_dcf"] == "0.0000"
    assert out["n_trials"] == "6"
