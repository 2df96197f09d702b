"""Training data: random sliding-CMN'd FBANK crops, from the crop store or the FBANK archives.

The crop store (voxsv.crop_store) holds every utterance's sliding CMN already applied, so a crop
is a slice of a memory map; from the lilcom-chunky FBANK archives a crop is decoded with its
CMN context and normalised. Both give the same rows bit for bit (voxsv.features is exact).

The order of the samples is a pure function of (seed, global sample position): pass k over the
data is a seeded permutation of the utterances with its last `skip_fraction` left out (SPEC:
a random 10 % skipped per pass), and every sample's crop offset is a hash of (seed, position).
So any rank, worker count or resumed run sees exactly the same samples at the same step, and
the sampler's state is just the step it starts from.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

import lilcom
import numpy as np
import torch
from lhotse import load_manifest_lazy
from lhotse.features.io import LilcomChunkyReader
from torch.utils.data import Dataset, Sampler

from voxsv.cmn_storage import STORAGE_TYPE, CmnRowsReader, row_range
from voxsv.features import cmn_context, sliding_cmn_segment

_MASK64 = (1 << 64) - 1


class DataError(ValueError):
    """A training manifest that cannot be used (names the file and cut)."""


CHUNK_FRAMES = LilcomChunkyReader.CHUNK_SIZE  # frames per lilcom chunk (lhotse's format)
LILCOM = LilcomChunkyReader.name
STORAGES = (STORAGE_TYPE, LILCOM)  # crop store rows, raw FBANK archives


@dataclass
class Utterances:
    """Where each training utterance's features are, how long they are, and its speaker.

    Flat numpy arrays rather than lhotse cuts or storage-key strings: 5.5 M utterances cost
    about 0.3 GB here instead of several GB per rank and loader process (copy-on-write pages).
    """

    storage_type: str  # one of STORAGES
    cmn_window: int | None  # the window already applied to the stored rows (crop store)
    storage_paths: list[str]
    path_index: np.ndarray  # int32, into storage_paths
    chunk_first: np.ndarray  # int64 (n + 1): utterance u's chunk byte bounds are
    chunk_bounds: np.ndarray  # int64: chunk_bounds[chunk_first[u] : chunk_first[u + 1]] (lilcom)
    offsets: np.ndarray  # int64, the cut's first frame in its stored matrix (store: flat row)
    num_frames: np.ndarray  # int64
    labels: np.ndarray  # int64, into speakers
    speakers: list[str]

    def __len__(self) -> int:
        return len(self.num_frames)

    def bounds(self, utt: int) -> np.ndarray:
        """Byte offsets of utterance `utt`'s lilcom chunks in its archive (chunks + 1 values)."""
        return self.chunk_bounds[self.chunk_first[utt] : self.chunk_first[utt + 1]]


class _Builder:
    """Accumulates checked cuts into compact arrays."""

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}
        self.speakers: dict[str, int] = {}
        self.cols = {k: array("q") for k in ("path", "first", "bounds", "offset", "frames", "spk")}
        self.cols["first"].append(0)
        self.storage: tuple[str, int | None] | None = None  # storage type, CMN window

    def add(self, cut, manifest: str | os.PathLike) -> None:
        """Check one cut and append its row (the error names the manifest and cut)."""
        where = f"{manifest}: cut {cut.id}"
        feats = cut.features
        if feats is None or feats.storage_type not in STORAGES:
            raise DataError(f"{where}: needs features in {' or '.join(STORAGES)} storage")
        storage = (feats.storage_type, (cut.custom or {}).get("cmn_window"))
        if self.storage not in (None, storage):
            raise DataError(f"{where}: {storage} (storage, CMN window) but earlier cuts "
                            f"have {self.storage}: one training set, one kind of features")
        self.storage = storage
        if len(cut.supervisions) != 1 or not cut.supervisions[0].speaker:
            raise DataError(f"{where}: needs exactly one supervision with a speaker")
        offset = round((cut.start - feats.start) / feats.frame_shift)
        num_frames = min(cut.num_frames, feats.num_frames - offset)
        if num_frames < 1:
            raise DataError(f"{where}: has no feature frames")
        c = self.cols
        c["path"].append(self.paths.setdefault(feats.storage_path, len(self.paths)))
        if feats.storage_type == LILCOM:
            c["bounds"].extend(accumulate(int(x) for x in feats.storage_key.split(",")))
        else:
            offset += row_range(feats.storage_key)[0]
        c["first"].append(len(c["bounds"]))
        c["offset"].append(offset)
        c["frames"].append(num_frames)
        c["spk"].append(self.speakers.setdefault(cut.supervisions[0].speaker, len(self.speakers)))

    def build(self, speakers: Sequence[str] | None) -> Utterances:
        """The arrays, labels indexing `speakers` (default: the sorted speakers found)."""
        found = sorted(self.speakers)
        speakers = list(found if speakers is None else speakers)
        index = {s: i for i, s in enumerate(speakers)}
        unknown = [s for s in found if s not in index]
        if unknown:
            raise DataError(f"speakers not in the label set: {', '.join(unknown[:5])}")
        remap = np.array([index[s] for s in self.speakers], dtype=np.int64)
        c = {k: np.frombuffer(v, dtype=np.int64) for k, v in self.cols.items()}
        return Utterances(
            storage_type=self.storage[0], cmn_window=self.storage[1],
            storage_paths=list(self.paths), path_index=c["path"].astype(np.int32),
            chunk_first=c["first"], chunk_bounds=c["bounds"], offsets=c["offset"],
            num_frames=c["frames"], labels=remap[c["spk"]], speakers=speakers,
        )


