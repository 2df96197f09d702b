"""The embedded default end to end: every stage's outputs, training that learns, and a best
model at most half the mean-FBANK baseline's EER on the mini O list (slow: one full run)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from lhotse import CutSet
from workflow_support import REPO, run_snakemake

from voxsv.metrics import eer
from voxsv.scoring import score_trials
from voxsv.trials import read_trials

pytestmark = pytest.mark.slow

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
MODELS = list(CONFIG["models"])
STAGES = ("pretrain", "lmft")
SCORINGS = tuple(CONFIG["scoring"]["methods"])
LOG_HEADER = "step epoch lr margin loss accuracy segments_per_s skipped_steps".split()


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_every_result_table_has_a_row_per_trial_list(default_run: Path) -> None:
    for model in MODELS:
        for stage in STAGES:
            for scoring in SCORINGS:
                rows = read_tsv(default_run / f"results/{model}_{stage}_{scoring}.tsv")
                assert [r["trials"] for r in rows] == list(CONFIG["trials"])
                for row in rows:
                    assert 0.0 <= float(row["eer_pct"]) <= 100.0
                    assert float(row["p_target"]) == 0.01
                    assert int(row["n_trials"]) > 0


def test_summary_plots_and_exported_models_exist(default_run: Path) -> None:
    summary = read_tsv(default_run / "results/summary.tsv")
    assert len(summary) == len(MODELS) * len(STAGES) * len(SCORINGS)
    assert (default_run / "results/summary.md").read_text().startswith("|")
    for model in MODELS:
        assert (default_run / f"results/det/{model}.png").read_bytes()[:4] == b"\x89PNG"
        for stage in STAGES:
            assert (default_run / f"exp/{model}/{stage}/model.onnx").stat().st_size > 0


def stage_config(model: str, stage: str) -> dict:
    overrides = CONFIG["train"].get("model_overrides", {}).get(model, {}).get(stage, {})
    return {**CONFIG["train"][stage], **overrides}


def test_training_logs_every_step_and_loss_falls(default_run: Path) -> None:
    """Every step is logged; while the margin is still 0 (warm-up), each model's loss falls.
    (The margin ramp that follows raises the loss by design, so a whole-run comparison would
    measure the schedule, not learning; the best model must also end below its start.)"""
    final_vs_start = []
    for model in MODELS:
        pretrain = stage_config(model, "pretrain")
        steps_per_epoch = pretrain["steps_per_epoch"]
        steps = pretrain["epochs"] * steps_per_epoch
        rows = read_tsv(default_run / f"exp/{model}/pretrain/train_log.tsv")
        assert list(rows[0]) == LOG_HEADER
        assert [int(r["step"]) for r in rows] == list(range(steps))
        loss = np.array([float(r["loss"]) for r in rows])
        warmup_end = pretrain["warmup_epochs"] * steps_per_epoch
        assert all(float(r["margin"]) == 0.0 for r in rows[:warmup_end])
        first, last = loss[:steps_per_epoch], loss[warmup_end - steps_per_epoch : warmup_end]
        assert last.mean() < first.mean(), model
        final_vs_start.append(loss[-steps_per_epoch:].mean() / first.mean())
        lmft = read_tsv(default_run / f"exp/{model}/lmft/train_log.tsv")
        assert int(lmft[0]["step"]) == steps
        assert {float(r["margin"]) for r in lmft} == {CONFIG["train"]["lmft"]["margin"]}
    assert min(final_vs_start) < 1.0


def mean_fbank_baseline_eer(workdir: Path) -> float:
    """EER on O of cosine scoring of per-utterance mean log-FBANK, global mean subtracted."""
    cuts = CutSet.from_file(workdir / "data/fbank/vox1/shard0.jsonl.gz")
    cuts = cuts.with_features_path_prefix(str(workdir))  # storage paths are workdir-relative
    ids = [cut.id for cut in cuts]
    means = np.stack([cut.load_features().mean(axis=0) for cut in cuts])
    trials = read_trials(workdir / CONFIG["trials"]["O"])
    return eer(score_trials(trials, ids, means - means.mean(axis=0)), trials.labels)[0]


def test_best_model_halves_the_mean_fbank_baseline(default_run: Path) -> None:
    baseline = mean_fbank_baseline_eer(default_run)
    assert baseline >= 20.0
    best = min(
        float(read_tsv(default_run / f"results/{model}_lmft_asnorm.tsv")[0]["eer_pct"])
        for model in MODELS
    )
    assert best <= baseline / 2, (best, baseline)


def test_report_includes_tables_and_plots(default_run: Path) -> None:
    result = run_snakemake(default_run, "--report", "report.html", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (default_run / "report.html").read_text(errors="replace")
    assert "summary.tsv" in report and "det" in report


def test_rerun_is_up_to_date(default_run: Path) -> None:
    result = run_snakemake(default_run, "-n", "--cores", "2")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr
