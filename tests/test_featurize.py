"""FBANK archives: atomic writes, seeded dither and augmentation, 200-frame crops, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from lhotse import CutSet
from test_features import kaldi_reference
from test_manifests import SR, make_voxceleb, tone

from voxsv import augment, featurize, manifests
from voxsv.audio import AudioError, decode_ffmpeg_many, read_audio, write_wav
from voxsv.features import fbank

REPO = Path(__file__).resolve().parents[1]
LAYOUT = {"id00012": {"21Uxsk56VDQ": 3}, "id00015": {"0fijmz4vTVU": 2}, "id00020": {"a": 3}}


def make_data(tmp: Path) -> dict[str, Path]:
    """A VoxCeleb2-style wav tree, MUSAN noise and RIRs, with their manifests."""
    root = tmp / "aac"
    make_voxceleb(root, LAYOUT)
    out = {"recordings": tmp / "rec.jsonl.gz", "supervisions": tmp / "sup.jsonl.gz"}
    manifests.write_voxceleb(root, out["recordings"], out["supervisions"])
    rng = np.random.default_rng(0)
    for i, seconds in enumerate((0.5, 1.2)):
        write_wav(tmp / "musan" / "noise" / f"n{i}.wav", 0.1 * rng.standard_normal(
            round(seconds * SR)))
    out["noise"] = tmp / "noise.jsonl.gz"
    manifests.write_recordings(manifests.musan_entries(tmp / "musan", "noise"), out["noise"])
    return out


def read_cuts(path: Path) -> dict:
    return {c.id: c for c in CutSet.from_file(path)}


def run_shard(data, tmp: Path, index=0, num_shards=2, copy="clean", plans=None, **options):
    manifest, archive = tmp / f"{copy}{index}.jsonl.gz", tmp / f"{copy}{index}.lca"
    skipped = featurize.featurize_shard(
        data["recordings"], data["supervisions"], manifest, archive, index, num_shards,
        featurize.FbankOptions(**{"seed": 1, "dither": 1.0, **options}), copy, plans)
    return manifest, archive, skipped


def test_clean_shards_partition_sorted_ids(tmp_path):
    data = make_data(tmp_path)
    ids = []
    for index in range(2):
        manifest, archive, skipped = run_shard(data, tmp_path, index)
        cuts = read_cuts(manifest)
        assert skipped == [] and archive.is_file()
        ids.append(list(cuts))
        for cut in cuts.values():
            assert cut.supervisions[0].speaker == cut.id.split("/")[0]
            assert cut.features.storage_type == "lilcom_chunky"
            assert cut.features.storage_path == str(archive)
    all_ids = sorted(i for shard in ids for i in shard)
    assert ids == [all_ids[0::2], all_ids[1::2]]


def test_features_match_fbank_and_dither_is_seeded(tmp_path):
    data = make_data(tmp_path)
    cuts = read_cuts(run_shard(data, tmp_path, dither=0.0)[0])
    cut = cuts["id00012/21Uxsk56VDQ/00003"]
    direct = fbank(np.asarray(cut.recording.load_audio()[0]), 80, 0.0)
    stored = cut.load_features()
    assert stored.shape == direct.shape == (cut.num_frames, 80)
    assert np.max(np.abs(stored - direct)) < 0.02  # lilcom chunky, tick 2**-5

    a = read_cuts(run_shard(data, tmp_path / "a")[0])
    b = read_cuts(run_shard(data, tmp_path / "b")[0])
    c = read_cuts(run_shard(data, tmp_path / "c", seed=2)[0])
    key = "id00012/21Uxsk56VDQ/00003"
    assert np.array_equal(a[key].load_features(), b[key].load_features())
    assert not np.array_equal(a[key].load_features(), c[key].load_features())


def test_stored_features_are_kaldis_with_the_cut_seeded_dither(tmp_path):
    """The data stage stores Kaldi's FBANK (float64 definition) of the augmented audio, with
    dither drawn as torch.randn((frames, 400)) from the cut's seed, to lilcom's precision."""
    data = make_data(tmp_path)
    recs = list(augment.recordings_of(featurize.shard_items(data["recordings"], 0, 1)))
    plans = tmp_path / "plans.jsonl.gz"
    augment.write_plans("noise", recs, augment.source_sets({"noise": data["noise"]}), plans, 3)
    plan_of = {p["id"]: p for p in augment.read_plans(plans)}
    silent = np.concatenate([np.zeros(SR // 2, np.float32), tone(1.0)])  # dither shows here
    write_wav(recs[0].sources[0].source, silent)
    for copy, dither in (("clean", 0.0), ("noise", 0.0), ("noise", 1.0)):
        out = tmp_path / f"{copy}{dither}"
        cuts = read_cuts(run_shard(data, out, 0, 1, copy, None if copy == "clean" else plans,
                                   dither=dither)[0])
        for rec in recs:
            samples = read_audio(rec.sources[0].source)
            cut_id = rec.id
            if copy != "clean":
                samples, cut_id = augment.apply_plan(samples, plan_of[rec.id]), f"{rec.id}_noise"
            frames = 1 + (len(samples) - 400) // 160
            gen = torch.Generator().manual_seed(featurize.utterance_seed(1, cut_id))
            noise = dither * torch.randn((frames, 400), generator=gen).numpy().astype(np.float64)
            expected = kaldi_reference(samples, 80, noise)
            assert np.abs(cuts[cut_id].load_features() - expected).max() < 0.02  # lilcom


def test_random_200_frame_crops(tmp_path):
    root = tmp_path / "aac"
    write_wav(root / "id00001" / "v" / "00001.wav", tone(13.0))
    rec, sup = tmp_path / "rec.jsonl.gz", tmp_path / "sup.jsonl.gz"
    manifests.write_voxceleb(root, rec, sup)
    data = {"recordings": rec, "supervisions": sup}
    (cut,) = read_cuts(run_shard(data, tmp_path, 0, 1)[0]).values()
    whole = cut.load_features()
    assert whole.shape[0] == 1 + (13 * SR - 400) // 160
    rng = np.random.default_rng(0)
    for start in rng.integers(0, whole.shape[0] - 200, size=5):
        crop = cut.features.load(start=start * 0.01, duration=2.0)
        assert np.array_equal(crop, whole[start : start + 200])
        truncated = cut.truncate(offset=start * 0.01, duration=2.0).load_features()
        assert np.array_equal(truncated, whole[start : start + 200])


def test_augmented_copy_is_seeded_and_differs(tmp_path):
    data = make_data(tmp_path)
    recs = list(augment.recordings_of(featurize.shard_items(data["recordings"], 1, 2)))
    sources = augment.source_sets({"noise": data["noise"]})
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        plans = tmp_path / f"plans_{name}.jsonl.gz"
        assert augment.write_plans("noise", recs, sources, plans, seed) == len(recs)
        runs[name] = read_cuts(run_shard(data, tmp_path / name, 1, 2, "noise", plans)[0])
    clean = read_cuts(run_shard(data, tmp_path / "clean", 1, 2)[0])
    key = recs[0].id
    noisy = runs["a"][f"{key}_noise"]
    assert noisy.supervisions[0].speaker == key.split("/")[0] and noisy.recording is None
    for rec in recs:
        feats = {n: r[f"{rec.id}_noise"].load_features() for n, r in runs.items()}
        assert np.array_equal(feats["a"], feats["b"])
        assert not np.allclose(feats["a"], clean[rec.id].load_features(), atol=0.5)
    # Another augmentation seed (same dither seed) draws other noises or SNRs somewhere.
    assert any(
        not np.array_equal(runs["a"][f"{r.id}_noise"].load_features(),
                           runs["c"][f"{r.id}_noise"].load_features())
        for r in recs
    )


def test_crash_midway_leaves_no_manifest(tmp_path, monkeypatch):
    data = make_data(tmp_path)
    calls = []

    def failing(samples, cut_id, options):
        calls.append(cut_id)
        if len(calls) == 3:
            raise KeyboardInterrupt  # a killed job
        return fbank(samples)

    monkeypatch.setattr(featurize, "compute", failing)
    with pytest.raises(KeyboardInterrupt):
        run_shard(data, tmp_path, 0, 1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".clean", "clean"))) \
        == []


def test_bad_audio_error_or_skip(tmp_path, caplog):
    data = make_data(tmp_path)
    bad = tmp_path / "aac" / "id00015" / "0fijmz4vTVU" / "00001.wav"
    bad.write_bytes(bad.read_bytes()[:2000])  # truncated after the manifest was made
    with pytest.raises(AudioError, match="00001.wav"):
        run_shard(data, tmp_path, 0, 1)
    assert not (tmp_path / "clean0.jsonl.gz").exists()
    assert not (tmp_path / "clean0.lca").exists()
    manifest, _, skipped = run_shard(data, tmp_path, 0, 1, on_bad_audio="skip")
    assert len(skipped) == 1 and "00001.wav" in skipped[0]
    assert "skipped 1 bad audio file(s)" in caplog.text
    assert "id00015/0fijmz4vTVU/00001" not in read_cuts(manifest)
    assert len(read_cuts(manifest)) == 7


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (installed by .ci/run)")
def test_m4a_decoded_with_ffmpeg(tmp_path):
    root = tmp_path / "aac"
    make_voxceleb(root, {"id00012": {"21Uxsk56VDQ": 2}}, ext=".m4a")
    rec, sup = tmp_path / "rec.jsonl.gz", tmp_path / "sup.jsonl.gz"
    manifests.write_voxceleb(root, rec, sup)
    cuts = read_cuts(run_shard({"recordings": rec, "supervisions": sup}, tmp_path, 0, 1)[0])
    cut = cuts["id00012/21Uxsk56VDQ/00002"]
    # 1.0 s of audio: 98 frames, give or take the AAC encoder's padding.
    assert abs(cut.load_features().shape[0] - 98) <= 3
    assert cut.recording.sources[0].source.endswith(".m4a")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (installed by .ci/run)")
def test_batched_m4a_decoding_equals_read_audio(tmp_path):
    from voxsv.audio import read_audio

    root = tmp_path / "aac"
    make_voxceleb(root, {"id00012": {"v": 3}}, ext=".m4a")
    paths = sorted(str(p) for p in root.rglob("*.m4a"))
    together = decode_ffmpeg_many(paths)
    assert list(together) == paths
    for path in paths:
        assert np.array_equal(together[path], read_audio(path))

    rec, sup = tmp_path / "rec.jsonl.gz", tmp_path / "sup.jsonl.gz"
    manifests.write_voxceleb(root, rec, sup)
    Path(paths[1]).write_bytes(Path(paths[1]).read_bytes()[:300])  # truncated after the manifest
    assert decode_ffmpeg_many(paths) == {}
    recordings = list(augment.recordings_of(featurize.shard_items(rec, 0, 1)))
    results = [(r.id, s) for r, s in featurize.decoded(recordings)]
    assert [i for i, s in results if isinstance(s, AudioError)] == ["id00012/v/00002"]
    assert "00002.m4a" in str(results[1][1])
    assert np.array_equal(results[0][1], read_audio(paths[0]))
