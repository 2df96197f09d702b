"""The training loader: crops with exact sliding CMN, padding, labels, order, ranks, workers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from lhotse import CutSet
from lhotse.features.io import LilcomChunkyReader
from test_train_support import make_archive
from torch.utils.data import DataLoader

from voxsv.data import (
    CropDataset,
    DataError,
    Layout,
    MicroBatchSampler,
    SampleOrder,
    load_utterances,
    read_frames,
    sample_hash,
)
from voxsv.features import sliding_cmn


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    return make_archive(tmp_path_factory.mktemp("fbank") / "shard0.jsonl.gz")


def test_crops_equal_whole_utterance_cmn_rows(archive) -> None:
    """A crop is exactly the matching rows of sliding CMN over the whole stored utterance
    (as lhotse reads it); a short utterance sits at its drawn offset in zeros."""
    path, feats = archive
    utts = load_utterances([path])
    ds = CropDataset(utts, crop_frames=200, cmn_window=300, seed=3)
    short = 0
    for utt, cut in enumerate(CutSet.from_file(path)):
        n = int(utts.num_frames[utt])
        whole = cut.load_features()  # lhotse's reader: the stored (lilcom) values
        assert n == len(whole) == len(feats[cut.id])
        np.testing.assert_allclose(whole, feats[cut.id], atol=0.05)
        cmn = sliding_cmn(whole, 300)
        for position in (utt, 1000 + utt):
            crop = ds.crop(utt, position)
            assert crop.shape == (200, 80) and crop.dtype == np.float32
            if n >= 200:
                start = sample_hash(3, position) % (n - 200 + 1)
                np.testing.assert_array_equal(crop, cmn[start : start + 200])
            else:
                short += 1
                place = sample_hash(3, position, salt=1) % (200 - n + 1)
                np.testing.assert_array_equal(crop[place : place + n], cmn)
                assert not crop[:place].any() and not crop[place + n :].any()
    assert short > 0


def kaldi_sliding_cmn(feats: np.ndarray, window: int) -> np.ndarray:
    """apply-cmvn-sliding --norm-vars=false --center=true, frame by frame in float64 (SPEC)."""
    n, out = len(feats), np.empty(feats.shape)
    for t in range(n):
        lo = max(t - window // 2, 0)
        hi = min(lo + window, n)
        lo = max(hi - window, 0)
        out[t] = feats[t] - feats[lo:hi].astype(np.float64).sum(0) / (hi - lo)
    return out


def test_crops_equal_lhotse_features_with_kaldi_cmn(tmp_path: Path) -> None:
    """Every crop (long utterances over several 500-frame chunks, and short padded ones) equals
    the same rows of Kaldi's sliding CMN over the whole utterance as lhotse loads it."""
    path, _ = make_archive(tmp_path / "mix.jsonl.gz", speakers=2, per_speaker=4,
                           frames=(150, 1700))
    utts = load_utterances([path])
    ds = CropDataset(utts, crop_frames=200, cmn_window=300, seed=11)
    checked = 0
    for utt, cut in enumerate(CutSet.from_file(path)):
        cmn = kaldi_sliding_cmn(cut.load_features(), 300)
        n = len(cmn)
        for position in range(utt, 400, len(utts)):
            crop = ds.crop(utt, position)
            if n >= 200:
                start = sample_hash(11, position) % (n - 200 + 1)
                expected = cmn[start : start + 200]
            else:
                place = sample_hash(11, position, salt=1) % (200 - n + 1)
                expected = np.zeros((200, cmn.shape[1]))
                expected[place : place + n] = cmn
            np.testing.assert_allclose(crop, expected, rtol=0, atol=2e-6)
            checked += 1
    assert checked == 400


