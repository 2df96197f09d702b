"""Cosine scoring and AS-norm of trial lists from stored embeddings (score files: score_files).

Embeddings live in `.npz` files with `ids` (N strings) and `embeddings` (N x D float32). The ids
of test embeddings are utterance paths as trial lists write them (`id10001/vid/00001.wav`) or
cut ids (the same without the suffix): trials and embeddings are joined on
`voxsv.trials.utterance_id` of both. A cohort file holds one row per speaker (ids = speaker ids).

AS-norm (SPEC section 5) needs, per test utterance, the mean and population std of its top-k
scores against the cohort vectors: the dot products of its L2-normalised embedding with the
cohort vectors as stored (per-speaker means of normalised embeddings, NOT normalised again, or
the classifier's normalised weight vectors). These statistics are computed once per utterance
(not per trial), in small row blocks, each in one worker thread from product to statistics: a
single-threaded BLAS product into the thread's float32 buffer, then an in-place partial
partition that moves the top k to the end of each row (no full sort, as the original's
snorm.py does) while the block is still in cache. One thread per core with BLAS limited to one
thread beats a multi-threaded product of large blocks followed by their partition (which reads
the whole block from memory again): VoxCeleb1-E (153,516 utterances, 5,994 cohort vectors)
takes about 1.4x the bare product, and memory stays at one block per thread. They can be stored
(`save_stats`) and shared by every trial list of a model; `voxsv score --cohort` starts them
(`StatsJob`) as soon as the embeddings are mapped, before its trial list is read. Only numpy
(and threadpoolctl) is imported here: `voxsv score` and `voxsv eer` start without torch.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from voxsv.atomic import atomic_path
from voxsv.errors import SHOW_MISSING, InputError
from voxsv.npz import map_npz
from voxsv.trials import Trials, utterance_id

log = logging.getLogger(__name__)

ROW_CHUNK = 256  # rows of a thread's utterance x cohort block (6 MB at C=5,994: cache-sized)
STATS_THREADS = 8  # at most this many worker threads compute cohort statistics
SWITCH_INTERVAL = 5e-4  # seconds between GIL hand-overs while statistics are computed
TRIAL_CHUNK = 4096  # trials whose embedding pairs are gathered at once (cache-sized)


class MissingEmbeddingError(InputError):
    """Trials name utterances that have no embedding (the message counts and lists some)."""


def l2_normalise(x: np.ndarray, copy: bool = True) -> np.ndarray:
    """Rows scaled to unit length (float32); zero rows stay zero. `copy=False` scales a float32
    array in place (no second array of its size)."""
    x = np.array(x, dtype=np.float32) if copy else np.asarray(x, dtype=np.float32)
    x /= np.maximum(np.sqrt(np.einsum("ij,ij->i", x, x))[:, None], np.finfo(np.float32).tiny)
    return x


def save_embeddings(path: str | os.PathLike, ids: Sequence[str], embeddings: np.ndarray) -> None:
    """Write an embeddings store (`ids`, `embeddings` float32) atomically."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(ids) != len(embeddings):
        raise ValueError(f"{len(ids)} ids for embeddings of shape {embeddings.shape}")
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, ids=np.array(list(ids), dtype=str), embeddings=embeddings)


