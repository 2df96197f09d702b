"""DET figure of a model: panels, colours, line styles, EER and published-EER markers."""

from __future__ import annotations

import numpy as np
import pytest

from voxsv import plots
from voxsv.metrics import eer


def synthetic_run(tmp_path, name, stage, method, shift, published, seed):
    """Trial list and score file of one run: target scores `shift` above non-target ones."""
    rng = np.random.default_rng(seed)
    n = 2000
    labels = rng.integers(0, 2, n)
    scores = rng.normal(size=n) + shift * labels
    trials = tmp_path / f"{name}.txt"
    if not trials.exists():
        trials.write_text("".join(f"{lab} e{i}.wav t{i}.wav\n" for i, lab in enumerate(labels)))
    else:  # one trial list per panel: reuse its labels
        labels = np.array([int(line[0]) for line in trials.read_text().splitlines()])
        scores = rng.normal(size=n) + shift * labels
    path = tmp_path / f"{stage}_{method}_{name}.txt"
    path.write_text("".join(f"e{i}.wav t{i}.wav {s:.6f}\n" for i, s in enumerate(scores)))
    run = {
        "trials": name,
        "stage": stage,
        "method": method,
        "trials_path": str(trials),
        "scores": str(path),
        "published_eer": published,
    }
    return run, scores, labels


def test_eer_point_is_the_metrics_eer():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = rng.normal(size=500) + 2 * labels
    from voxsv.metrics import det_curve

    fpr, _ = plots.eer_point(*det_curve(scores, labels))
    assert 100 * fpr == pytest.approx(eer(scores, labels)[0])


def test_det_figure_has_a_panel_per_list_and_marks_each_eer(tmp_path):
    import matplotlib.pyplot as plt

    runs, expected = [], {}
    seed = 0
    for name in ("O", "E"):
        for stage, shift in (("pretrain", 2.0), ("lmft", 3.0)):
            for method, published in (("cosine", 1.5), ("asnorm", None)):
                seed += 1
                run, scores, labels = synthetic_run(
                    tmp_path,
                    name,
                    stage,
                    method,
                    shift,
                    published if stage == "lmft" else None,
                    seed,
                )
                runs.append(run)
                expected[(name, stage, method)] = eer(scores, labels)[0]
    plots.plot_model_det(runs, tmp_path / "det.png", "m: DET curves")
    image = plt.imread(tmp_path / "det.png")
    assert image.shape[1] > 1.5 * image.shape[0]  # two panels side by side

    from voxsv.metrics import det_curve
    from voxsv.score_files import read_scores
    from voxsv.trials import read_trials

    curves = []
    for run in runs:
        trials = read_trials(run["trials_path"])
        curves.append((run, det_curve(read_scores(run["scores"], trials), trials.labels)))
    fig = plots.det_figure(curves, "m")
    try:
        axes = fig.axes
        assert [ax.get_title() for ax in axes] == ["VoxCeleb1-O", "VoxCeleb1-E"]
        for ax, name in zip(axes, ("O", "E"), strict=True):
            lines = {
                gid: [line for line in ax.lines if line.get_gid() == gid]
                for gid in ("curve", "eer", "published")
            }
            assert len(lines["curve"]) == 4 and len(lines["eer"]) == 4
            styles = {(line.get_color(), line.get_linestyle()) for line in lines["curve"]}
            assert len(styles) == 4  # colour per method x line style per stage
            assert {line.get_linestyle() for line in lines["curve"]} == {"--", "-"}
            eer_x = sorted(float(line.get_xdata()[0]) for line in lines["eer"])
            want = sorted(
                float(plots.probit(np.array(v / 100))) for k, v in expected.items() if k[0] == name
            )
            np.testing.assert_allclose(eer_x, want, atol=1e-9)
            (star,) = lines["published"]  # lmft cosine only
            assert float(star.get_xdata()[0]) == pytest.approx(float(plots.probit(0.015)))
            assert star.get_color() == next(
                line.get_color()
                for line in lines["curve"]
                if line.get_linestyle() == "-" and line.get_color() == star.get_color()
            )
        legend = fig.legends[0]
        assert [t.get_text() for t in legend.get_texts()] == [
            "cosine",
            "asnorm",
            "pretrain",
            "lmft",
            "EER",
            "published EER",
        ]
    finally:
        plt.close(fig)


def test_thin_keeps_ends_and_bounds_points(tmp_path):
    from voxsv.metrics import det_curve

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 50_000)
    fpr, fnr = det_curve(rng.normal(size=50_000) + labels, labels)
    x, y = plots.thin(fpr, fnr, n=500)
    assert len(x) <= 500 and x[0] == fpr[0] and y[0] == fnr[0]
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) <= 0)
    run = {"trials": "O", "stage": "lmft", "method": "cosine", "published_eer": None}
    plots.plot_det([(run, (fpr, fnr))], tmp_path / "one.png", "one curve")  # 50,000 points
    assert (tmp_path / "one.png").stat().st_size > 0
