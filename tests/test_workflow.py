"""The embedded default end to end (slow: one full local run, shared with the SLURM test):
every result recomputed from the score files it came from, scores from the embeddings, the
exported models against the embeddings, the report's embedded files, training that learns, a
best model at most half the mean-FBANK baseline's EER, and reruns that redo only what changed."""

from __future__ import annotations

import base64
import contextlib
import csv
import re
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import yaml
from lhotse import CutSet
from sklearn.metrics import roc_curve
from workflow_support import REPO, copy_data_stage, planned_jobs, run_snakemake

from voxsv import artifacts
from voxsv.baseline import baseline_metrics
from voxsv.configuration import load
from voxsv.experiments import resolve
from voxsv.features import sliding_cmn

pytestmark = pytest.mark.slow

CONFIG = load(yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
              REPO / "config" / "schema.yaml")
EXPERIMENTS = resolve(CONFIG)
MODELS = CONFIG["default_models"]
STAGES = ("pretrain", "lmft")
SCORINGS = tuple(EXPERIMENTS[MODELS[0]].scoring["methods"])
assert all(EXPERIMENTS[m].scoring["methods"] == list(SCORINGS) for m in MODELS)
TRIALS = CONFIG["trials"]  # name -> path in the working directory
VOX1_FBANK = "data/fbank/80/vox1/clean/shard0.jsonl.gz"
TRIAL_COUNTS = {"O": "o_trials", "E": "e_trials", "H": "h_trials"}  # corpus sizes in the config
LOG_HEADER = "step epoch lr margin loss accuracy segments_per_s skipped_steps".split()
DATA_URI = re.compile(r"data:[^;\"']*;charset=[^;\"']*;filename=([^;\"']+);base64,([\w+/=]+)")


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def trial_list(path: Path) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(enroll, test) pairs and 0/1 labels of a trial list, read with plain Python."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(e, t) for _, e, t in rows], np.array([int(label) for label, _, _ in rows])


