"""Result tables (one per model, stage and scoring back-end) and the summary beside the
published figures of `resources/reference_results.tsv`.

A result table `results/{alias}_{stage}_{scoring}.tsv` has one row per trial list (`O`, `E`,
`H`, `VoxSRC22-dev`) with the columns `trials eer_pct min_dcf p_target n_trials`; the mean-FBANK
cosine baseline (voxsv.baseline) is written in the same format. The summary puts the baseline
beside each result and holds each model's bound row to half the baseline's O EER.
"""

from __future__ import annotations

import csv
import functools
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from voxsv.atomic import write_text
from voxsv.metrics import Metrics, evaluate

TRIAL_LISTS = ("O", "E", "H", "VoxSRC22-dev")
P_TARGET = {"VoxSRC22-dev": 0.05}  # SPEC section 5; every other list uses 0.01
COLUMNS = ("trials", "eer_pct", "min_dcf", "p_target", "n_trials")
# Columns of reference_results.tsv for each trial list: (EER, minDCF).
REFERENCE_COLUMNS = {
    "O": ("O_eer_pct", "O_mindcf"),
    "E": ("E_eer_pct", "E_mindcf"),
    "H": ("H_eer_pct", "H_mindcf"),
    "VoxSRC22-dev": ("voxsrc22dev_eer_pct", "voxsrc22dev_mindcf_p005"),
}
ROW_KEY = ("train_data", "fbank_bins", "model", "stage", "scoring")  # a published row's identity
BOUND_LIST = "O"  # the trial list on which each model is held to half the baseline's EER
BOUND_SCORING = "asnorm"  # the scoring of a model's bound row, where it is evaluated


@dataclass(frozen=True)
class ResultSource:
    """One result table and the experiment that produced it, in reference_results.tsv's terms."""

    path: Path
    alias: str
    model: str  # the published model name (arch + head suffix), else the arch
    train_data: str  # vox2_dev_aug | vox1_dev_aug | ..._clean
    stage: str  # pretrain | lmft
    scoring: str  # a voxsv.scoring_methods name (cosine, asnorm, asnorm_head)
    num_mel_bins: int

    @property
    def key(self) -> tuple[str, ...]:
        return (self.train_data, str(self.num_mel_bins), self.model, self.stage, self.scoring)


def p_target_for(trial_list: str) -> float:
    """The minDCF prior of a trial list (0.05 for VoxSRC22-dev, else 0.01)."""
    return P_TARGET.get(trial_list, 0.01)


def ordered_lists(names: Iterable[str]) -> list[str]:
    """Trial-list names in the published tables' order; an unknown name is an error."""
    names = set(names)
    unknown = names - set(TRIAL_LISTS)
    if unknown:
        raise ValueError(f"unknown trial list name(s) {sorted(unknown)}; use {TRIAL_LISTS}")
    return [n for n in TRIAL_LISTS if n in names]


def evaluate_lists(
    trials: Mapping[str, str | os.PathLike], scores: Mapping[str, str | os.PathLike]
) -> dict[str, Metrics]:
    """Metrics of each named trial list from its score file, in TRIAL_LISTS order."""
    from voxsv.score_files import labelled_scores

    out = {}
    for name in ordered_lists(trials):
        labels, values = labelled_scores(trials[name], scores[name])
        out[name] = evaluate(values, labels, p_target_for(name))
    return out


def write_result_table(path: str | os.PathLike, metrics: Mapping[str, Metrics]) -> None:
    """Write one result table (tab-separated, a header and one row per trial list)."""
    lines = ["\t".join(COLUMNS)]
    for name, m in metrics.items():
        lines.append(f"{name}\t{m.eer_pct:.4f}\t{m.min_dcf:.4f}\t{m.p_target:g}\t{m.n_trials}")
    write_text(path, "\n".join(lines) + "\n")


def read_result_table(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Rows of a result table by trial list; a wrong header is an error naming the file."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: header {reader.fieldnames}, expected {list(COLUMNS)}")
        return {row["trials"]: row for row in reader}


@functools.cache
def load_reference() -> tuple[dict[str, str], ...]:
    """The published results (reference_results.tsv shipped with the package), read once per
    process: planning looks a row up for every DET curve."""
    text = resources.files("voxsv").joinpath("resources/reference_results.tsv").read_text()
    return tuple(csv.DictReader(io.StringIO(text), delimiter="\t"))


