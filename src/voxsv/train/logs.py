"""Observability: train_log.tsv rows, TensorBoard scalars and a progress bar (rank 0 only)."""

from __future__ import annotations

import sys
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from voxsv.atomic import write_text

COLUMNS = ("step", "epoch", "lr", "margin", "loss", "accuracy", "segments_per_s", "skipped_steps")


class TrainLog:
    """Appends one TSV row (and TensorBoard scalars) per logged optimizer step."""

    def __init__(self, run_dir: Path, first_step: int, total: int, start: int) -> None:
        self.path = run_dir / "train_log.tsv"
        _truncate(self.path, first_step)
        self.file = self.path.open("a")
        self.board = SummaryWriter(str(run_dir / "tensorboard"))
        self.bar = tqdm(total=total, initial=start, unit="step", disable=not sys.stderr.isatty())

    def row(self, values: dict[str, float]) -> None:
        """Write one row; `values` has every column."""
        self.file.write("\t".join(_fmt(values[c]) for c in COLUMNS) + "\n")
        self.file.flush()
        step = int(values["step"])
        for name in COLUMNS[2:]:
            self.board.add_scalar(f"train/{name}", values[name], step)
        self.bar.set_postfix(loss=f"{values['loss']:.3f}", acc=f"{values['accuracy']:.3f}")

    def advance(self, steps: int = 1) -> None:
        self.bar.update(steps)

    def close(self) -> None:
        self.file.close()
        self.board.close()
        self.bar.close()


def _truncate(path: Path, first_step: int) -> None:
    """Keep the header and rows of steps before `first_step` (a resumed run rewrites the rest)."""
    header = "\t".join(COLUMNS) + "\n"
    rows = path.read_text().splitlines(keepends=True)[1:] if path.exists() else []
    kept = [r for r in rows if r.endswith("\n") and int(r.split("\t", 1)[0]) < first_step]
    write_text(path, header + "".join(kept))


def _fmt(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"