def reference_metrics(scores: np.ndarray, labels: np.ndarray, p_target: float) -> tuple:
    """EER % (the FPR where |FNR - FPR| is smallest) and normalised minDCF, from sklearn's ROC
    over every distinct threshold (SPEC section 5)."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1.0 - tpr
    eer_pct = 100.0 * fpr[np.argmin(np.abs(fnr - fpr))]
    dcf = np.min(fnr * p_target + fpr * (1.0 - p_target)) / min(p_target, 1.0 - p_target)
    return eer_pct, dcf


def test_result_tables_are_the_metrics_of_their_score_files(default_run: Path) -> None:
    """Every row: the trial list's exact size, and EER/minDCF recomputed (sklearn) from the
    score file of exactly those trials."""
    for name, key in TRIAL_COUNTS.items():
        assert len(trial_list(default_run / TRIALS[name])[0]) == CONFIG["corpus"][key]
    for model in MODELS:
        for stage in STAGES:
            for scoring in SCORINGS:
                rows = read_tsv(default_run / f"results/{model}_{stage}_{scoring}.tsv")
                assert [r["trials"] for r in rows] == list(TRIALS)
                for row in rows:
                    pairs, labels = trial_list(default_run / TRIALS[row["trials"]])
                    scored = {}
                    score_file = f"exp/{model}/{stage}/scores/{scoring}_{row['trials']}.txt"
                    for line in (default_run / score_file).read_text().splitlines():
                        enroll, test, value = line.split()
                        scored[enroll, test] = float(value)
                    assert sorted(scored) == sorted(pairs), score_file
                    scores = np.array([scored[p] for p in pairs])
                    eer_pct, dcf = reference_metrics(scores, labels, 0.01)
                    assert int(row["n_trials"]) == len(pairs)
                    assert float(row["p_target"]) == 0.01
                    assert float(row["eer_pct"]) == pytest.approx(eer_pct, abs=5e-5), score_file
                    assert float(row["min_dcf"]) == pytest.approx(dcf, abs=5e-5), score_file


def test_cosine_scores_are_the_cosines_of_the_embeddings(default_run: Path) -> None:
    for model in MODELS:
        for stage in STAGES:
            store = np.load(default_run / f"exp/{model}/{stage}/embeddings/vox1/shard0.npz")
            emb = dict(zip(store["ids"].tolist(), store["embeddings"].astype(np.float64),
                           strict=True))  # fmt: skip
            pairs, _ = trial_list(default_run / TRIALS["O"])
            lines = (default_run / f"exp/{model}/{stage}/scores/cosine_O.txt").read_text()
            got = [float(line.split()[2]) for line in lines.splitlines()]
            want = [emb[e] @ emb[t] / np.linalg.norm(emb[e]) / np.linalg.norm(emb[t])
                    for e, t in pairs]  # fmt: skip
            np.testing.assert_allclose(got, want, atol=1e-6)


def test_exported_models_give_the_pipelines_embeddings(default_run: Path) -> None:
    """Each model.onnx, run in onnxruntime on stored features + CMN, gives the embeddings that
    the evaluation computed with model.pt (utterances under chunk_frames: one chunk)."""
    cuts = CutSet.from_file(default_run / VOX1_FBANK)
    cuts = list(cuts.with_features_path_prefix(str(default_run)).subset(first=3))
    root = (default_run / CONFIG["paths"]["voxceleb1"]).resolve()
    for model in MODELS:
        for stage in STAGES:
            store = np.load(default_run / f"exp/{model}/{stage}/embeddings/vox1/shard0.npz")
            emb = dict(zip(store["ids"].tolist(), store["embeddings"], strict=True))
            session = onnxruntime.InferenceSession(
                str(default_run / f"exp/{model}/{stage}/model.onnx"),
                providers=["CPUExecutionProvider"],
            )
            name = session.get_inputs()[0].name
            for cut in cuts:
                feats = sliding_cmn(cut.load_features(), CONFIG["data"]["cmn_window"])
                assert len(feats) <= EXPERIMENTS[model].scoring["chunk_frames"]
                (got,) = session.run(None, {name: feats[None]})
                path = Path(cut.recording.sources[0].source)
                uid = (path if path.is_absolute() else default_run / path).resolve()
                want = emb[uid.relative_to(root).as_posix()]
                np.testing.assert_allclose(got[0], want, rtol=1e-4, atol=1e-4)


def test_summary_holds_every_result_and_plots_are_pngs(default_run: Path) -> None:
    summary = [r for r in read_tsv(default_run / "results/summary.tsv") if r["alias"]]
    assert [(r["alias"], r["stage"], r["scoring"]) for r in summary] == [
        (m, st, sc) for m in MODELS for st in STAGES for sc in SCORINGS
    ]
    markdown = (default_run / "results/summary.md").read_text()
    for row in summary:
        name = f"{row['alias']}_{row['stage']}_{row['scoring']}"
        for result in read_tsv(default_run / f"results/{name}.tsv"):
            assert row[f"{result['trials']}_eer_pct"] == result["eer_pct"]
            assert row[f"{result['trials']}_min_dcf"] == result["min_dcf"]
            assert f"{result['eer_pct']} / {result['min_dcf']}" in markdown
    for model in MODELS:
        png = (default_run / f"results/det/{model}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_training_logs_every_step_and_loss_falls(default_run: Path) -> None:
    """Every step is logged; while the margin is still 0 (warm-up), each model's loss falls.
    (The margin ramp that follows raises the loss by design, so a whole-run comparison would
    measure the schedule, not learning; the best model must also end below its start.)"""
    final_vs_start = []
    for model in MODELS:
        pretrain = EXPERIMENTS[model].stage("pretrain")
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
        assert {float(r["margin"]) for r in lmft} == {EXPERIMENTS[model].stage("lmft")["margin"]}
    assert min(final_vs_start) < 1.0


def mean_fbank_baseline_eer(workdir: Path) -> float:
    """EER on O of cosine scoring of per-utterance mean log-FBANK, global mean subtracted
    (voxsv.baseline over every VoxCeleb1 shard; its paths are workdir-relative)."""
    manifests = artifacts.baseline_features(CONFIG["data"], EXPERIMENTS[MODELS[0]].num_mel_bins)
    with contextlib.chdir(workdir):
        metrics = baseline_metrics({"O": TRIALS["O"]}, manifests, CONFIG["paths"]["voxceleb1"])
    return metrics["O"].eer_pct


def test_both_families_halve_the_mean_fbank_baseline(default_run: Path) -> None:
    """The TDNN and the 2-D Res2Net each learn: LMFT + AS-norm O EER <= half the baseline's."""
    baseline = mean_fbank_baseline_eer(default_run)
    assert baseline >= 20.0
    eers = {
        model: float(read_tsv(default_run / f"results/{model}_lmft_asnorm.tsv")[0]["eer_pct"])
        for model in MODELS
    }
    assert {EXPERIMENTS[m].model["arch"] for m in MODELS} == {"tdnn", "res2net"}
    assert max(eers.values()) <= baseline / 2, (eers, baseline)