def reference_row(
    key: tuple[str, ...], reference: Sequence[dict] | None = None
) -> dict[str, str] | None:
    """The published row with this (train_data, bins, model, stage, scoring), if any (the pair
    is unique across the four tables, so it also names the table)."""
    rows = [
        r for r in (load_reference() if reference is None else reference)
        if tuple(r[k] for k in ROW_KEY) == key
    ]
    return rows[0] if rows else None


def published_eer(key: tuple[str, ...], trial_list: str) -> float | None:
    """The published EER (%) of a row on one trial list, if any."""
    row = reference_row(key) or {}
    value = row.get(REFERENCE_COLUMNS[trial_list][0])
    return float(value) if value else None


def experiment_sources(experiments: Sequence[Any]) -> list[ResultSource]:
    """Every result table of these experiments (voxsv.experiments.Experiment) with its key."""
    return [
        ResultSource(
            path=Path(f"results/{exp.alias}_{stage}_{scoring}.tsv"), alias=exp.alias,
            model=exp.published_model or exp.model["arch"], train_data=exp.published_train_data,
            stage=stage, scoring=scoring, num_mel_bins=exp.num_mel_bins,
        )
        for exp in experiments for stage in exp.stages for scoring in exp.scoring["methods"]
    ]


def unmatched_rows(experiments: Sequence[Any]) -> list[str]:
    """Published rows (`table:model:train_data:bins:stage:scoring`) no experiment produces."""
    produced = {src.key for src in experiment_sources(experiments)}
    return [_row_name(r) for r in load_reference() if tuple(r[k] for k in ROW_KEY) not in produced]


def _row_name(row: Mapping[str, str]) -> str:
    return ":".join([row["table"], *(row[k] for k in ROW_KEY)])


def summary_rows(
    sources: Sequence[ResultSource], baseline: Mapping[str, Mapping[str, str]]
) -> list[dict[str, str]]:
    """One summary row per result table: our figures, the baseline's on the same lists, whether
    the row is its model's bound row within or over the bound and, where published, the
    paper's figures; then the published rows that no result table matches."""
    reference = load_reference()
    rows = []
    matched = set()
    for src in sources:
        published = reference_row(src.key, reference)
        matched.add(src.key if published else None)
        rows.append(_summary_row(src.alias, src.key, read_result_table(src.path), published,
                                 baseline))
    for published in reference:
        key = tuple(published[k] for k in ROW_KEY)
        if key not in matched:
            rows.append(_summary_row("", key, {}, published, {}))
    for row in bound_rows(rows).values():
        row["baseline_bound"] = "within bound" if within_bound(row) else "over bound"
    return rows


