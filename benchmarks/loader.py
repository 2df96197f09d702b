"""Training-loader throughput: random crops per second per loader process (voxsv.data).

Reads CMN-normalised random crops in the order and batches training uses, in one process
(num_workers 0, one torch thread), from both readers side by side: the lilcom-chunky FBANK
archives (crop + sliding-CMN context decoded, CMN per crop) and the crop store written from the
same archives (voxsv.crop_store: a memory-map slice per crop); first it checks that both give
the same crops (np.array_equal). Reports crops/s and CPU ms per crop for 200-frame (batch 32)
and 600-frame (batch 16) crops. Target: >= 2,000 crops/s per loader process for 200-frame crops
from the store (the seed's RTX 4090 consumed about 670 segments/s; a training rank runs
`train.num_workers` such processes). Without `--manifests`, writes a synthetic archive with
VoxCeleb2-like lengths (4-20 s, mean ~8 s) to a temporary directory; the stores are written
to a temporary directory either way (~3.4x the archives' bytes).
Also prints where a lilcom crop's time goes (cProfile over a few thousand crops): lilcom
decoding, which bounds that reader: a crop with its 300-frame CMN context (500 frames) spans
two of lhotse's fixed 500-frame chunks unless the utterance is shorter, and lilcom cannot
decode part of a chunk; then the exact sliding CMN of voxsv.features, then the rest.
Prints the load average before and after (the machine may be shared). With --drop-caches
(root), every case is measured again starting from an empty page cache; a store smaller than
the memory is cached again within the measurement, so that figure bounds only the first reads.

    OMP_NUM_THREADS=1 python benchmarks/loader.py \
        [--manifests data/fbank/80/vox2dev/*/shard0.jsonl.gz] [--drop-caches]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lhotse import CutSet, MonoCut, SupervisionSegment
from lhotse.features import Features
from lhotse.features.io import LilcomChunkyWriter
from torch.utils.data import DataLoader

from voxsv.crop_store import write_store
from voxsv.data import LILCOM, CropDataset, Layout, MicroBatchSampler, SampleOrder, load_utterances

TARGET_200 = 2000.0
CMN_WINDOW = 300
CASES = ((200, 32), (600, 16))  # crop frames, batch


def synthetic_archive(directory: Path, utterances: int, bins: int = 80) -> Path:
    """A CutSet of random log-mel-like FBANK with VoxCeleb2's length spread."""
    rng = np.random.default_rng(0)
    manifest = directory / "shard0.jsonl.gz"
    cuts = []
    with LilcomChunkyWriter(directory / "shard0.lca") as writer:
        for i in range(utterances):
            n = int(np.clip(rng.lognormal(np.log(700), 0.4), 400, 2000))
            feats = rng.normal(10, 3, size=(n, bins)).astype(np.float32)
            cut_id = f"id{10001 + i % 50}/v/{i:05d}"
            key = writer.write(cut_id, feats)
            stored = Features(
                type="kaldi-fbank", num_frames=n, num_features=bins, frame_shift=0.01,
                sampling_rate=16000, start=0.0, duration=n / 100, storage_type=writer.name,
                storage_path=writer.storage_path, storage_key=key, recording_id=cut_id,
                channels=0,
            )
            sup = SupervisionSegment(cut_id, cut_id, 0.0, n / 100, speaker=f"id{10001 + i % 50}")
            cuts.append(MonoCut(cut_id, 0.0, n / 100, 0, features=stored, supervisions=[sup]))
    CutSet.from_cuts(cuts).to_file(manifest)
    return manifest


def crop_stores(manifests: list[Path], directory: Path) -> list[Path]:
    """The crop store of each FBANK manifest (written under `directory`), as training's."""
    stores = []
    for i, manifest in enumerate(manifests):
        store = directory / f"store{i}.jsonl.gz"
        write_store(manifest, store, store.with_suffix("").with_suffix(".npy"), CMN_WINDOW)
        stores.append(store)
    return stores


