"""DET curves: every stage and scoring back-end of one model on one plot, normal-deviate axes."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from voxsv.atomic import atomic_path

TICKS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]
LIMITS = (0.0005, 0.5)
MAX_POINTS = 4000  # a DET curve of a million trials is thinned to this many points


def probit(p: np.ndarray) -> np.ndarray:
    """Normal deviate of probabilities (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    return torch.special.ndtri(torch.from_numpy(p)).numpy()


PLOT_RANGE = tuple(probit(np.array(LIMITS)).tolist())


def thin(x: np.ndarray, y: np.ndarray, n: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most about `n` points of a plotted curve, evenly spaced along its length, ends kept."""
    if len(x) <= n:
        return x, y
    visible = np.clip(x, *PLOT_RANGE), np.clip(y, *PLOT_RANGE)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*(np.diff(v) for v in visible)))])
    keep = np.unique(np.searchsorted(arc, np.linspace(0.0, arc[-1], n)).clip(0, len(x) - 1))
    return x[keep], y[keep]


def plot_det(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike, title: str
) -> None:
    """Write a PNG of DET curves; `curves` maps a legend label to (FPR, FNR) arrays."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    try:
        for label, (fpr, fnr) in curves.items():
            ax.plot(*thin(probit(fpr), probit(fnr)), label=label, linewidth=1.2)
        ticks = probit(np.array(TICKS))
        labels = [f"{100 * t:g}" for t in TICKS]
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_ticks(ticks, labels)
        ax.set_xlim(*PLOT_RANGE)
        ax.set_ylim(*PLOT_RANGE)
        ax.set_xlabel("false acceptance rate (%)")
        ax.set_ylabel("false rejection rate (%)")
        ax.set_title(title)
        ax.grid(True, linewidth=0.4)
        ax.legend(loc="upper right", fontsize="small")
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)


def plot_model_det(
    runs: Mapping[str, tuple[str | os.PathLike, str | os.PathLike]],
    path: str | os.PathLike,
    title: str,
) -> None:
    """DET plot of one model: `runs` maps a label (e.g. `lmft asnorm, O`) to (trials, scores)."""
    from voxsv.metrics import det_curve
    from voxsv.scoring import read_scores
    from voxsv.trials import read_trials

    curves = {}
    for label, (trials_path, scores_path) in runs.items():
        trials = read_trials(trials_path)
        curves[label] = det_curve(read_scores(scores_path, trials), trials.labels)
    plot_det(curves, path, title)
