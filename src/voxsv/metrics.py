"""Verification metrics exactly as SPEC section 5: EER over all distinct thresholds, minDCF, DET.

A trial is accepted when its score is >= the threshold. The operating points are one per
distinct score (equal scores form one threshold) plus "accept nothing" (threshold +inf); this is
scikit-learn's `roc_curve(..., drop_intermediate=False)`, computed here with one sort so the
1.1M-trial lists take a fraction of a second and no test dependency is needed at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """The numbers reported for one trial list."""

    eer_pct: float
    eer_threshold: float
    min_dcf: float
    min_dcf_threshold: float
    p_target: float
    n_trials: int


def error_rates(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, false-negative rate and threshold at every operating point.

    Points are ordered by decreasing threshold, starting at +inf (nothing accepted).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be equal 1-D")
    if not np.isfinite(scores).all():
        raise ValueError(f"{np.count_nonzero(~np.isfinite(scores))} score(s) are NaN or inf")
    is_target = labels.astype(bool)
    n_target = int(is_target.sum())
    n_nontarget = len(labels) - n_target
    if n_target == 0 or n_nontarget == 0:
        raise ValueError(
            f"need both target and non-target trials (got {n_target} and {n_nontarget})"
        )
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    true_pos = np.cumsum(is_target[order])
    last_of_tie = np.append(np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1)
    true_pos = np.concatenate([[0], true_pos[last_of_tie]])
    false_pos = np.concatenate([[0], last_of_tie + 1]) - true_pos
    thresholds = np.concatenate([[np.inf], sorted_scores[last_of_tie]])
    return false_pos / n_nontarget, 1.0 - true_pos / n_target, thresholds


def eer(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(EER in percent, its threshold): the FPR at the point with the smallest |FNR - FPR|."""
    return _eer_of_rates(*error_rates(scores, labels))


def _eer_of_rates(
    fpr: np.ndarray, fnr: np.ndarray, thresholds: np.ndarray
) -> tuple[float, float]:
    """`eer` from the operating points of `error_rates`."""
    best = int(np.argmin(np.abs(fnr - fpr)))
    return 100.0 * float(fpr[best]), float(thresholds[best])


def min_dcf(
    scores: np.ndarray,
    labels: np.ndarray,
    p_target: float = 0.01,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
) -> tuple[float, float]:
    """(normalised minimum detection cost, its threshold) for the prior `p_target`."""
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    return _min_dcf_of_rates(*error_rates(scores, labels), p_target, c_miss, c_fa)


def _min_dcf_of_rates(
    fpr: np.ndarray,
    fnr: np.ndarray,
    thresholds: np.ndarray,
    p_target: float,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
) -> tuple[float, float]:
    """`min_dcf` from the operating points of `error_rates`."""
    cost = c_miss * fnr * p_target + c_fa * fpr * (1.0 - p_target)
    best = int(np.argmin(cost))
    norm = min(c_miss * p_target, c_fa * (1.0 - p_target))
    return float(cost[best] / norm), float(thresholds[best])


def det_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, FNR) at every operating point, for a DET plot."""
    fpr, fnr, _ = error_rates(scores, labels)
    return fpr, fnr


def evaluate(scores: np.ndarray, labels: np.ndarray, p_target: float = 0.01) -> Metrics:
    """EER and minDCF of one trial list's scores (one sort of the scores for both)."""
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    rates = error_rates(scores, labels)
    eer_pct, eer_threshold = _eer_of_rates(*rates)
    dcf, dcf_threshold = _min_dcf_of_rates(*rates, p_target)
    return Metrics(eer_pct, eer_threshold, dcf, dcf_threshold, p_target, len(labels))


def format_metrics(metrics: Metrics) -> str:
    """`key<TAB>value` lines as printed by `voxsv eer`."""
    rows = [
        ("eer_pct", f"{metrics.eer_pct:.4f}"),
        ("eer_threshold", f"{metrics.eer_threshold:.6g}"),
        ("min_dcf", f"{metrics.min_dcf:.4f}"),
        ("min_dcf_threshold", f"{metrics.min_dcf_threshold:.6g}"),
        ("p_target", f"{metrics.p_target:g}"),
        ("n_trials", str(metrics.n_trials)),
    ]
    return "".join(f"{key}\t{value}\n" for key, value in rows)