def load_utterances(
    manifests: Sequence[str | os.PathLike], speakers: Sequence[str] | None = None
) -> Utterances:
    """Read the cuts of lhotse CutSet manifests; labels index `speakers` (default: sorted)."""
    builder = _Builder()
    for manifest in manifests:
        cuts = load_manifest_lazy(manifest)
        if cuts is None:
            raise DataError(f"{manifest}: empty, or not a lhotse CutSet manifest (.jsonl[.gz])")
        for cut in cuts:
            builder.add(cut, manifest)
    if not builder.paths:
        raise DataError(f"no cuts in {', '.join(map(str, manifests))}")
    return builder.build(speakers)


def read_frames(fd: int, bounds: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Frames [lo, hi) of one lilcom-chunky matrix whose chunk byte bounds are `bounds`.

    What lhotse's LilcomChunkyReader.read does, from the compact chunk index and with one
    pread on an open descriptor (no per-read open or storage-key parsing).
    """
    first, last = lo // CHUNK_FRAMES, -(-hi // CHUNK_FRAMES)
    start = int(bounds[first])
    data = os.pread(fd, int(bounds[last]) - start, start)
    chunks = [
        lilcom.decompress(data[int(a) - start : int(b) - start])
        for a, b in zip(bounds[first:last], bounds[first + 1 : last + 1], strict=True)
    ]
    skip = lo - first * CHUNK_FRAMES
    return np.concatenate(chunks)[skip : skip + hi - lo]


def sample_hash(seed: int, position: int, salt: int = 0) -> int:
    """A 64-bit hash of (seed, position, salt) (splitmix64), the per-sample random number."""
    x = (seed * 0x9E3779B97F4A7C15 + position * 0xBF58476D1CE4E5B9 + salt) & _MASK64
    for _ in range(2):
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        x ^= x >> 31
    return x


class SampleOrder:
    """Utterance at every global sample position: shuffled passes, each skipping a fraction."""

    def __init__(self, num_utterances: int, seed: int, skip_fraction: float) -> None:
        if not 0 <= skip_fraction < 1:
            raise ValueError(f"skip_fraction must be in [0, 1), got {skip_fraction}")
        self.num_utterances = num_utterances
        self.seed = seed
        self.pass_length = max(1, num_utterances - math.floor(skip_fraction * num_utterances))
        self._pass = -1
        self._order = np.empty(0, dtype=np.int64)

    def utterance(self, position: int) -> int:
        """Index of the utterance seen at global sample position `position`."""
        k, i = divmod(position, self.pass_length)
        if k != self._pass:
            rng = np.random.default_rng([self.seed, k])
            self._order = rng.permutation(self.num_utterances)[: self.pass_length]
            self._pass = k
        return int(self._order[i])


@dataclass(frozen=True)
class Layout:
    """How one optimizer step's global batch is split over ranks and accumulation steps."""

    batch_per_rank: int
    world_size: int = 1
    rank: int = 0
    accumulation: int = 1

    @property
    def global_batch(self) -> int:
        return self.batch_per_rank * self.world_size * self.accumulation

    def micro_batch_start(self, step: int, micro_step: int) -> int:
        """First global sample position of this rank's micro-batch."""
        slot = micro_step * self.world_size + self.rank
        return step * self.global_batch + slot * self.batch_per_rank


class MicroBatchSampler(Sampler[list[tuple[int, int]]]):
    """This rank's micro-batches of (utterance, position) for steps [start_step, end_step)."""

    def __init__(self, order: SampleOrder, layout: Layout, start_step: int, end_step: int):
        self.order = order
        self.layout = layout
        self.start_step = start_step
        self.end_step = end_step

    def __len__(self) -> int:
        return (self.end_step - self.start_step) * self.layout.accumulation

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        size = self.layout.batch_per_rank
        for step in range(self.start_step, self.end_step):
            for micro in range(self.layout.accumulation):
                first = self.layout.micro_batch_start(step, micro)
                yield [(self.order.utterance(p), p) for p in range(first, first + size)]


class LilcomRows:
    """Sliding-CMN'd rows from the lilcom-chunky archives: decode the rows with their CMN
    context (lhotse's chunks that cover it, not the whole utterance) and normalise them."""

    def __init__(self, utts: Utterances, cmn_window: int) -> None:
        self.utts = utts
        self.cmn_window = cmn_window
        self._fds: dict[int, int] = {}  # opened lazily, so each loader process has its own

    def __call__(self, utt: int, start: int, end: int) -> np.ndarray:
        """Rows [start, end) of the sliding CMN of utterance `utt`."""
        n = int(self.utts.num_frames[utt])
        lo, hi = cmn_context(start, end, n, self.cmn_window)
        offset = int(self.utts.offsets[utt])
        context = read_frames(self._fd(utt), self.utts.bounds(utt), offset + lo, offset + hi)
        return sliding_cmn_segment(context, lo, start, end, n, self.cmn_window)

    def _fd(self, utt: int) -> int:
        """This process's open descriptor of the archive holding `utt`."""
        i = int(self.utts.path_index[utt])
        if i not in self._fds:
            self._fds[i] = os.open(self.utts.storage_paths[i], os.O_RDONLY)
        return self._fds[i]


class StoreRows:
    """Sliding-CMN'd rows from the crop store: a copied slice of its memory map."""

    def __init__(self, utts: Utterances) -> None:
        self.utts = utts
        self._maps: dict[int, np.ndarray] = {}  # mapped lazily, per loader process

    def __call__(self, utt: int, start: int, end: int) -> np.ndarray:
        """Rows [start, end) of the sliding CMN of utterance `utt`."""
        first = int(self.utts.offsets[utt])
        return np.array(self._map(utt)[first + start : first + end])

    def _map(self, utt: int) -> np.ndarray:
        """This process's memory map of the store holding `utt`."""
        i = int(self.utts.path_index[utt])
        if i not in self._maps:
            self._maps[i] = CmnRowsReader(self.utts.storage_paths[i]).rows
        return self._maps[i]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_maps": {}}  # a pickled memmap would copy the whole array


def row_reader(utts: Utterances, cmn_window: int) -> LilcomRows | StoreRows:
    """The reader of sliding-CMN'd rows for the utterances' storage (checks a store's window)."""
    if utts.storage_type == LILCOM:
        return LilcomRows(utts, cmn_window)
    if utts.cmn_window != cmn_window:
        raise DataError(f"the crop store holds sliding CMN over {utts.cmn_window} frames, "
                        f"training asks for {cmn_window} ({utts.storage_paths[0]})")
    return StoreRows(utts)


class CropDataset(Dataset):
    """Batches of CMN-normalised random crops: dataset[[(utt, position), ...]] -> (x, labels).

    Reads only the crop's rows (with their CMN context from lilcom archives), so the cost per
    crop does not grow with the utterance length.
    """

    def __init__(self, utts: Utterances, crop_frames: int, cmn_window: int, seed: int):
        self.utts = utts
        self.crop_frames = crop_frames
        self.seed = seed
        self.rows = row_reader(utts, cmn_window)

    def __len__(self) -> int:
        return len(self.utts)

    def __getitem__(self, batch: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        crops = [self.crop(utt, position) for utt, position in batch]
        labels = self.utts.labels[[utt for utt, _ in batch]]
        return torch.from_numpy(np.stack(crops)), torch.from_numpy(labels)

    def crop(self, utt: int, position: int) -> np.ndarray:
        """The crop of utterance `utt` drawn for sample `position` (zero-padded if short)."""
        n = int(self.utts.num_frames[utt])
        size = self.crop_frames
        r = sample_hash(self.seed, position)
        start, end = (r % (n - size + 1), r % (n - size + 1) + size) if n >= size else (0, n)
        rows = self.rows(utt, start, end)
        if n >= size:
            return rows
        out = np.zeros((size, rows.shape[1]), dtype=np.float32)
        place = sample_hash(self.seed, position, salt=1) % (size - n + 1)
        out[place : place + n] = rows
        return out