def load_embeddings(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read an embeddings store (memory-mapped where it is stored uncompressed); not an .npz
    store, a missing key, a shape mismatch, a repeated id or a NaN, infinite or all-zero
    embedding is an error naming the file (and the ids)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    arrays = map_npz(path, ("ids", "embeddings")) or _read_store(path)
    ids, embeddings = arrays["ids"].tolist(), arrays["embeddings"].astype(np.float32, copy=False)
    if embeddings.ndim != 2 or len(ids) != len(embeddings):
        raise InputError(f"{path}: {len(ids)} ids for embeddings of shape {embeddings.shape}")
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: {len(ids) - len(set(ids))} repeated id(s)")
    _check_finite_nonzero(path, ids, embeddings)
    return ids, embeddings


def _read_store(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """`ids` and `embeddings` read by np.load: a compressed store, or one with an error to name."""
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
            return {"ids": store["ids"], "embeddings": store["embeddings"]}
        except (ValueError, OSError, zipfile.BadZipFile) as err:
            raise InputError(f"{path}: damaged embeddings store ({err})") from err


def _check_finite_nonzero(path: str | os.PathLike, ids: list[str], embeddings: np.ndarray) -> None:
    """A NaN, infinite or all-zero embedding has no direction to score: an error naming ids.

    One pass of squared norms finds the suspects (a NaN or inf makes the sum non-finite, an
    all-zero row makes it zero); only those rows are checked element by element, since a huge
    finite value also overflows the sum and a tiny one underflows it.
    """
    squares = np.einsum("ij,ij->i", embeddings, embeddings)
    suspects = np.flatnonzero(~np.isfinite(squares) | (squares == 0))
    rows = embeddings[suspects]
    for bad, what in (
        (~np.isfinite(rows).all(axis=1), "NaN or infinite"),
        (~rows.any(axis=1), "all zero"),
    ):
        found = suspects[bad]
        if found.size:
            shown = ", ".join(ids[n] for n in found[:SHOW_MISSING])
            raise InputError(f"{path}: {found.size} embedding(s) are {what}: {shown}")


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
    if len(parts) == 1:
        return parts[0]
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
    row = {i: n for n, i in enumerate(ids)}
    names, enroll, test = trials.coded
    name_rows = np.fromiter(map(row.get, names, repeat(-1)), np.int64, len(names))
    if np.any(name_rows < 0):  # ids written differently (cut ids): join on utterance ids
        by_utterance = {utterance_id(i): n for n, i in enumerate(ids)}
        if len(by_utterance) != len(ids):
            raise ValueError(
                f"{len(ids) - len(by_utterance)} embedding id(s) repeat an utterance id"
            )
        name_rows = np.array([by_utterance.get(utterance_id(u), -1) for u in names], np.int64)
    missing = sorted(names[n] for n in np.flatnonzero(name_rows < 0))
    if missing:
        shown = ", ".join(missing[:SHOW_MISSING])
        raise MissingEmbeddingError(
            f"{len(missing)} utterance(s) named in the trials have no embedding, e.g. {shown}"
        )
    return name_rows[enroll], name_rows[test]


def pair_cosines(embeddings: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """Cosines of embeddings[rows_a] and embeddings[rows_b]: the dot products of the pairs,
    gathered in cache-sized chunks, over the products of norms computed once per embedding
    (no normalised copy of the embeddings, nor of each gathered chunk)."""
    norms = np.sqrt(np.einsum("ij,ij->i", embeddings, embeddings))
    out = np.empty(len(rows_a), dtype=np.float32)
    for lo in range(0, len(rows_a), TRIAL_CHUNK):
        a, b = rows_a[lo : lo + TRIAL_CHUNK], rows_b[lo : lo + TRIAL_CHUNK]
        out[lo : lo + TRIAL_CHUNK] = np.einsum("ij,ij->i", embeddings[a], embeddings[b])
    out /= np.maximum(norms[rows_a] * norms[rows_b], np.finfo(np.float32).tiny)
    return out


def head_cohort(path: str | os.PathLike) -> np.ndarray:
    """The classifier's weight vectors in a model.pt, L2-normalised: the second AS-norm cohort.

    A sub-centre head contributes each of its K vectors per class as its own cohort vector, as
    the original's export_projection_weight.py reshapes its [K, D, C] weight to K*C rows. The
    weight is read as voxsv.heads stores it (C*K x D rows) or in that [K, D, C] layout.
    """
    import torch  # reading a checkpoint needs torch; scoring itself does not

    state = torch.load(path, map_location="cpu", weights_only=True)
    weight = state.get("head", {}).get("weight") if isinstance(state, dict) else None
    if weight is None:
        raise ValueError(f"{path}: no classifier weights (key head.weight) in the checkpoint")
    weight = weight.float().numpy()
    if weight.ndim == 3:
        weight = np.swapaxes(weight, 1, 2).reshape(-1, weight.shape[1])
    if weight.ndim != 2:
        raise ValueError(f"{path}: head.weight has shape {weight.shape}; expected 2 or 3 dims")
    return l2_normalise(weight)


def cohort_stats(
    embeddings: np.ndarray, cohort: np.ndarray, top_k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of each row's top-k scores against the cohort vectors as given.

    Rows of `embeddings` are L2-normalised here, block by block; the cohort is used as stored
    (not normalised).
    """
    with StatsJob(embeddings, cohort, top_k, ahead=False) as job:
        job.only(np.arange(len(embeddings)))
        return job.result()


class StatsJob:
    """The cohort statistics of rows of `embeddings`, computed in worker threads; a context
    manager (leaving it stops the threads and restores the BLAS threads and GIL interval).

    With `ahead`, one thread starts at once on every row in order, before the caller knows
    which rows it needs (`voxsv score` reads the trial list meanwhile, on the other core);
    `only(rows)` then stops it and spreads the rows it has not reached over every core. The
    rows computed ahead that no trial uses cost at most the time of reading the trial list on
    one core, and for VoxCeleb1-E every row is used.
    """

    def __init__(self, embeddings: np.ndarray, cohort: np.ndarray, top_k: int, ahead: bool = True):
        if top_k > len(cohort):
            log.warning("top_k %d exceeds the cohort size; using all %d", top_k, len(cohort))
            top_k = len(cohort)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = top_k
        self._embeddings = embeddings
        self._cohort_t = np.ascontiguousarray(np.asarray(cohort, dtype=np.float32).T)
        self._mean = np.full(len(embeddings), np.nan)
        self._std = np.full(len(embeddings), np.nan)
        self._local = threading.local()
        self._reached = 0  # rows [0, reached) are done by the thread that runs ahead
        self._stop = threading.Event()
        self._ahead = threading.Thread(target=self._run_ahead, daemon=True) if ahead else None
        self._pending: list = []
        self._pool: ThreadPoolExecutor | None = None
        self._limits = threadpool_limits(1, user_api="blas")  # one BLAS thread per worker
        # The workers hold the GIL only between long numpy calls; handed over every 0.5 ms
        # rather than 5 ms, they wait less behind a thread parsing text or gathering pairs.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self._ahead is not None:
            self._ahead.start()

    def _run_ahead(self) -> None:
        for lo in range(0, len(self._embeddings), ROW_CHUNK):
            if self._stop.is_set():
                return
            self._block(slice(lo, lo + ROW_CHUNK))
            self._reached = min(lo + ROW_CHUNK, len(self._embeddings))

    def _block(self, rows: slice | np.ndarray) -> None:
        """Statistics of one block of rows: product and partition while it is in cache."""
        normalised = l2_normalise(self._embeddings[rows])
        if not hasattr(self._local, "buffer"):
            self._local.buffer = np.empty((ROW_CHUNK, self._cohort_t.shape[1]), dtype=np.float32)
        block = np.matmul(normalised, self._cohort_t, out=self._local.buffer[: len(normalised)])
        kth = block.shape[1] - self.top_k
        block.partition(kth, axis=1)  # the k largest to the last k columns, in place
        top = block[:, kth:].astype(np.float64)
        mean = top.sum(axis=1) / self.top_k
        # one pass for both moments (3x faster than numpy's mean and std); in float64 the
        # cancellation of E[x^2] - mean^2 costs nothing visible for cosine-sized values
        variance = np.einsum("ij,ij->i", top, top) / self.top_k - mean * mean
        self._mean[rows] = mean
        self._std[rows] = np.sqrt(np.maximum(variance, 0.0))

    def only(self, rows: np.ndarray) -> None:
        """Compute the rows (ascending) that are still missing, on every core; returns at once."""
        self._stop.set()
        if self._ahead is not None:
            self._ahead.join()
        missing = rows[np.searchsorted(rows, self._reached) :]
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self._pool = ThreadPoolExecutor(min(STATS_THREADS, cpus or 1))
        contiguous = len(missing) and missing[-1] - missing[0] + 1 == len(missing)
        chunks = (
            [slice(lo, lo + ROW_CHUNK) for lo in range(missing[0], missing[-1] + 1, ROW_CHUNK)]
            if contiguous
            else [missing[lo : lo + ROW_CHUNK] for lo in range(0, len(missing), ROW_CHUNK)]
        )  # slices where the rows are contiguous: no gathered copy of each block
        self._pending = [self._pool.submit(self._block, chunk) for chunk in chunks]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) over every row of `embeddings`, NaN where a row was not asked for."""
        for pending in self._pending:
            pending.result()
        return self._mean, self._std

    def __enter__(self) -> StatsJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ahead is not None:
            self._ahead.join()
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        self._limits.restore_original_limits()
        sys.setswitchinterval(self._switch_interval)


@dataclass(frozen=True)
class CohortStats:
    """Per-utterance AS-norm statistics of one model, stage and method (shared by trial lists)."""

    ids: list[str]
    mean: np.ndarray  # float64, one per id
    std: np.ndarray
    top_k: int
    cohort_size: int

    def lookup(self, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of utterances `ids`, joined on utterance ids; missing ones are an error."""
        row = {utterance_id(i): n for n, i in enumerate(self.ids)}
        index = np.fromiter((row.get(utterance_id(i), -1) for i in ids), np.int64, len(ids))
        missing = [ids[n] for n in np.flatnonzero(index < 0)[:SHOW_MISSING]]
        if missing:
            raise MissingEmbeddingError(
                f"{np.count_nonzero(index < 0)} utterance(s) named in the trials have no cohort "
                f"statistics, e.g. {', '.join(missing)}"
            )
        return self.mean[index], self.std[index]


def utterance_stats(
    ids: Sequence[str], embeddings: np.ndarray, cohort: np.ndarray, top_k: int
) -> CohortStats:
    """AS-norm statistics of every embedding against `cohort` (see `cohort_stats`)."""
    mean, std = cohort_stats(embeddings, cohort, top_k)
    return CohortStats(list(ids), mean, std, min(top_k, len(cohort)), len(cohort))


def save_stats(path: str | os.PathLike, stats: CohortStats) -> None:
    """Write cohort statistics (`ids`, `mean`, `std`, `top_k`, `cohort_size`) atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(
            tmp,
            ids=np.array(stats.ids, dtype=str),
            mean=stats.mean,
            std=stats.std,
            top_k=stats.top_k,
            cohort_size=stats.cohort_size,
        )


def load_stats(path: str | os.PathLike) -> CohortStats:
    """Read cohort statistics written by `save_stats`; a missing key or bad shape is an error."""
    keys = {"ids", "mean", "std", "top_k", "cohort_size"}
    with np.load(path, allow_pickle=False) as store:
        missing = keys - set(store.files)
        if missing:
            raise ValueError(f"{path}: cohort statistics lack {sorted(missing)}")
        stats = CohortStats(
            store["ids"].tolist(),
            store["mean"],
            store["std"],
            int(store["top_k"]),
            int(store["cohort_size"]),
        )
    if not len(stats.ids) == len(stats.mean) == len(stats.std):
        raise ValueError(
            f"{path}: {len(stats.ids)} ids, {len(stats.mean)} means, {len(stats.std)} stds"
        )
    return stats


def score_trials(
    trials: Trials,
    ids: Sequence[str],
    embeddings: np.ndarray,
    cohort: np.ndarray | None = None,
    top_k: int = 400,
    stats: CohortStats | StatsJob | None = None,
) -> np.ndarray:
    """Cosine scores of the trials; AS-norm'ed by precomputed `stats`, by a job computing them
    (started before the trials were read), or against `cohort`."""
    if stats is None and cohort is not None:
        with StatsJob(embeddings, cohort, top_k, ahead=False) as job:
            return score_trials(trials, ids, embeddings, stats=job)
    enroll, test = trial_rows(trials, ids)
    used = np.flatnonzero(np.bincount(np.concatenate([enroll, test]), minlength=len(ids)))
    if isinstance(stats, StatsJob):
        stats.only(used)  # its threads run beside the cosines
    scores = pair_cosines(embeddings, enroll, test).astype(np.float64)
    if stats is None:
        return scores
    if isinstance(stats, StatsJob):
        mean, std = stats.result()
    else:
        mean, std = np.empty(len(ids)), np.empty(len(ids))
        mean[used], std[used] = stats.lookup([ids[n] for n in used])
    std = np.maximum(std, np.finfo(np.float32).eps)
    return 0.5 * ((scores - mean[enroll]) / std[enroll] + (scores - mean[test]) / std[test])
