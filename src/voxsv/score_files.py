"""Score files (`<enroll> <test> <score>` per line): written in trial order, read against
their trial list.

Evaluation reads a trial list and its score file together (`labelled_scores`). When the score
file names the trial list's pairs in the list's order, as `voxsv score` writes it, the two
files are compared field by field as bytes, with numpy: no Python string per field, so the
579,818 trials of VoxCeleb1-E are checked and read in under half the time of parsing both
files. Anything else (another order, a repeated pair, a malformed line) takes the general
path, which joins scores to trials by pair and names every error by file and line.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxsv.atomic import atomic_path
from voxsv.errors import SHOW_MISSING, InputError
from voxsv.trials import (
    Fields,
    Trials,
    column_fields,
    digests,
    field_words,
    find_fields,
    joined_fields,
    malformed_lines,
    read_trials,
    split_fields,
    trial_labels,
)

WRITE_CHUNK = 1 << 14  # score lines assembled at once (1.5 MB of columns)
_SCORE_COLUMNS = 1 + 13 + 1 + 13 + 16 + 1  # sign, slots, point, slots, Python's text, newline
_POWERS = 10.0 ** np.arange(13)  # exact in float64
_TRIPLES = np.array([list(f"{n:03d}".encode()) for n in range(1000)], dtype=np.uint8)


class ScoreFileError(InputError):
    """A score file that cannot be read or does not match its trial list."""


def write_scores(path: str | os.PathLike, trials: Trials, scores: np.ndarray) -> None:
    """Write `<enroll> <test> <score>` lines in trial order, atomically, each score as "%.9g"
    formats it.

    The lines are assembled by numpy in chunks of WRITE_CHUNK: each line's bytes laid out in
    fixed columns (names from a table of the distinct names, the score's digits twice: before
    and after its decimal point), then the unused columns dropped. For VoxCeleb1-E's 579,818
    trials this takes 0.22 s on 2 cores, where Python's formatting and joining of the lines
    took 0.42 s on one, at the end of `voxsv score` when nothing else is left to run; the file
    is the same byte for byte.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) != len(trials):
        raise ValueError(f"{len(scores)} scores for {len(trials)} trials")
    names, enroll, test = trials.coded
    table, present = _name_table(names)

    def lines(lo: int) -> bytes:
        """The bytes of lines [lo, lo + WRITE_CHUNK)."""
        rows = slice(lo, lo + WRITE_CHUNK)
        width = table.shape[1]
        line = np.empty((len(scores[rows]), 2 * width + 2 + _SCORE_COLUMNS), dtype=np.uint8)
        keep = np.empty(line.shape, dtype=bool)
        for start, names_of in ((0, enroll[rows]), (width + 1, test[rows])):
            line[:, start : start + width] = table[names_of]
            keep[:, start : start + width] = present[names_of]
            line[:, start + width] = ord(" ")
            keep[:, start + width] = True
        _score_columns(scores[rows], line[:, 2 * width + 2 :], keep[:, 2 * width + 2 :])
        return line[keep].tobytes()

    # numpy frees the GIL in most of a chunk's work: two threads assemble chunks in turn
    with atomic_path(path) as tmp, open(tmp, "wb") as out, ThreadPoolExecutor(2) as pool:
        for chunk in pool.map(lines, range(0, len(scores), WRITE_CHUNK)):
            out.write(chunk)


