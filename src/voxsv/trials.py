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
FIND_CHUNK = 1 << 20  # bytes of text that `find_fields` looks at in one go
_KEEP_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)  # n low bytes


class TrialsError(InputError):
    """A trial list that cannot be read: the message names the file and the line."""


class Trials:
    """One trial list: labels (1 target, 0 non-target) and the enrollment/test paths as written.

    Built from the paths (`Trials(labels, enroll, test)`), or by `read_trials` from the
    distinct paths and each trial's index into them (`Trials.from_codes`); the other form is
    made when first asked for. Scoring and score files need only the codes, so reading
    VoxCeleb1-E's list makes no Python string per trial.
    """

    def __init__(self, labels: np.ndarray, enroll: list[str], test: list[str]):
        self.labels = labels  # int8, one per trial
        self.__dict__.update(enroll=enroll, test=test)  # the cached properties' slots

    @classmethod
    def from_codes(
        cls, labels: np.ndarray, names: list[str], enroll: np.ndarray, test: np.ndarray
    ) -> Trials:
        """Trials whose enrollment and test paths are `names[enroll]` and `names[test]`."""
        trials = cls.__new__(cls)
        trials.labels = labels
        trials.__dict__["coded"] = (names, enroll, test)
        return trials

    def __len__(self) -> int:
        return len(self.labels)

    @cached_property
    def enroll(self) -> list[str]:
        """The enrollment path of each trial."""
        names, enroll, _ = self.coded
        return list(map(names.__getitem__, enroll.tolist()))

    @cached_property
    def test(self) -> list[str]:
        """The test path of each trial."""
        names, _, test = self.coded
        return list(map(names.__getitem__, test.tolist()))

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


@dataclass(frozen=True)
class Fields:
    """Where the whitespace-separated fields of a text lie, found with numpy over its bytes."""

    data: np.ndarray  # the text's bytes (uint8)
    starts: np.ndarray  # offset of each field's first byte
    ends: np.ndarray  # offset just past each field's last byte
    counts: np.ndarray  # fields on each line