def assert_same_crops(archives: list[Path], stores: list[Path], crops: int) -> int:
    """Check that both readers give the same first `crops` crops of training's order."""
    lilcom_utts, store_utts = load_utterances(archives), load_utterances(stores)
    order = SampleOrder(len(store_utts), 0, 0.1)
    for crop, _ in CASES:
        lilcom = CropDataset(lilcom_utts, crop, CMN_WINDOW, seed=0)
        store = CropDataset(store_utts, crop, CMN_WINDOW, seed=0)
        for position in range(crops):
            utt = order.utterance(position)
            if not np.array_equal(lilcom.crop(utt, position), store.crop(utt, position)):
                raise AssertionError(f"{crop}-frame crop at position {position} differs")
    return crops * len(CASES)


def drop_page_cache() -> None:
    """Write dirty pages and drop the page cache (root only), so reads come from the disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def crops_per_second(
    manifests: list[Path], crop: int, batch: int, seconds: float, cold: bool = False
) -> dict:
    """Crops/s of one loader process over at least `seconds` of batches (`cold`: starting
    with an empty page cache)."""
    if cold:
        drop_page_cache()
    utts = load_utterances(manifests)
    dataset = CropDataset(utts, crop, cmn_window=CMN_WINDOW, seed=0)
    sampler = MicroBatchSampler(SampleOrder(len(utts), 0, 0.1), Layout(batch), 0, 10**9)
    loader = iter(DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=0))
    next(loader)  # warm-up: first pass permutation, readers
    crops, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        feats, _ = next(loader)
        crops += len(feats)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"reader": utts.storage_type, "page_cache": "dropped" if cold else "as found",
            "crop_frames": crop, "batch": batch, "crops": crops,
            "crops_per_s": round(crops / wall, 1), "cpu_ms_per_crop": round(1e3 * cpu / crops, 3)}


def where_time_goes(manifests: list[Path], crops: int = 3000) -> dict:
    """Share of crop time in lilcom decoding and in sliding CMN (cProfile), and chunks/crop."""
    utts = load_utterances(manifests)
    dataset = CropDataset(utts, 200, cmn_window=CMN_WINDOW, seed=0)
    order = SampleOrder(len(utts), 0, 0.1)
    items = [(order.utterance(p), p) for p in range(crops)]
    profile = cProfile.Profile()
    profile.enable()
    for utt, position in items:
        dataset.crop(utt, position)
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(tottime for _, _, tottime, _, _ in stats.values())
    decode = [v for k, v in stats.items() if "decompress_float" in k[2]]
    cmn = [v for k, v in stats.items() if k[2] == "sliding_cmn_segment"]
    return {
        "profiled_crops": crops,
        "chunks_decoded_per_crop": round(decode[0][1] / crops, 2) if decode else 0,
        "lilcom_decode_share": round(decode[0][2] / total, 3) if decode else 0,
        "sliding_cmn_share": round(cmn[0][3] / total, 3) if cmn else 0,
        "profiled_ms_per_crop": round(1e3 * total / crops, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", nargs="*", type=Path,
                        help="lilcom FBANK CutSet manifests of training shards")
    parser.add_argument("--utterances", type=int, default=2000, help="synthetic archive size")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per case")
    parser.add_argument("--check", type=int, default=300, help="crops compared per crop size")
    parser.add_argument("--drop-caches", action="store_true",
                        help="also measure from an empty page cache (root: /proc/sys/vm)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count()}))
    with tempfile.TemporaryDirectory() as tmp:
        archives = args.manifests or [synthetic_archive(Path(tmp), args.utterances)]
        stores = crop_stores(archives, Path(tmp))
        print(json.dumps({"identical_crops": assert_same_crops(archives, stores, args.check)}))
        results = [crops_per_second(manifests, crop, batch, args.seconds, cold)
                   for cold in ((False, True) if args.drop_caches else (False,))
                   for crop, batch in CASES for manifests in (archives, stores)]
        breakdown = where_time_goes(archives)
    for r in results:
        print(json.dumps(r))
    print(json.dumps({"lilcom_200_frame_crop_profile": breakdown}))
    print(json.dumps({"load_average_after": os.getloadavg()}))
    store = next(r for r in results if r["reader"] != LILCOM and r["crop_frames"] == 200
                 and r["page_cache"] == "as found")
    ok = store["crops_per_s"] >= TARGET_200
    print(f"200-frame crops from the crop store: {store['crops_per_s']:.0f}/s per loader process "
          f"(target >= {TARGET_200:.0f}): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
