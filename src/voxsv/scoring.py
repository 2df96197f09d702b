"""Cosine scoring and AS-norm of trial lists from stored embeddings; score files.

Embeddings live in `.npz` files with `ids` (N strings) and `embeddings` (N x D float32). The ids
of test embeddings are utterance paths as trial lists write them (`id10001/vid/00001.wav`) or
cut ids (the same without the suffix): trials and embeddings are joined on
`voxsv.trials.utterance_id` of both. A cohort file holds one row per speaker (ids = speaker ids).

AS-norm needs, per test utterance, the mean and std of its top-k cosine scores against the
cohort. These are computed once per utterance (not per trial) from an N x C score matrix built
in row chunks, so VoxCeleb1-E (153,516 utterances, 5,994 cohort speakers) takes seconds and a
few hundred MB.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from voxsv.atomic import atomic_path
from voxsv.errors import InputError
from voxsv.trials import Trials, field_counts, utterance_id

log = logging.getLogger(__name__)

ROW_CHUNK = 8192  # rows of the utterance x cohort score matrix held at once (~200 MB at C=5,994)
TRIAL_CHUNK = 65536  # trials whose embedding pairs are gathered at once
SHOW_MISSING = 5  # how many missing ids an error message lists


class ScoreFileError(InputError):
    """A score file that cannot be read or does not match its trial list."""


class MissingEmbeddingError(InputError):
    """Trials name utterances that have no embedding (the message counts and lists some)."""


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.finfo(np.float32).tiny)


def save_embeddings(path: str | os.PathLike, ids: Sequence[str], embeddings: np.ndarray) -> None:
    """Write an embeddings store (`ids`, `embeddings` float32) atomically."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(ids) != len(embeddings):
        raise ValueError(f"{len(ids)} ids for embeddings of shape {embeddings.shape}")
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, ids=np.array(list(ids), dtype=str), embeddings=embeddings)