def find_fields(raw: bytes) -> Fields:
    """The fields of `raw`, split on ASCII whitespace as bytes.split() does.

    Comparisons rather than a lookup table for the ASCII whitespace (4x faster on a 30 MB
    list), over 1 MB chunks whose temporaries stay in cache (a temporary the size of the file
    costs more in fresh pages than the comparisons themselves), and the newlines looked up
    among the field starts. No Python object per field: the GIL stays free for the thread
    that computes cohort statistics meanwhile.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    edges, newlines = [], []  # edges: start, end, start, end, ... of the fields
    in_field = False  # whether the previous chunk ended inside a field
    for lo in range(0, len(data), FIND_CHUNK):
        chunk = data[lo : lo + FIND_CHUNK]
        text = (chunk - np.uint8(9) > np.uint8(4)) & (chunk != 32)  # not \t\n\v\f\r (9-13), " "
        edges.append(np.flatnonzero(np.diff(text, prepend=in_field)) + lo)
        newlines.append(np.flatnonzero(chunk == ord("\n")) + lo)
        in_field = bool(text[-1])
    edges.append(np.array([len(data)] if in_field else [], dtype=np.int64))
    edge = np.concatenate(edges)
    starts, ends = edge[0::2], edge[1::2]
    starts_before = np.searchsorted(starts, np.concatenate([np.empty(0, np.int64), *newlines]))
    if not raw.endswith(b"\n"):  # a last line without its newline
        starts_before = np.append(starts_before, len(starts))
    return Fields(data, starts, ends, np.diff(starts_before, prepend=0))


def malformed_lines(fields: Fields) -> np.ndarray:
    """Indexes of the lines that are neither blank nor 3 fields long (trial and score lines)."""
    return np.flatnonzero((fields.counts != 0) & (fields.counts != 3))


def split_fields(raw: bytes, text: str, counts: np.ndarray) -> list[str]:
    """The fields of `raw` (decoded: `text`) split on ASCII whitespace only, as `find_fields`
    counted them (`counts`). str.split() is faster than decoding every bytes word, but it also
    splits at U+00A0 and other non-ASCII spaces, which can be part of a path."""
    tokens = text.split()
    if len(tokens) != int(counts.sum()):
        tokens = [word.decode("utf-8") for word in raw.split()]
    return tokens


def read_trials(path: str | os.PathLike) -> Trials:
    """Read a trial list; blank lines are ignored, any other line must be `<0|1> <utt> <utt>`.

    Fields are split on ASCII whitespace only: a non-ASCII space is part of a path.
    """
    path = Path(path)
    if not path.is_file():
        raise TrialsError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise TrialsError(f"{path}:{line}: not UTF-8 text") from err
    fields = find_fields(raw)
    counts = fields.counts
    bad = malformed_lines(fields)
    if bad.size:
        line = int(bad[0])
        raise TrialsError(
            f"{path}:{line + 1}: expected 3 fields `<0|1> <enroll> <test>`, found "
            f"{counts[line]} ({bad.size} malformed line(s) in all)"
        )
    if not len(fields.starts):
        raise TrialsError(f"{path}: empty trial list")
    labels = trial_labels(fields)
    bad = np.flatnonzero(labels < 0)
    if bad.size:
        line = int(np.flatnonzero(counts)[bad[0]])
        found = raw[fields.starts[3 * bad[0]] : fields.ends[3 * bad[0]]].decode()
        raise TrialsError(
            f"{path}:{line + 1}: label must be 0 or 1, found {found!r} "
            f"({bad.size} bad label(s) in all)"
        )
    both = np.concatenate([column_fields(fields, 1), column_fields(fields, 2)])
    names, enroll, test = _encode_fields(raw, fields, both)
    pair = enroll * len(names) + test
    if np.all(np.diff(np.sort(pair))):  # every pair listed once (the usual case)
        return Trials.from_codes(labels, names, enroll, test)
    _, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    first_of = first[inverse]  # each trial's first listing of its (enroll, test) pair
    conflict = np.flatnonzero(labels != labels[first_of])
    if conflict.size:
        lines = np.flatnonzero(counts) + 1
        n, m = int(first_of[conflict[0]]), int(conflict[0])
        raise TrialsError(
            f"{path}:{lines[n]} and line {lines[m]}: the pair {names[enroll[m]]} "
            f"{names[test[m]]} is listed with labels {labels[n]} and {labels[m]} "
            f"({conflict.size} conflicting line(s) in all)"
        )
    keep = np.sort(first)  # first listings, in file order
    return Trials.from_codes(labels[keep], names, enroll[keep], test[keep])


def trial_labels(fields: Fields) -> np.ndarray:
    """The first field of each 3-field line as 1 (`1`), 0 (`0`) or -1 (anything else), int8."""
    first = fields.data[fields.starts[0::3]]
    one_byte = fields.ends[0::3] - fields.starts[0::3] == 1
    labels = np.full(len(first), -1, dtype=np.int8)
    labels[one_byte & (first == ord("0"))] = 0
    labels[one_byte & (first == ord("1"))] = 1
    return labels


def column_fields(fields: Fields, column: int) -> np.ndarray:
    """Indexes of field `column` (0, 1 or 2) of every line, where every line has 3 fields."""
    return np.arange(column, len(fields.starts), 3)


def field_words(fields: Fields, index: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(byte lengths, bytes as 8-byte little-endian words) of the fields `index`: the words
    are one array per word position, zero past each field's end, read through a view of
    every 8-byte window of the text (no Python object, nor a copy, per field)."""
    data, starts = fields.data, fields.starts[index]
    lengths = fields.ends[index] - starts
    if len(data) < 8:  # no 8-byte window: a padded copy
        data = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    last = len(data) - 8  # the last window; words starting after it are shifted out of it
    windows = np.ndarray((last + 1,), dtype="<u8", buffer=data, strides=(1,))
    words = []
    for offset in range(0, int(lengths.max(initial=0)), 8):
        position = starts + offset
        word = windows[np.minimum(position, last)]
        tail = np.flatnonzero(position > last)
        word[tail] >>= (np.minimum(position[tail] - last, 8) * 8).astype(np.uint64)
        short = np.flatnonzero(lengths < offset + 8)  # fields that end inside this word
        word[short] &= _KEEP_BYTES[np.clip(lengths[short] - offset, 0, 8)]
        words.append(word)
    return lengths, words


