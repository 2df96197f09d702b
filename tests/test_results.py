"""Result tables and the summary beside the published figures."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from voxsv.metrics import Metrics
from voxsv.results import (
    ResultSource,
    bound_rows,
    evaluate_lists,
    read_result_table,
    reference_row,
    summary_rows,
    write_result_table,
    write_summary,
)


def test_reference_row_matches_table_data_bins_model_stage_scoring():
    row = reference_row(("vox2_dev_aug", "80", "res2net200_w24_s4_c32_att", "lmft", "asnorm"))
    assert (row["table"], row["O_eer_pct"], row["voxsrc22dev_mindcf_p005"]) == (
        "4",
        "0.3668",
        "0.0974",
    )
    c64 = ("vox2_dev_aug", "80", "res2net50_w24_s4_c64", "pretrain", "cosine")
    assert reference_row(c64)["table"] == "4"
    assert reference_row(("vox2_dev_aug", "40", *c64[2:]))["O_eer_pct"] == "1.0580"
    assert reference_row(("vox2_dev_aug", "80", "dpn68", "lmft", "asnorm")) is None  # 40 bins only
    dpn = ("40", "dpn68_voxsrc2020", "pretrain", "cosine")
    assert reference_row(("vox1_dev_aug", *dpn))["table"] == "1"
    assert reference_row(("vox2_dev_aug", *dpn))["table"] == "2"
    assert reference_row(("vox1_dev_aug", "40", "tdnn", "pretrain", "cosine")) is None


def write_trials_and_scores(tmp_path, name, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 400)
    scores = rng.normal(size=400) + 2 * labels
    utts = [f"id{i:05d}/v/00001.wav" for i in range(800)]
    trials = tmp_path / f"{name}.txt"
    trials.write_text(
        "".join(f"{lab} {utts[2 * i]} {utts[2 * i + 1]}\n" for i, lab in enumerate(labels))
    )
    score_file = tmp_path / f"{name}.scores"
    score_file.write_text(
        "".join(f"{utts[2 * i]} {utts[2 * i + 1]} {s}\n" for i, s in enumerate(scores))
    )
    return trials, score_file


def test_tables_and_summary(tmp_path):
    files = {
        name: write_trials_and_scores(tmp_path, name, i)
        for i, name in enumerate(["VoxSRC22-dev", "O"])
    }
    metrics = evaluate_lists(
        {n: f[0] for n, f in files.items()}, {n: f[1] for n, f in files.items()}
    )
    assert list(metrics) == ["O", "VoxSRC22-dev"]  # published order
    assert metrics["O"].p_target == 0.01 and metrics["VoxSRC22-dev"].p_target == 0.05
    table = tmp_path / "results" / "res2net200_lmft_asnorm.tsv"
    write_result_table(table, metrics)
    assert table.read_text().splitlines()[0] == "trials\teer_pct\tmin_dcf\tp_target\tn_trials"
    rows = read_result_table(table)
    assert rows["O"]["eer_pct"] == f"{metrics['O'].eer_pct:.4f}"
    assert rows["VoxSRC22-dev"]["p_target"] == "0.05" and rows["O"]["n_trials"] == "400"

    small = tmp_path / "results" / "tiny_pretrain_cosine.tsv"
    write_result_table(small, {"O": Metrics(12.5, 0.3, 0.75, 0.5, 0.01, 8)})
    sources = [
        ResultSource(table, "res2net200", "res2net200_w24_s4_c32_att", "vox2_dev_aug", "lmft",
                     "asnorm", 80),
        ResultSource(small, "tiny", "tdnn", "vox2_dev_aug", "pretrain", "cosine", 80),
    ]
    baseline = tmp_path / "results" / "baseline_mean_fbank.tsv"
    write_result_table(baseline, {"O": Metrics(40.0, 0.1, 0.99, 0.2, 0.01, 400),
                                  "E": Metrics(33.0, 0.1, 1.0, 0.2, 0.01, 500)})
    write_summary(sources, read_result_table(baseline), tmp_path / "summary.tsv",
                  tmp_path / "summary.md")
    with open(tmp_path / "summary.tsv", newline="") as f:
        summary = list(csv.DictReader(f, delimiter="\t"))
    assert summary[0]["published_table"] == "4"
    assert summary[0]["O_eer_pct_published"] == "0.3668"
    assert summary[0]["VoxSRC22-dev_min_dcf_published"] == "0.0974"
    assert summary[0]["O_eer_pct"] == rows["O"]["eer_pct"]
    assert summary[0]["E_eer_pct"] == ""
    diff = float(rows["O"]["eer_pct"]) - 0.3668
    assert summary[0]["O_eer_pct_diff"] == f"{diff:+.4f}"
    assert summary[1]["published_table"] == "" and summary[1]["O_min_dcf"] == "0.7500"
    assert (summary[0]["O_eer_pct_baseline"], summary[0]["O_min_dcf_baseline"]) == (
        "40.0000", "0.9900")
    assert summary[0]["E_eer_pct_baseline"] == ""  # beside our lists only
    assert [r["baseline_bound"] for r in summary[:2]] == ["within bound", "within bound"]
    assert list(summary[0])[-9:] == [f"{n}_{c}_baseline" for n in ("O", "E", "H", "VoxSRC22-dev")
                                     for c in ("eer_pct", "min_dcf")] + ["baseline_bound"]
    unproduced = [r for r in summary if not r["alias"]]
    assert len(unproduced) == len(summary) - 2 == 37  # every published row but res2net200's
    assert {r["published_table"] for r in unproduced} == {"1", "2", "3", "4"}
    md = (tmp_path / "summary.md").read_text()
    assert (f"| {rows['O']['eer_pct']} / {rows['O']['min_dcf']} (0.3668 / 0.0388; {diff:+.4f}) |"
            in md)
    assert "| tiny | - | tdnn | vox2_dev_aug | 80 | pretrain | cosine | 12.5000 / 0.7500 |" in md
    assert "Published rows this configuration does not produce: 37" in md
    assert "| O | 40.0000 / 0.9900 |\n| E | 33.0000 / 1.0000 |" in md
    assert f"| res2net200 | lmft | asnorm | {rows['O']['eer_pct']} | 20.0000 | within bound |" in md
    assert "| tiny | pretrain | cosine | 12.5000 | 20.0000 | within bound |" in md
    assert "- table 1: tdnn_voxsrc2020 (vox1_dev_aug, 40 bins) pretrain cosine" in md


def test_bound_row_is_the_last_stage_asnorm_else_its_best_scoring(tmp_path):
    """tdnn: lmft asnorm is its bound row even where lmft cosine is better; res2net (no
    asnorm): its best lmft scoring; over half the baseline's O EER is over bound."""
    eers = {("tdnn", "pretrain", "asnorm"): 5.0, ("tdnn", "lmft", "cosine"): 9.0,
            ("tdnn", "lmft", "asnorm"): 16.0, ("res2net", "lmft", "cosine"): 14.0,
            ("res2net", "lmft", "asnorm_head"): 11.0}
    sources = []
    for (alias, stage, scoring), value in eers.items():
        path = tmp_path / f"{alias}_{stage}_{scoring}.tsv"
        write_result_table(path, {"O": Metrics(value, 0.0, 0.5, 0.0, 0.01, 10)})
        sources.append(ResultSource(path, alias, alias, "vox2_dev_aug", stage, scoring, 80))
    baseline = {"O": {"trials": "O", "eer_pct": "30.0000", "min_dcf": "1.0000"}}
    bound = bound_rows(summary_rows(sources, baseline))
    assert {a: (r["stage"], r["scoring"], r["baseline_bound"]) for a, r in bound.items()} == {
        "tdnn": ("lmft", "asnorm", "over bound"),
        "res2net": ("lmft", "asnorm_head", "within bound"),
    }
    write_summary(sources, baseline, tmp_path / "summary.tsv", tmp_path / "summary.md")
    md = (tmp_path / "summary.md").read_text()
    assert "| tdnn | lmft | asnorm | 16.0000 | 15.0000 | over bound |" in md


def test_bad_result_table_header(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("trials\teer\nO\t1.0\n")
    with pytest.raises(ValueError, match="bad.tsv: header"):
        read_result_table(path)


def test_unknown_trial_list_name(tmp_path):
    with pytest.raises(ValueError, match="unknown trial list name"):
        evaluate_lists({"Z": tmp_path / "z.txt"}, {})