def test_summary_shows_both_demo_models_within_the_baseline_bound(default_run: Path) -> None:
    """The baseline rule's O EER is the package function's; summary.md shows it and each demo
    model's LMFT + AS-norm O EER within half of it, as summary.tsv's bound column does."""
    baseline = {r["trials"]: r for r in read_tsv(default_run / "results/baseline_mean_fbank.tsv")}
    assert list(baseline) == list(TRIALS)
    assert float(baseline["O"]["eer_pct"]) == pytest.approx(
        mean_fbank_baseline_eer(default_run), abs=5e-5)
    markdown = (default_run / "results/summary.md").read_text()
    for name, row in baseline.items():
        assert f"| {name} | {row['eer_pct']} / {row['min_dcf']} |" in markdown
    half = f"{float(baseline['O']['eer_pct']) / 2:.4f}"
    summary = read_tsv(default_run / "results/summary.tsv")
    for model in MODELS:
        eer_pct = read_tsv(default_run / f"results/{model}_lmft_asnorm.tsv")[0]["eer_pct"]
        assert f"| {model} | lmft | asnorm | {eer_pct} | {half} | within bound |" in markdown
    assert {(r["alias"], r["stage"], r["scoring"], r["baseline_bound"])
            for r in summary if r["baseline_bound"]} == {
        (m, "lmft", "asnorm", "within bound") for m in MODELS}


def test_report_embeds_the_result_files(default_run: Path) -> None:
    """The report carries summary.tsv, every result table and every DET plot byte for byte."""
    result = run_snakemake(default_run, "--report", "report.html", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (default_run / "report.html").read_text(errors="replace").replace("\\/", "/")
    embedded = {name: base64.b64decode(data) for name, data in DATA_URI.findall(html)}
    expected = [default_run / "results/summary.tsv"]
    expected += [default_run / f"results/det/{model}.png" for model in MODELS]
    expected += [default_run / f"results/{m}_{st}_{sc}.tsv"
                 for m in MODELS for st in STAGES for sc in SCORINGS]  # fmt: skip
    for path in expected:
        assert embedded.get(path.name) == path.read_bytes(), path.name


def test_rerun_is_up_to_date(default_run: Path) -> None:
    result = run_snakemake(default_run, "-n", "--cores", "2")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_lost_fbank_archive_rebuilds_only_its_shard(default_run: Path, tmp_path: Path) -> None:
    """Deleting one shard's archive (in a copy of the run) plans exactly that FBANK job; the
    rebuilt shard has the same cuts and, seeded, the same features."""
    workdir = copy_data_stage(default_run, tmp_path / "work")
    target = "data/fbank/80/vox2dev/noise/shard1.jsonl.gz"
    # consumers name both files of an archive (as train inputs do), so a lost .lca counts
    targets = [target, target.replace(".jsonl.gz", ".lca"), VOX1_FBANK.replace(".jsonl.gz", ".lca")]
    before = list(CutSet.from_file(workdir / target).with_features_path_prefix(str(workdir)))
    assert before and all(c.id.endswith("_noise") for c in before)
    first = before[0].load_features()  # now: the archive is about to go
    (workdir / target.replace(".jsonl.gz", ".lca")).unlink()
    dry = run_snakemake(workdir, "-n", "--cores", "2", *targets, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert planned_jobs(dry.stdout + dry.stderr) == {"fbank": 1}
    rerun = run_snakemake(workdir, "--cores", "2", *targets, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    again = list(CutSet.from_file(workdir / target).with_features_path_prefix(str(workdir)))
    assert [c.id for c in again] == [c.id for c in before]
    assert np.array_equal(again[0].load_features(), first)