def _name_table(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(the UTF-8 bytes of each name as a zero-padded row of uint8, which bytes are its own)."""
    _, fields = joined_fields(names)
    lengths, columns = field_words(fields, np.arange(len(names)))
    table = np.stack(columns, axis=1) if columns else np.zeros((len(names), 0), dtype="<u8")
    table = table.view(np.uint8)
    return table, np.arange(table.shape[1]) < lengths[:, None]


def _score_columns(values: np.ndarray, line: np.ndarray, keep: np.ndarray) -> None:
    """Fill `line` (_SCORE_COLUMNS columns) with each value as "%.9g" formats it and a newline,
    and `keep` with which of its columns to write.

    Values of 1e-4 <= |v| < 1e9 (where "%.9g" writes no exponent) are formatted from their 9
    significant digits, laid out as 13 slots (4 zeros, then the digits) before the decimal
    point and the same 13 slots after it: the sign, the slots [first, point), the point, the
    slots [point, last). Their rounding is computed in float64 from an exact power of ten, so
    it is exact unless the scaled value lies within 1e-6 of a rounding tie; those, zeros,
    values with an exponent, NaN and infinities are formatted by Python into the last 16
    columns before the newline.
    """
    size = np.abs(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(size))
        exponent = np.where(np.isfinite(exponent), exponent, 99).astype(np.int64)
        for _ in range(2):  # log10 may be one off near a power of ten; rounding may carry
            scaled = size * _POWERS[np.clip(8 - exponent, 0, 12)]
            digits = np.rint(scaled)
            exponent += (digits >= 1e9).astype(np.int64) - (digits < 1e8).astype(np.int64)
        python = (
            (exponent < -4)
            | (exponent > 8)
            | (digits < 1e8)
            | (digits >= 1e9)
            | (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
        )
    exponent = np.where(python, 0, exponent)
    digits = np.where(python, 1e8, digits).astype(np.int64)
    groups = np.stack([digits // 1_000_000, digits // 1000 % 1000, digits % 1000], axis=1)
    chars = _TRIPLES[groups].reshape(len(values), 9)  # the 9 digits, most significant first
    trailing = np.argmax(chars[:, ::-1] != ord("0"), axis=1)
    first, point = 4 + np.minimum(exponent, 0), 5 + exponent
    last = np.maximum(13 - trailing, point)
    formatted = ~python[:, None]
    slot = np.arange(13)
    line[:, 0] = ord("-")
    keep[:, 0] = (values < 0) & ~python
    for start, begin, end in ((1, first, point), (15, point, last)):  # before, after the point
        line[:, start : start + 4] = ord("0")
        line[:, start + 4 : start + 13] = chars
        keep[:, start : start + 13] = (slot >= begin[:, None]) & (slot < end[:, None]) & formatted
    line[:, 14] = ord(".")
    keep[:, 14] = (last > point) & ~python
    keep[:, 28:44] = False
    for row in np.flatnonzero(python):
        text = f"{values[row]:.9g}".encode()
        line[row, 28 : 28 + len(text)] = np.frombuffer(text, dtype=np.uint8)
        keep[row, 28 : 28 + len(text)] = True
    line[:, 44] = ord("\n")
    keep[:, 44] = True


def labelled_scores(
    trials_path: str | os.PathLike, scores_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) of the trials of a list, each pair once in list order, with the scores
    of a score file in any order; a missing or extra pair, or a malformed line, is an error
    naming the file (and line)."""
    in_order = _scores_in_list_order(Path(trials_path), Path(scores_path))
    if in_order is not None:
        return in_order
    with ThreadPoolExecutor(1) as pool:  # both files parsed side by side (numpy frees the GIL)
        parsed = pool.submit(parse_scores, scores_path)
        trials = read_trials(trials_path)  # its errors first, then the score file's
        return trials.labels, match_scores(parsed.result(), trials)


def _scores_in_list_order(
    trials_path: Path, scores_path: Path
) -> tuple[np.ndarray, np.ndarray] | None:
    """`labelled_scores` where the score file's pairs are the trial list's, in its order, both
    files are well formed and no pair repeats; None otherwise (the general path decides).
    Each file is read in its own thread (numpy frees the GIL), then their names compared."""
    if not (trials_path.is_file() and scores_path.is_file()):
        return None
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_score_side, scores_path.read_bytes())
        listed = _list_side(trials_path.read_bytes())
        scored = pending.result()
    if listed is None or scored is None or len(listed[0]) != len(scored[0]):
        return None
    for (lengths, words), (scored_lengths, scored_words) in zip(listed[1], scored[1], strict=True):
        if not np.array_equal(lengths, scored_lengths):  # enroll, then test, byte for byte
            return None
        if not all(map(np.array_equal, words, scored_words)):
            return None
    return listed[0], scored[0]


Names = list[tuple[np.ndarray, list[np.ndarray]]]  # (lengths, words) of the enroll and test fields


def _list_side(raw: bytes) -> tuple[np.ndarray, Names] | None:
    """(labels, names) of a well-formed trial list that lists each pair once, else None."""
    fields = find_fields(raw)
    if not (_utf8(raw) and _three_per_line(fields)):
        return None
    labels = trial_labels(fields)
    if np.any(labels < 0):
        return None
    names = [field_words(fields, column_fields(fields, column)) for column in (1, 2)]
    pair = digests(*names[1], seed=digests(*names[0]))  # a hash of (enroll, test)
    if not np.all(np.diff(np.sort(pair))):  # a pair listed twice (or a hash collision)
        return None
    return labels, names