def bound_rows(rows: Sequence[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each model's row that is held to the bound: its last stage, scored by AS-norm where it
    is evaluated, else by the method with that stage's lowest O EER (models with an O EER)."""
    by_alias: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["alias"] and row[f"{BOUND_LIST}_eer_pct"] and row[f"{BOUND_LIST}_eer_pct_baseline"]:
            by_alias.setdefault(row["alias"], []).append(row)
    bound = {}
    for alias, own in by_alias.items():
        last = [r for r in own if r["stage"] == own[-1]["stage"]]
        preferred = [r for r in last if r["scoring"] == BOUND_SCORING]
        bound[alias] = preferred[0] if preferred else min(last, key=_bound_eer)
    return bound


def _bound_eer(row: Mapping[str, str]) -> float:
    return float(row[f"{BOUND_LIST}_eer_pct"])


def within_bound(row: Mapping[str, str]) -> bool:
    """Whether a row's O EER is at most half the mean-FBANK baseline's."""
    return _bound_eer(row) <= float(row[f"{BOUND_LIST}_eer_pct_baseline"]) / 2


def _summary_row(alias: str, key: tuple[str, ...], table: Mapping[str, Mapping[str, str]],
                 published: Mapping[str, str] | None,
                 baseline: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """One summary row: ours (empty for an unproduced published row), published, difference,
    the baseline on our trial lists, and an empty bound verdict (set on bound rows)."""
    row = {"alias": alias, **dict(zip(ROW_KEY, key, strict=True)),
           "published_table": published["table"] if published else ""}
    for name in TRIAL_LISTS:
        ours = table.get(name, {})
        eer_col, dcf_col = REFERENCE_COLUMNS[name]
        pub_eer = (published or {}).get(eer_col) or ""
        row[f"{name}_eer_pct"] = ours.get("eer_pct", "")
        row[f"{name}_min_dcf"] = ours.get("min_dcf", "")
        row[f"{name}_eer_pct_published"] = pub_eer
        row[f"{name}_min_dcf_published"] = (published or {}).get(dcf_col) or ""
        both = row[f"{name}_eer_pct"] and pub_eer
        row[f"{name}_eer_pct_diff"] = f"{float(row[f'{name}_eer_pct']) - float(pub_eer):+.4f}" \
            if both else ""
    for name in TRIAL_LISTS:
        base = baseline.get(name, {}) if name in table else {}
        row[f"{name}_eer_pct_baseline"] = base.get("eer_pct", "")
        row[f"{name}_min_dcf_baseline"] = base.get("min_dcf", "")
    row["baseline_bound"] = ""
    return row


def write_summary(
    sources: Sequence[ResultSource],
    baseline: Mapping[str, Mapping[str, str]],
    tsv_path: str | os.PathLike,
    md_path: str | os.PathLike,
) -> None:
    """Write results/summary.tsv (every column) and results/summary.md (readable tables);
    `baseline` is the mean-FBANK baseline's result table (read_result_table)."""
    rows = summary_rows(sources, baseline)
    if not rows:
        raise ValueError("no result tables to summarise")
    header = list(rows[0])
    write_text(tsv_path, "".join("\t".join(r) + "\n" for r in [header, *map(dict.values, rows)]))
    write_text(md_path, _markdown(rows, baseline))


def _markdown(rows: list[dict[str, str]], baseline: Mapping[str, Mapping[str, str]]) -> str:
    """Our results (EER % / minDCF per trial list, published and difference beside them), the
    baseline and each model against its bound, then the published rows not produced."""
    ours = [r for r in rows if r["alias"]]
    missing = [r for r in rows if not r["alias"]]
    lists = [n for n in TRIAL_LISTS if any(r[f"{n}_eer_pct"] for r in ours)]
    header = ["alias", "table", "model", "train data", "bins", "stage", "scoring"]
    header += [f"{n} EER % / minDCF (published; EER diff)" for n in lists]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in ours:
        cells = [r["alias"], r["published_table"] or "-", r["model"], r["train_data"],
                 r["fbank_bins"], r["stage"], r["scoring"]]
        for n in lists:
            cell = f"{r[f'{n}_eer_pct']} / {r[f'{n}_min_dcf']}" if r[f"{n}_eer_pct"] else "-"
            if r[f"{n}_eer_pct_published"]:
                cell += (f" ({r[f'{n}_eer_pct_published']} / {r[f'{n}_min_dcf_published']};"
                         f" {r[f'{n}_eer_pct_diff'] or '-'})")
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\nPublished figures (reference_results.tsv) are matched on table, training data, bins, "
        "model, stage and scoring; a table of '-' means no published row has this experiment's "
        "settings.\n"
    )
    lines += _baseline_markdown(rows, baseline)
    lines.append(f"Published rows this configuration does not produce: {len(missing)}\n")
    lines += [f"- table {r['published_table']}: {r['model']} ({r['train_data']}, "
              f"{r['fbank_bins']} bins) {r['stage']} {r['scoring']}" for r in missing]
    return "\n".join(lines) + "\n"


def _baseline_markdown(
    rows: Sequence[dict[str, str]], baseline: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """The baseline's EER % / minDCF per trial list, then each model's bound row against half
    the baseline's O EER."""
    lines = [
        "Mean-FBANK cosine baseline (each utterance's mean stored FBANK frame, global mean "
        "subtracted, cosine scoring; no model): a floor that every model should beat.\n",
        "| trials | baseline EER % / minDCF |", "|---|---|",
    ]
    lines += [f"| {name} | {m['eer_pct']} / {m['min_dcf']} |" for name, m in baseline.items()]
    bound = bound_rows(rows)
    if not bound:
        return [*lines, ""]
    lines += [
        f"\nEach model's last stage (AS-norm where evaluated, else its best scoring) against the "
        f"bound: {BOUND_LIST} EER at most half the baseline's.\n",
        f"| alias | stage | scoring | {BOUND_LIST} EER % | bound (baseline / 2) | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for alias, r in bound.items():
        half = float(r[f"{BOUND_LIST}_eer_pct_baseline"]) / 2
        lines.append(f"| {alias} | {r['stage']} | {r['scoring']} | {r[f'{BOUND_LIST}_eer_pct']} "
                     f"| {half:.4f} | {r['baseline_bound']} |")
    return [*lines, ""]
