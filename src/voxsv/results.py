"""Result tables (one per model, stage and scoring back-end) and the summary beside the
published figures of `resources/reference_results.tsv`.

A result table `results/{alias}_{stage}_{scoring}.tsv` has one row per trial list (`O`, `E`,
`H`, `VoxSRC22-dev`) with the columns `trials eer_pct min_dcf p_target n_trials`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

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
TRAIN_DATA = "vox2_dev_aug"  # what the workflow trains on; table 1 rows (VoxCeleb1) never match


@dataclass(frozen=True)
class ResultSource:
    """One result table and the configuration that produced it."""

    path: Path
    alias: str
    arch: str  # model arch name (zoo name or family)
    stage: str  # pretrain | lmft
    scoring: str  # cosine | asnorm
    num_mel_bins: int


def p_target_for(trial_list: str) -> float:
    """The minDCF prior of a trial list (0.05 for VoxSRC22-dev, else 0.01)."""
    return P_TARGET.get(trial_list, 0.01)


def evaluate_lists(
    trials: Mapping[str, str | os.PathLike], scores: Mapping[str, str | os.PathLike]
) -> dict[str, Metrics]:
    """Metrics of each named trial list from its score file, in TRIAL_LISTS order."""
    from voxsv.scoring import read_scores
    from voxsv.trials import read_trials

    unknown = set(trials) - set(TRIAL_LISTS)
    if unknown:
        raise ValueError(f"unknown trial list name(s) {sorted(unknown)}; use {TRIAL_LISTS}")
    out = {}
    for name in (n for n in TRIAL_LISTS if n in trials):
        parsed = read_trials(trials[name])
        out[name] = evaluate(read_scores(scores[name], parsed), parsed.labels, p_target_for(name))
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


def load_reference() -> list[dict[str, str]]:
    """The published results (reference_results.tsv shipped with the package)."""
    text = resources.files("voxsv").joinpath("resources/reference_results.tsv").read_text()
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def reference_row(
    arch: str, stage: str, scoring: str, num_mel_bins: int, reference: Sequence[dict] | None = None
) -> dict[str, str] | None:
    """The published row of this configuration (the latest table that has it), if any."""
    rows = [
        r
        for r in (load_reference() if reference is None else reference)
        if (r["model"], r["stage"], r["scoring"], r["fbank_bins"], r["train_data"])
        == (arch, stage, scoring, str(num_mel_bins), TRAIN_DATA)
    ]
    return max(rows, key=lambda r: int(r["table"]), default=None)


def summary_rows(sources: Sequence[ResultSource]) -> list[dict[str, str]]:
    """One summary row per result table: our figures and, where published, the paper's."""
    reference = load_reference()
    rows = []
    for src in sources:
        table = read_result_table(src.path)
        published = reference_row(src.arch, src.stage, src.scoring, src.num_mel_bins, reference)
        row = {
            "alias": src.alias,
            "arch": src.arch,
            "stage": src.stage,
            "scoring": src.scoring,
            "fbank_bins": str(src.num_mel_bins),
            "published_table": published["table"] if published else "",
        }
        for name in TRIAL_LISTS:
            ours = table.get(name, {})
            eer_col, dcf_col = REFERENCE_COLUMNS[name]
            row[f"{name}_eer_pct"] = ours.get("eer_pct", "")
            row[f"{name}_min_dcf"] = ours.get("min_dcf", "")
            row[f"{name}_eer_pct_published"] = (published or {}).get(eer_col) or ""
            row[f"{name}_min_dcf_published"] = (published or {}).get(dcf_col) or ""
        rows.append(row)
    return rows


def write_summary(
    sources: Sequence[ResultSource], tsv_path: str | os.PathLike, md_path: str | os.PathLike
) -> None:
    """Write results/summary.tsv (every column) and results/summary.md (a readable table)."""
    rows = summary_rows(sources)
    if not rows:
        raise ValueError("no result tables to summarise")
    header = list(rows[0])
    write_text(tsv_path, "".join("\t".join(r) + "\n" for r in [header, *map(dict.values, rows)]))
    write_text(md_path, _markdown(rows))


def _markdown(rows: list[dict[str, str]]) -> str:
    """EER % / minDCF per trial list, ours then published in parentheses."""
    lists = [n for n in TRIAL_LISTS if any(r[f"{n}_eer_pct"] for r in rows)]
    header = ["model", "arch", "stage", "scoring", "bins"] + [f"{n} EER % / minDCF" for n in lists]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["alias"], r["arch"], r["stage"], r["scoring"], r["fbank_bins"]]
        for n in lists:
            cell = f"{r[f'{n}_eer_pct']} / {r[f'{n}_min_dcf']}" if r[f"{n}_eer_pct"] else "-"
            if r[f"{n}_eer_pct_published"]:
                pub = f"{r[f'{n}_eer_pct_published']} / {r[f'{n}_min_dcf_published']}"
                cell += f" ({pub})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "\nFigures: ours, then in parentheses the published ones (reference_results.tsv, "
        "table in the TSV's `published_table`) for the same arch, stage, scoring and bins.\n"
    )
    return "\n".join(lines) + "\n" + note