def load_embeddings(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read an embeddings store; not an .npz store, a missing key, a shape mismatch, a repeated
    id or a NaN, infinite or all-zero embedding is an error naming the file (and the ids)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        store = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:  # numpy's "allow_pickle"
        # for arbitrary bytes, zipfile's errors for a damaged archive
        raise InputError(f"{path}: not an embeddings store (.npz with ids and embeddings)") from err
    if not isinstance(store, np.lib.npyio.NpzFile):
        raise InputError(f"{path}: a single .npy array, not an embeddings store (.npz)")
    with store:
        missing = {"ids", "embeddings"} - set(store.files)
        if missing:
            raise InputError(f"{path}: embeddings store lacks {sorted(missing)}")
        try:
            ids = store["ids"].tolist()
            embeddings = store["embeddings"].astype(np.float32, copy=False)
        except (ValueError, OSError, zipfile.BadZipFile) as err:
            raise InputError(f"{path}: damaged embeddings store ({err})") from err
    if embeddings.ndim != 2 or len(ids) != len(embeddings):
        raise InputError(f"{path}: {len(ids)} ids for embeddings of shape {embeddings.shape}")
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: {len(ids) - len(set(ids))} repeated id(s)")
    _check_finite_nonzero(path, ids, embeddings)
    return ids, embeddings


def _check_finite_nonzero(path: str | os.PathLike, ids: list[str], embeddings: np.ndarray) -> None:
    """A NaN, infinite or all-zero embedding has no direction to score: an error naming ids."""
    for bad, what in (
        (~np.isfinite(embeddings).all(axis=1), "NaN or infinite"),
        (~embeddings.any(axis=1), "all zero"),
    ):
        rows = np.flatnonzero(bad)
        if rows.size:
            shown = ", ".join(ids[n] for n in rows[:SHOW_MISSING])
            raise InputError(f"{path}: {rows.size} embedding(s) are {what}: {shown}")


def cohort_means(
    ids: Sequence[str],
    embeddings: np.ndarray,
    speakers: Mapping[str, str] | None = None,
) -> tuple[list[str], np.ndarray]:
    """(speaker ids, per-speaker means of the L2-normalised embeddings), speakers sorted.

    `speakers` maps each id to its speaker; by default the speaker is the id's first path
    component (VoxCeleb `idXXXXX/<video>/<utt>`).
    """
    labels = [speakers[i] if speakers is not None else i.split("/", 1)[0] for i in ids]
    names, index = np.unique(np.array(labels, dtype=str), return_inverse=True)
    order = np.argsort(index, kind="stable")
    starts = np.flatnonzero(np.diff(index[order], prepend=-1))
    sums = np.add.reduceat(l2_normalise(embeddings)[order].astype(np.float64), starts, axis=0)
    counts = np.diff(np.append(starts, len(order)))
    return names.tolist(), (sums / counts[:, None]).astype(np.float32)


def merge_embeddings(paths: Sequence[str | os.PathLike]) -> tuple[list[str], np.ndarray]:
    """The stores of several shards as one (ids in shard order); a repeated id or another
    dimension is an error naming the files."""
    parts = [load_embeddings(p) for p in paths]
    for path, (_, emb) in zip(paths, parts, strict=True):
        if emb.shape[1] != parts[0][1].shape[1]:
            raise InputError(
                f"{path}: embeddings of dimension {emb.shape[1]}, "
                f"but {paths[0]} has dimension {parts[0][1].shape[1]}"
            )
    ids = [i for part_ids, _ in parts for i in part_ids]
    if len(set(ids)) != len(ids):
        raise InputError(
            f"{', '.join(map(str, paths))}: {len(ids) - len(set(ids))} id(s) appear in more "
            "than one of these files"
        )
    return ids, np.concatenate([emb for _, emb in parts])


def write_cohort(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    speakers: Mapping[str, str] | None = None,
) -> None:
    """Write the AS-norm cohort store (per-speaker means) from the cohort's embedding shards."""
    save_embeddings(out, *cohort_means(*merge_embeddings(paths), speakers))


def trial_rows(trials: Trials, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row of each trial's enrollment and test utterance in `ids`; fails naming missing ones."""
    row = {utterance_id(i): n for n, i in enumerate(ids)}
    if len(row) != len(ids):
        raise ValueError(f"{len(ids) - len(row)} embedding id(s) repeat an utterance id")
    key = {u: row.get(utterance_id(u), -1) for u in set(trials.enroll).union(trials.test)}
    missing = sorted(u for u, n in key.items() if n < 0)
    if missing:
        shown = ", ".join(missing[:SHOW_MISSING])
        raise MissingEmbeddingError(
            f"{len(missing)} utterance(s) named in the trials have no embedding, e.g. {shown}"
        )
    enroll = np.fromiter((key[u] for u in trials.enroll), dtype=np.int64, count=len(trials))
    test = np.fromiter((key[u] for u in trials.test), dtype=np.int64, count=len(trials))
    return enroll, test


def pair_dots(embeddings: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of embeddings[rows_a] and embeddings[rows_b], in chunks."""
    out = np.empty(len(rows_a), dtype=np.float32)
    for lo in range(0, len(rows_a), TRIAL_CHUNK):
        a = embeddings[rows_a[lo : lo + TRIAL_CHUNK]]
        b = embeddings[rows_b[lo : lo + TRIAL_CHUNK]]
        out[lo : lo + TRIAL_CHUNK] = np.einsum("ij,ij->i", a, b)
    return out


def cohort_stats(
    embeddings: np.ndarray, cohort: np.ndarray, top_k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of each row's top-k cosine scores against the cohort."""
    if top_k > len(cohort):
        log.warning("top_k %d exceeds the cohort size; using all %d", top_k, len(cohort))
        top_k = len(cohort)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    cohort_t = torch.from_numpy(l2_normalise(cohort)).T.contiguous()
    mean = np.empty(len(embeddings), dtype=np.float64)
    std = np.empty(len(embeddings), dtype=np.float64)
    with torch.inference_mode():
        for lo in range(0, len(embeddings), ROW_CHUNK):
            chunk = torch.from_numpy(l2_normalise(embeddings[lo : lo + ROW_CHUNK]))
            top = torch.topk(chunk @ cohort_t, top_k, dim=1, sorted=False).values.double()
            mean[lo : lo + len(chunk)] = top.mean(dim=1).numpy()
            std[lo : lo + len(chunk)] = top.std(dim=1, correction=0).numpy()
    return mean, std


def score_trials(
    trials: Trials,
    ids: Sequence[str],
    embeddings: np.ndarray,
    cohort: np.ndarray | None = None,
    top_k: int = 400,
) -> np.ndarray:
    """Cosine scores of the trials, AS-norm'ed against `cohort` (C x D means) when given."""
    enroll, test = trial_rows(trials, ids)
    used, inverse = np.unique(np.concatenate([enroll, test]), return_inverse=True)
    normed = l2_normalise(embeddings[used])
    enroll, test = inverse[: len(trials)], inverse[len(trials) :]
    scores = pair_dots(normed, enroll, test).astype(np.float64)
    if cohort is None:
        return scores
    mean, std = cohort_stats(normed, cohort, top_k)
    std = np.maximum(std, np.finfo(np.float32).eps)
    return 0.5 * ((scores - mean[enroll]) / std[enroll] + (scores - mean[test]) / std[test])


def write_scores(path: str | os.PathLike, trials: Trials, scores: np.ndarray) -> None:
    """Write `<enroll> <test> <score>` lines in trial order, atomically."""
    if len(scores) != len(trials):
        raise ValueError(f"{len(scores)} scores for {len(trials)} trials")
    rows = zip(trials.enroll, trials.test, scores.tolist(), strict=True)
    text = "".join(f"{e} {t} {s:.9g}\n" for e, t, s in rows)
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_scores(path: str | os.PathLike, trials: Trials) -> np.ndarray:
    """Scores of a score file in the order of `trials`; missing or extra pairs are errors."""
    path = Path(path)
    if not path.is_file():
        raise ScoreFileError(f"{path}: no such file")
    raw = path.read_bytes()
    counts = field_counts(raw)
    bad = np.flatnonzero((counts != 0) & (counts != 3))
    if bad.size:
        raise ScoreFileError(
            f"{path}:{bad[0] + 1}: expected 3 fields `<enroll> <test> <score>`, "
            f"found {counts[bad[0]]}"
        )
    try:
        tokens = raw.decode("utf-8").split()
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ScoreFileError(f"{path}:{line}: not UTF-8 text") from err
    try:
        values = np.array(tokens[2::3], dtype=np.float64)
    except ValueError as err:
        first = next(n for n, v in enumerate(tokens[2::3]) if not _is_float(v))
        line = int(np.flatnonzero(counts)[first]) + 1
        value = tokens[3 * first + 2]
        raise ScoreFileError(f"{path}:{line}: score {value!r} is not a number") from err
    enroll, test = tokens[0::3], tokens[1::3]
    if enroll == trials.enroll and test == trials.test:
        return values
    return _join_scores(path, trials, enroll, test, values)


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