def test_read_frames_equals_lhotse_reader_across_chunks(tmp_path: Path) -> None:
    """Any frame range, within and across lilcom chunks, reads as lhotse's reader does."""
    path, _ = make_archive(tmp_path / "long.jsonl.gz", speakers=1, per_speaker=2,
                           frames=(1100, 1600))
    utts = load_utterances([path])
    ds = CropDataset(utts, 200, 0, seed=0)
    for utt, cut in enumerate(CutSet.from_file(path)):
        reader = LilcomChunkyReader(cut.features.storage_path)
        n = int(utts.num_frames[utt])
        for lo, hi in ((0, 1), (0, n), (499, 501), (500, 1000), (123, 1050), (n - 7, n)):
            mine = read_frames(ds.rows._fd(utt), utts.bounds(utt), lo, hi)
            np.testing.assert_array_equal(mine, reader.read(cut.features.storage_key, lo, hi))


def test_labels_are_sorted_speaker_indices(archive) -> None:
    path, _ = archive
    utts = load_utterances([path])
    assert utts.speakers == sorted(utts.speakers) and len(utts.speakers) == 4
    for i, cut in enumerate(CutSet.from_file(path)):
        assert utts.speakers[utts.labels[i]] == cut.supervisions[0].speaker
    ds = CropDataset(utts, 200, 300, seed=0)
    x, y = ds[[(5, 0), (17, 1)]]
    assert x.shape == (2, 200, 80) and y.tolist() == [utts.labels[5], utts.labels[17]]


def test_each_pass_is_a_shuffled_90_percent(archive) -> None:
    order = SampleOrder(num_utterances=50, seed=1, skip_fraction=0.1)
    assert order.pass_length == 45
    passes = [[order.utterance(k * 45 + i) for i in range(45)] for k in range(3)]
    for p in passes:
        assert len(set(p)) == 45 and p != sorted(p)
    assert len({tuple(p) for p in passes}) == 3  # a new order and a new 10 % skipped each pass
    assert len({frozenset(p) for p in passes}) == 3
    again = SampleOrder(50, 1, 0.1)
    assert [again.utterance(i) for i in range(135)] == sum(passes, [])


def test_ranks_get_distinct_data_and_match_accumulation() -> None:
    """2 ranks x 1 micro-step see the same micro-batches as 1 rank x 2 micro-steps."""
    order = SampleOrder(100, 0, 0.1)

    def batches(layout: Layout) -> list[list[tuple[int, int]]]:
        return list(MicroBatchSampler(order, layout, start_step=3, end_step=6))

    single = batches(Layout(4, world_size=1, rank=0, accumulation=2))
    rank0 = batches(Layout(4, world_size=2, rank=0, accumulation=1))
    rank1 = batches(Layout(4, world_size=2, rank=1, accumulation=1))
    assert single[0::2] == rank0 and single[1::2] == rank1
    positions = [p for b in rank0 + rank1 for _, p in b]
    assert sorted(positions) == list(range(3 * 8, 6 * 8))  # disjoint, nothing lost


def test_resumed_sampler_continues_the_same_stream() -> None:
    order = SampleOrder(30, 5, 0.1)
    layout = Layout(8)
    full = list(MicroBatchSampler(order, layout, 0, 10))
    assert list(MicroBatchSampler(SampleOrder(30, 5, 0.1), layout, 4, 10)) == full[4:]


def test_worker_processes_give_the_same_batches(archive) -> None:
    path, _ = archive
    utts = load_utterances([path])
    ds = CropDataset(utts, 200, 300, seed=2)

    def run(workers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        sampler = MicroBatchSampler(SampleOrder(len(utts), 2, 0.1), Layout(6), 0, 5)
        return list(DataLoader(ds, sampler=sampler, batch_size=None, num_workers=workers))

    for (xa, ya), (xb, yb) in zip(run(0), run(2), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_bad_manifests_are_named(archive, tmp_path: Path) -> None:
    path, _ = archive
    cuts = CutSet.from_file(path)
    no_speaker = tmp_path / "nospk.jsonl.gz"
    CutSet.from_cuts(dataclasses.replace(c, supervisions=[]) for c in cuts).to_file(no_speaker)
    with pytest.raises(DataError, match="nospk.jsonl.gz: cut id10001"):
        load_utterances([no_speaker])
    with pytest.raises(DataError, match="not in the label set"):
        load_utterances([path], speakers=["id10001"])
    empty = tmp_path / "empty.jsonl.gz"
    CutSet.from_cuts([]).to_file(empty)
    with pytest.raises(DataError, match="empty"):
        load_utterances([empty])