def _score_side(raw: bytes) -> tuple[np.ndarray, Names] | None:
    """(scores, names) of a well-formed score file whose scores numpy reads, else None."""
    fields = find_fields(raw)
    if not (_utf8(raw) and _three_per_line(fields)):
        return None
    lengths, words = field_words(fields, column_fields(fields, 2))
    try:  # the score fields as fixed-width bytes, converted by numpy
        values = np.stack(words, axis=1).view(f"S{8 * len(words)}").ravel().astype(np.float64)
    except ValueError:
        return None
    return values, [field_words(fields, column_fields(fields, column)) for column in (0, 1)]


def _utf8(raw: bytes) -> bool:
    """Whether `raw` is UTF-8 text (the general path names the line where it is not)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _three_per_line(fields: Fields) -> bool:
    """Whether the text has fields and every non-blank line has 3 of them."""
    return len(fields.starts) > 0 and not malformed_lines(fields).size


@dataclass(frozen=True)
class ScoreFile:
    """The lines of a score file, `<enroll> <test> <score>`, in file order."""

    path: Path
    enroll: list[str]
    test: list[str]
    values: np.ndarray  # float64


def read_scores(path: str | os.PathLike, trials: Trials) -> np.ndarray:
    """Scores of a score file in the order of `trials`; missing or extra pairs are errors."""
    return match_scores(parse_scores(path), trials)


def parse_scores(path: str | os.PathLike) -> ScoreFile:
    """Read a score file (needs no trial list, so it can be parsed beside one)."""
    path = Path(path)
    if not path.is_file():
        raise ScoreFileError(f"{path}: no such file")
    raw = path.read_bytes()
    fields = find_fields(raw)
    counts, bad = fields.counts, malformed_lines(fields)
    if bad.size:
        raise ScoreFileError(
            f"{path}:{bad[0] + 1}: expected 3 fields `<enroll> <test> <score>`, "
            f"found {counts[bad[0]]}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ScoreFileError(f"{path}:{line}: not UTF-8 text") from err
    tokens = split_fields(raw, text, counts)
    try:
        values = np.array(tokens[2::3], dtype=np.float64)
    except ValueError as err:
        first = next(n for n, v in enumerate(tokens[2::3]) if not _is_float(v))
        line = int(np.flatnonzero(counts)[first]) + 1
        value = tokens[3 * first + 2]
        raise ScoreFileError(f"{path}:{line}: score {value!r} is not a number") from err
    return ScoreFile(path, tokens[0::3], tokens[1::3], values)


def match_scores(scores: ScoreFile, trials: Trials) -> np.ndarray:
    """The scores in the order of `trials`; missing or extra pairs are errors."""
    if scores.enroll == trials.enroll and scores.test == trials.test:
        return scores.values
    return _join_scores(scores.path, trials, scores.enroll, scores.test, scores.values)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _join_scores(
    path: Path, trials: Trials, enroll: list[str], test: list[str], values: np.ndarray
) -> np.ndarray:
    """Scores looked up by (enroll, test) pair when the file is not in trial order."""
    pairs = list(zip(enroll, test, strict=True))
    by_pair = dict(zip(pairs, values.tolist(), strict=True))
    conflicts = sum(by_pair[p] != v for p, v in zip(pairs, values.tolist(), strict=True))
    if conflicts:
        raise ScoreFileError(f"{path}: {conflicts} pair(s) scored twice with different scores")
    wanted = list(zip(trials.enroll, trials.test, strict=True))
    missing = [p for p in wanted if p not in by_pair]
    if missing:
        shown = "; ".join(f"{e} {t}" for e, t in missing[:SHOW_MISSING])
        raise ScoreFileError(f"{path}: {len(missing)} trial(s) have no score, e.g. {shown}")
    extra = set(by_pair).difference(wanted)
    if extra:
        shown = "; ".join(f"{e} {t}" for e, t in sorted(extra)[:SHOW_MISSING])
        raise ScoreFileError(f"{path}: {len(extra)} scored pair(s) are not trials, e.g. {shown}")
    return np.array([by_pair[p] for p in wanted], dtype=np.float64)
