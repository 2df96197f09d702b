"""Trial lists (`<1|0> <enroll> <test>` per line, as in VoxCeleb's veri_test2.txt): read and check.

Parsing is vectorised over the whole file (numpy over its bytes), so the 579,818-line
VoxCeleb1-E list reads in well under a second and every malformed line is found by number.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxsv.errors import InputError

AUDIO_SUFFIXES = (".wav", ".m4a", ".flac")
_WHITESPACE = np.array([ord(c) for c in " \t\r\n\v\f"], dtype=np.uint8)


class TrialsError(InputError):
    """A trial list that cannot be read: the message names the file and the line."""


@dataclass(frozen=True)
class Trials:
    """One trial list: labels (1 target, 0 non-target) and the enrollment/test paths as written."""

    labels: np.ndarray  # int8, one per trial
    enroll: list[str]
    test: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def utterance_id(path_in_trial: str) -> str:
    """The cut id of an utterance named in a trial list: the path without its audio suffix."""
    for suffix in AUDIO_SUFFIXES:
        if path_in_trial.endswith(suffix):
            return path_in_trial[: -len(suffix)]
    return path_in_trial


def field_counts(raw: bytes) -> np.ndarray:
    """Number of whitespace-separated fields on each line of `raw` (vectorised over bytes)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    space = np.isin(data, _WHITESPACE)
    starts = ~space
    starts[1:] &= space[:-1]
    newlines = np.flatnonzero(data == ord("\n"))
    line_of_start = np.searchsorted(newlines, np.flatnonzero(starts))
    n_lines = len(newlines) + (0 if raw.endswith(b"\n") else 1)
    return np.bincount(line_of_start, minlength=n_lines)


def read_trials(path: str | os.PathLike) -> Trials:
    """Read a trial list; blank lines are ignored, any other line must be `<0|1> <utt> <utt>`."""
    path = Path(path)
    if not path.is_file():
        raise TrialsError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise TrialsError(f"{path}:{line}: not UTF-8 text") from err
    counts = field_counts(raw)
    bad = np.flatnonzero((counts != 0) & (counts != 3))
    if bad.size:
        line = int(bad[0])
        raise TrialsError(
            f"{path}:{line + 1}: expected 3 fields `<0|1> <enroll> <test>`, found "
            f"{counts[line]} ({bad.size} malformed line(s) in all)"
        )
    tokens = text.split()
    if not tokens:
        raise TrialsError(f"{path}: empty trial list")
    label_tokens = np.array(tokens[0::3])
    is_target = label_tokens == "1"
    bad = np.flatnonzero(~is_target & (label_tokens != "0"))
    if bad.size:
        line = int(np.flatnonzero(counts)[bad[0]])
        raise TrialsError(
            f"{path}:{line + 1}: label must be 0 or 1, found {label_tokens[bad[0]]!r} "
            f"({bad.size} bad label(s) in all)"
        )
    return Trials(labels=is_target.astype(np.int8), enroll=tokens[1::3], test=tokens[2::3])
