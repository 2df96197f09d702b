"""Trial lists (`<1|0> <enroll> <test>` per line, as in VoxCeleb's veri_test2.txt): read and check.

Parsing is vectorised over the whole file (numpy over its bytes), so the 579,818-line
VoxCeleb1-E list reads in well under a second and every malformed line is found by number.

A trial is an ordered (enroll, test) pair, as the original's eer_minDCF.py keys its trials and
scores by the tuple (utt1, utt2): a pair listed twice counts once (its first line is kept), and
(a, b) and (b, a) are two trials. The same pair listed with different labels is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from voxsv.errors import InputError

AUDIO_SUFFIXES = (".wav", ".m4a", ".flac")
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


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

    @cached_property
    def coded(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(distinct utterances, enroll and test index into them).

        Scoring joins these few names to embeddings instead of every trial's two strings.
        """
        return _encode(self.enroll, self.test)


def utterance_id(path_in_trial: str) -> str:
    """The cut id of an utterance named in a trial list: the path without its audio suffix."""
    for suffix in AUDIO_SUFFIXES:
        if path_in_trial.endswith(suffix):
            return path_in_trial[: -len(suffix)]
    return path_in_trial


def field_counts(raw: bytes) -> np.ndarray:
    """Number of whitespace-separated fields on each line of `raw` (vectorised over bytes).

    Comparisons rather than a lookup table for the ASCII whitespace (4x faster on a 30 MB
    list), and the newlines looked up among the field starts (fewer searches than the other
    way round).
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    space = (data - np.uint8(9) <= np.uint8(4)) | (data == 32)  # \t \n \v \f \r (9-13), " "
    starts = ~space
    starts[1:] &= space[:-1]
    newlines = np.flatnonzero(data == ord("\n"))
    starts_before = np.searchsorted(np.flatnonzero(starts), newlines)
    if not raw.endswith(b"\n"):  # a last line without its newline
        starts_before = np.append(starts_before, np.count_nonzero(starts))
    return np.diff(starts_before, prepend=0)


def split_fields(raw: bytes, text: str, counts: np.ndarray) -> list[str]:
    """The fields of `raw` (decoded: `text`) split on ASCII whitespace only, as `field_counts`
    counted them (`counts`). str.split() is faster than decoding every bytes word, but it also
    splits at U+00A0 and other non-ASCII spaces, which can be part of a path."""
    tokens = text.split()
    if len(tokens) != int(counts.sum()):
        tokens = [word.decode("utf-8") for word in raw.split()]
    return tokens


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
    tokens = split_fields(raw, text, counts)
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
    labels, enroll, test = is_target.astype(np.int8), tokens[1::3], tokens[2::3]
    words = raw.split()  # the same fields as bytes, for hashing
    names, enroll_index, test_index = _encode(enroll, test, words[1::3] + words[2::3])
    pair = enroll_index * len(names) + test_index
    if np.all(np.diff(np.sort(pair))):  # every pair listed once (the usual case)
        trials = Trials(labels=labels, enroll=enroll, test=test)
        trials.__dict__["coded"] = (names, enroll_index, test_index)  # cached_property's slot
        return trials
    _, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    first_of = first[inverse]  # each trial's first listing of its (enroll, test) pair
    conflict = np.flatnonzero(labels != labels[first_of])
    if conflict.size:
        lines = np.flatnonzero(counts) + 1
        n, m = int(first_of[conflict[0]]), int(conflict[0])
        raise TrialsError(
            f"{path}:{lines[n]} and line {lines[m]}: the pair {enroll[m]} {test[m]} is listed "
            f"with labels {labels[n]} and {labels[m]} ({conflict.size} conflicting line(s) in all)"
        )
    keep = np.sort(first)  # first listings, in file order
    trials = Trials(
        labels=labels[keep], enroll=[enroll[i] for i in keep], test=[test[i] for i in keep]
    )
    trials.__dict__["coded"] = (names, enroll_index[keep], test_index[keep])
    return trials


def _encode(
    enroll: list[str], test: list[str], words: list[bytes] | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct utterances and each trial's enroll and test index into them.

    `words` are the same enroll + test tokens as bytes when the caller has them. They are told
    apart by 64-bit hashes computed with numpy (over a million tokens in a fraction of a
    second, where a dict of strings takes seconds); equal hashes are checked to be equal
    tokens, and on a collision a dict does the work.
    """
    tokens = enroll + test
    if words is None:
        words = [t.encode() for t in tokens]
    first, codes = _hash_codes(words) or _dict_codes(tokens)
    return list(map(tokens.__getitem__, first.tolist())), codes[: len(enroll)], codes[len(enroll) :]


def _hash_codes(words: list[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """(an index of each distinct token, each token's code), or None on a hash collision."""
    width = -(-max(map(len, words)) // 8) * 8
    table = np.array(words, dtype=f"S{width}")
    digest = np.full(len(table), _FNV_OFFSET, dtype=np.uint64)
    for column in table.view(np.uint64).reshape(len(table), width // 8).T:
        digest = (digest ^ column) * _FNV_PRIME  # FNV-1a over 8-byte words (wraps mod 2**64)
    distinct, codes = np.unique(digest, return_inverse=True)
    first = np.empty(len(distinct), dtype=np.int64)
    first[codes] = np.arange(len(codes))  # an occurrence of each distinct token
    if not np.array_equal(table[first][codes], table):
        return None
    return first, codes


def _dict_codes(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """What `_hash_codes` returns (first indexes here), by a dict: the fallback on a collision."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(t, len(index)) for t in tokens), np.int64, len(tokens))
    first = np.full(len(index), -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(tokens) - 1, -1, -1)
    return first, codes
