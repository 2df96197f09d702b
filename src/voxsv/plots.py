"""DET figures of one model: a panel per trial list, a colour per scoring method, a line style per
training stage, normal-deviate axes; the EER point of each curve and the published EER of the
same configuration (on the EER diagonal) are marked, and one legend sits below the panels."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TypedDict

import numpy as np
import torch

from voxsv.atomic import atomic_path

TICKS = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]
LIMITS = (0.0005, 0.5)
MAX_POINTS = 4000  # a DET curve of a million trials is thinned to this many points


def probit(p: np.ndarray) -> np.ndarray:
    """Normal deviate of probabilities (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    return torch.special.ndtri(torch.as_tensor(np.asarray(p))).numpy()


PLOT_RANGE = tuple(probit(np.array(LIMITS)).tolist())


def thin(x: np.ndarray, y: np.ndarray, n: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most about `n` points of a plotted curve, evenly spaced along its length, ends kept."""
    if len(x) <= n:
        return x, y
    visible = np.clip(x, *PLOT_RANGE), np.clip(y, *PLOT_RANGE)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*(np.diff(v) for v in visible)))])
    keep = np.unique(np.searchsorted(arc, np.linspace(0.0, arc[-1], n)).clip(0, len(x) - 1))
    return x[keep], y[keep]


STAGE_STYLES = {"pretrain": "--", "lmft": "-"}
OTHER_STYLES = (":", "-.")


class DetRun(TypedDict):
    """One curve of a DET figure (what rule det_plot passes per run)."""

    trials: str  # trial-list name (panel)
    stage: str
    method: str
    trials_path: str
    scores: str
    published_eer: float | None  # percent, from reference_results.tsv; None if unpublished


def plot_model_det(runs: Sequence[DetRun], path: str | os.PathLike, title: str) -> None:
    """Read each run's trial list and scores and draw the DET figure of one model."""
    from voxsv.metrics import det_curve
    from voxsv.score_files import labelled_scores

    curves = []
    for run in runs:
        labels, values = labelled_scores(run["trials_path"], run["scores"])
        curves.append((run, det_curve(values, labels)))
    plot_det(curves, path, title)


def eer_point(fpr: np.ndarray, fnr: np.ndarray) -> tuple[float, float]:
    """(FPR, FNR) at the EER operating point: the smallest |FNR - FPR| (voxsv.metrics.eer)."""
    best = int(np.argmin(np.abs(fnr - fpr)))
    return float(fpr[best]), float(fnr[best])


def plot_det(
    curves: Sequence[tuple[Mapping, tuple[np.ndarray, np.ndarray]]],
    path: str | os.PathLike,
    title: str,
) -> None:
    """Write the PNG: `curves` are (run, (FPR, FNR)) with run keys as in `DetRun`."""
    fig = det_figure(curves, title)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def det_figure(curves: Sequence[tuple[Mapping, tuple[np.ndarray, np.ndarray]]], title: str):
    """The matplotlib figure of `plot_det` (Agg backend; the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    panels = list(dict.fromkeys(run["trials"] for run, _ in curves))
    methods = list(dict.fromkeys(run["method"] for run, _ in curves))
    stages = list(dict.fromkeys(run["stage"] for run, _ in curves))
    colour = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    extra = iter(OTHER_STYLES * len(stages))
    style = {s: STAGE_STYLES.get(s) or next(extra) for s in stages}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.6 * len(panels), 4.8), squeeze=False, sharey=True
    )
    ticks = probit(np.array(TICKS))
    labels = [f"{100 * t:g}" for t in TICKS]
    for ax, name in zip(axes[0], panels, strict=True):
        ax.plot(PLOT_RANGE, PLOT_RANGE, color="0.75", linewidth=0.6, zorder=1)  # FPR = FNR
        for run, (fpr, fnr) in curves:
            if run["trials"] != name:
                continue
            c = colour[run["method"]]
            ax.plot(
                *thin(probit(fpr), probit(fnr)),
                color=c,
                linestyle=style[run["stage"]],
                linewidth=1.3,
                zorder=2,
                gid="curve",
            )
            ax.plot(
                *probit(np.array(eer_point(fpr, fnr))),
                "o",
                color=c,
                markersize=5,
                markeredgecolor="white",
                markeredgewidth=0.6,
                zorder=3,
                gid="eer",
            )
            if run.get("published_eer") is not None:
                p = probit(np.array(run["published_eer"] / 100.0))
                ax.plot(
                    p,
                    p,
                    "*",
                    color=c,
                    markersize=10,
                    markeredgecolor="black",
                    markeredgewidth=0.5,
                    zorder=4,
                    gid="published",
                )
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_ticks(ticks, labels)
        ax.set_xlim(*PLOT_RANGE)
        ax.set_ylim(*PLOT_RANGE)
        ax.set_aspect("equal")
        ax.set_xlabel("false acceptance rate (%)")
        ax.set_title(f"VoxCeleb1-{name}" if name in ("O", "E", "H") else name)
        ax.grid(True, linewidth=0.4, alpha=0.6)
    axes[0][0].set_ylabel("false rejection rate (%)")
    handles = [Line2D([], [], color=colour[m], linewidth=2, label=m) for m in methods]
    handles += [Line2D([], [], color="0.3", linestyle=style[s], label=s) for s in stages]
    handles += [
        Line2D([], [], color="0.3", marker="o", linestyle="", label="EER"),
        Line2D(
            [],
            [],
            color="0.3",
            marker="*",
            markersize=10,
            markeredgecolor="black",
            linestyle="",
            label="published EER",
        ),
    ]
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.legend(  # below the panels (bbox_inches="tight" keeps it), never over a curve
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.03),
        ncol=len(handles),
        frameon=False,
        fontsize="small",
    )
    return fig