def digests(
    lengths: np.ndarray, words: list[np.ndarray], seed: np.ndarray | None = None
) -> np.ndarray:
    """A 64-bit FNV-1a hash of each field from `field_words` (its length included); with the
    digests of other fields as `seed`, a hash of each pair of fields."""
    start = np.full(len(lengths), _FNV_OFFSET, dtype=np.uint64) if seed is None else seed
    digest = start ^ lengths.astype(np.uint64)
    for column in words:
        digest = (digest ^ column) * _FNV_PRIME  # wraps mod 2**64
    return digest


def joined_fields(tokens: list[str]) -> tuple[bytes, Fields]:
    """The UTF-8 bytes of `tokens` joined into one text, and where each token lies in it (so
    tokens held as strings are hashed and laid out as fields read from a file are)."""
    words = [token.encode() for token in tokens]
    lengths = np.fromiter(map(len, words), np.int64, len(words))
    ends = np.cumsum(lengths)
    raw = b"".join(words) + b"\0"  # never empty: field_words needs a byte to view
    data = np.frombuffer(raw, dtype=np.uint8)
    return raw, Fields(data, ends - lengths, ends, np.array([len(words)]))


def _encode(enroll: list[str], test: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct utterances and each trial's enroll and test index into them (for Trials built
    from paths; `read_trials` hashes the fields where they lie in the file)."""
    raw, fields = joined_fields(enroll + test)
    return _encode_fields(raw, fields, np.arange(len(fields.starts)))


def _encode_fields(
    raw: bytes, fields: Fields, index: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct values (decoded) of the fields `index`, enroll fields then as many test fields,
    and each field's index into them.

    Fields are told apart by 64-bit hashes computed with numpy (over a million fields in a
    fraction of a second, where a dict of strings takes seconds); equal hashes are checked to
    be equal fields, and on a collision a dict of their bytes does the work.
    """
    lengths, words = field_words(fields, index)
    starts = fields.starts[index]
    coded = _hash_codes(lengths, words)
    if coded is None:
        spans = zip(starts.tolist(), (starts + lengths).tolist(), strict=True)
        coded = _dict_codes([raw[start:end] for start, end in spans])
    first, codes = coded
    spans = zip(starts[first].tolist(), (starts + lengths)[first].tolist(), strict=True)
    names = [raw[start:end].decode("utf-8") for start, end in spans]
    half = len(index) // 2
    return names, codes[:half], codes[half:]


def _hash_codes(
    lengths: np.ndarray, words: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray] | None:
    """(an index of each distinct token, each token's code), or None on a hash collision."""
    distinct, codes = np.unique(digests(lengths, words), return_inverse=True)
    first = np.empty(len(distinct), dtype=np.int64)
    first[codes] = np.arange(len(codes))  # an occurrence of each distinct token
    same = all(np.array_equal(column[first][codes], column) for column in [lengths, *words])
    return (first, codes) if same else None


def _dict_codes(tokens: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """What `_hash_codes` returns (first indexes here), by a dict: the fallback on a collision."""
    index: dict[bytes, int] = {}
    codes = np.fromiter((index.setdefault(t, len(index)) for t in tokens), np.int64, len(tokens))
    first = np.full(len(index), -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(tokens) - 1, -1, -1)
    return first, codes
