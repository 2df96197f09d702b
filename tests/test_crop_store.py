"""The training crop store: whole-utterance sliding CMN written once from a lilcom FBANK shard;
its crops are the lilcom reader's bit for bit, lhotse loads it, and bad input writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet
from lhotse.utils import fastcopy
from test_train_support import make_archive

from voxsv.cmn_storage import FEATURES_TYPE, STORAGE_TYPE
from voxsv.crop_store import write_store
from voxsv.data import CropDataset, DataError, load_utterances
from voxsv.features import sliding_cmn

# short (zero-padded), exactly one 200-frame crop, one frame more, lilcom chunk edges, long
LENGTHS = (120, 200, 201, 499, 500, 501, 777, 1000, 1234, 1601)


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A lilcom FBANK shard and the crop store written from it (window 300)."""
    tmp = tmp_path_factory.mktemp("store")
    fbank, _ = make_archive(tmp / "fbank/shard0.jsonl.gz", speakers=3, per_speaker=5,
                            lengths=LENGTHS)
    manifest, rows = tmp / "crops/shard0.jsonl.gz", tmp / "crops/shard0.npy"
    assert write_store(fbank, manifest, rows, 300) == 15
    return fbank, manifest, rows


@pytest.mark.parametrize(("crop_frames", "seed"), [(200, 0), (200, 9), (600, 3)])
def test_store_crops_equal_the_lilcom_readers(shard, crop_frames: int, seed: int) -> None:
    """Same utterances, labels and crops (placement, padding, values) for the same positions."""
    fbank, manifest, _ = shard
    lilcom_utts, store_utts = load_utterances([fbank]), load_utterances([manifest])
    assert np.array_equal(lilcom_utts.num_frames, store_utts.num_frames)
    assert np.array_equal(lilcom_utts.labels, store_utts.labels)
    lilcom = CropDataset(lilcom_utts, crop_frames, 300, seed)
    store = CropDataset(store_utts, crop_frames, 300, seed)
    for position in range(300):
        utt = position % len(store_utts)
        assert np.array_equal(store.crop(utt, position), lilcom.crop(utt, position))
    x, y = store[[(0, 1), (7, 2)]]
    lx, ly = lilcom[[(0, 1), (7, 2)]]
    assert x.dtype == lx.dtype and np.array_equal(x, lx) and np.array_equal(y, ly)


def test_rows_at_the_utterance_edges_equal_the_lilcom_readers(shard) -> None:
    """The first and last rows of every utterance (where the CMN window is shifted inwards)."""
    fbank, manifest, _ = shard
    utts = load_utterances([manifest])
    assert set(utts.num_frames.tolist()) == set(LENGTHS)
    lilcom = CropDataset(load_utterances([fbank]), 200, 300, 0).rows
    store = CropDataset(utts, 200, 300, 0).rows
    for utt, n in enumerate(utts.num_frames.tolist()):
        for start, end in ((0, min(n, 200)), (max(n - 200, 0), n), (0, n)):
            assert np.array_equal(store(utt, start, end), lilcom(utt, start, end))


def test_lhotse_loads_the_store(shard) -> None:
    """cut.load_features() (the registered reader) gives the whole utterance's sliding CMN
    of the lilcom features; a partial load gives its rows; the rows are one float32 array."""
    fbank, manifest, rows = shard
    flat = np.load(rows, mmap_mode="r")
    assert flat.dtype == np.float32 and flat.shape == (sum(LENGTHS) + sum(LENGTHS[:5]), 80)
    stored = CutSet.from_file(manifest)
    for source, cut in zip(CutSet.from_file(fbank), stored, strict=True):
        assert cut.id == source.id and cut.supervisions == source.supervisions
        assert cut.features.type == FEATURES_TYPE
        assert cut.features.storage_type == STORAGE_TYPE
        assert cut.custom["cmn_window"] == 300
        assert np.array_equal(cut.load_features(), sliding_cmn(source.load_features(), 300))
    long = stored[LENGTHS.index(1234)]
    part = long.features.load(start=long.start + 1.0, duration=2.0)
    assert np.array_equal(part, long.load_features()[100:300])


def test_cut_without_lilcom_features_is_named_and_nothing_is_written(
    shard, tmp_path: Path
) -> None:
    """A cut without lilcom features fails with the manifest and cut; earlier outputs stay."""
    fbank, store_manifest, _ = shard
    cuts = list(CutSet.from_file(fbank))
    bad = tmp_path / "bad.jsonl.gz"
    CutSet.from_cuts([cuts[0], fastcopy(cuts[1], features=None), *cuts[2:]]).to_file(bad)
    out = tmp_path / "out"
    out.mkdir()
    (out / "shard0.jsonl.gz").write_text("old")
    with pytest.raises(DataError, match=f"{bad}: cut {cuts[1].id}: needs features"):
        write_store(bad, out / "shard0.jsonl.gz", out / "shard0.npy", 300)
    assert [p.name for p in out.iterdir()] == ["shard0.jsonl.gz"]
    assert (out / "shard0.jsonl.gz").read_text() == "old"
    with pytest.raises(DataError, match=f"{store_manifest}: a crop store is written from"):
        write_store(store_manifest, out / "shard0.jsonl.gz", out / "shard0.npy", 300)
    assert [p.name for p in out.iterdir()] == ["shard0.jsonl.gz"]


def test_store_of_another_window_or_mixed_with_lilcom_is_refused(shard) -> None:
    fbank, manifest, _ = shard
    with pytest.raises(DataError, match="sliding CMN over 300 frames, training asks for 150"):
        CropDataset(load_utterances([manifest]), 200, 150, 0)
    with pytest.raises(DataError, match="one training set, one kind of features"):
        load_utterances([fbank, manifest])
