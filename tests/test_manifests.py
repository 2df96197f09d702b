"""Manifests of VoxCeleb-, MUSAN- and RIRS_NOISES-style trees; trial checks; bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lhotse import RecordingSet, SupervisionSet

from voxsv import manifests
from voxsv.audio import AudioError, write_wav
from voxsv.trials import TrialsError

SR = 16000


def tone(seconds: float, freq: float = 220.0, seed: int = 0) -> np.ndarray:
    """A short test signal: a tone plus a little noise."""
    t = np.arange(round(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(
        np.float32
    )


def load(path: Path) -> dict:
    """A recording manifest as {id: Recording} (from_file is lazy for .jsonl.gz)."""
    return {r.id: r for r in RecordingSet.from_file(path)}


def make_voxceleb(root: Path, layout: dict[str, dict[str, int]], ext: str = ".wav") -> list[str]:
    """Write idXXXXX/<video>/<nnnnn>.<ext> files; return their utterance ids."""
    ids = []
    for spk, videos in layout.items():
        for video, count in videos.items():
            for n in range(1, count + 1):
                utt = f"{spk}/{video}/{n:05d}"
                path = root / f"{utt}{ext}"
                path.parent.mkdir(parents=True, exist_ok=True)
                if ext == ".m4a":
                    wav = path.with_suffix(".src.wav")
                    write_wav(wav, tone(0.5 + 0.25 * n, 200 + 40 * n))
                    subprocess.run(
                        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav),
                         "-c:a", "aac", "-b:a", "48k", str(path)],
                        check=True,
                    )
                    wav.unlink()
                else:
                    write_wav(path, tone(0.5 + 0.25 * n, 200 + 40 * n))
                ids.append(utt)
    return sorted(ids)


LAYOUT = {"id10001": {"1zcIwhmdeo4": 2, "7w0IBEWc9Qw": 1}, "id10002": {"0_laIeN-Q44": 2}}


def test_voxceleb_wav_ids_speakers_durations(tmp_path):
    root = tmp_path / "voxceleb1" / "wav"
    ids = make_voxceleb(root, LAYOUT)
    rec_path, sup_path = tmp_path / "rec.jsonl.gz", tmp_path / "sup.jsonl.gz"
    assert manifests.write_voxceleb(root, rec_path, sup_path, workers=2) == []
    recs, sups = load(rec_path), SupervisionSet.from_file(sup_path)
    assert list(recs) == ids
    assert recs["id10001/1zcIwhmdeo4/00002"].duration == pytest.approx(1.0)
    assert recs["id10001/1zcIwhmdeo4/00002"].num_samples == SR
    assert {s.recording_id: s.speaker for s in sups} == {i: i.split("/")[0] for i in ids}
    assert recs["id10002/0_laIeN-Q44/00001"].sources[0].source == str(
        root / "id10002/0_laIeN-Q44/00001.wav"
    )


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (installed by .ci/run)")
def test_voxceleb2_m4a(tmp_path):
    root = tmp_path / "voxceleb2" / "dev" / "aac"
    ids = make_voxceleb(root, {"id00012": {"21Uxsk56VDQ": 2}, "id00015": {"0fijmz4vTVU": 1}},
                        ext=".m4a")
    rec_path, sup_path = tmp_path / "rec.jsonl.gz", tmp_path / "sup.jsonl.gz"
    manifests.write_voxceleb(root, rec_path, sup_path)
    recs = load(rec_path)
    assert list(recs) == ids
    # AAC adds encoder priming/padding of a few ms; the container duration stays close.
    assert recs["id00012/21Uxsk56VDQ/00002"].duration == pytest.approx(1.0, abs=0.05)
    assert recs[ids[0]].sources[0].source.endswith(".m4a")
    assert {s.speaker for s in SupervisionSet.from_file(sup_path)} == {"id00012", "id00015"}


def test_missing_corpus_directory(tmp_path):
    with pytest.raises(manifests.ManifestError, match=str(tmp_path / "nope")):
        manifests.voxceleb_entries(tmp_path / "nope")
    with pytest.raises(manifests.ManifestError, match="music"):
        manifests.musan_entries(tmp_path, "music")


def test_bad_audio_error_and_skip(tmp_path, caplog):
    root = tmp_path / "wav"
    make_voxceleb(root, {"id10001": {"v": 2}})
    bad = root / "id10001/v/00003.wav"
    bad.write_bytes(b"RIFF\x00\x00")  # unreadable
    stereo = root / "id10001/v/00004.wav"
    import soundfile as sf

    sf.write(stereo, np.zeros((SR, 2), dtype=np.float32), SR, subtype="PCM_16")
    out = tmp_path / "rec.jsonl.gz", tmp_path / "sup.jsonl.gz"
    with pytest.raises(AudioError, match="00003.wav"):
        manifests.write_voxceleb(root, *out)
    assert not out[0].exists() and not out[1].exists()
    skipped = manifests.write_voxceleb(root, *out, on_bad_audio="skip")
    assert len(skipped) == 2 and "00003.wav" in skipped[0] and "00004.wav" in skipped[1]
    assert "skipped 2 bad audio file(s)" in caplog.text
    assert len(load(out[0])) == 2


def test_musan_and_rir_lists(tmp_path):
    musan = tmp_path / "musan"
    for kind, sub in (("noise", "free-sound"), ("music", "fma"), ("speech", "librivox")):
        for n in range(2):
            write_wav(musan / kind / sub / f"{kind}-{n:04d}.wav", tone(1.0 + n))
    entries = manifests.musan_entries(musan, "music")
    assert [e.id for e in entries] == ["music/fma/music-0000", "music/fma/music-0001"]

    rirs = tmp_path / "RIRS_NOISES"
    room = rirs / "simulated_rirs" / "smallroom"
    write_wav(room / "Room001" / "Room001-00001.wav", tone(0.2))
    write_wav(room / "Room001" / "Room001-00002.wav", tone(0.2))
    (room / "rir_list").write_text(
        "--rir-id smallroom-Room001-00001 --room-id smallroom-Room001 "
        "RIRS_NOISES/simulated_rirs/smallroom/Room001/Room001-00001.wav\n"
        "--rir-id smallroom-Room001-00002 --room-id smallroom-Room001 "
        "simulated_rirs/smallroom/Room001/Room001-00002.wav\n"
    )
    rir = manifests.rir_entries(rirs, "smallroom")
    assert [e.id for e in rir] == ["smallroom-Room001-00001", "smallroom-Room001-00002"]
    assert Path(rir[0].path).is_file()

    with open(room / "rir_list", "a") as f:
        f.write("--rir-id smallroom-Room002-00001 --room-id smallroom-Room002 "
                "RIRS_NOISES/simulated_rirs/smallroom/Room002/Room002-00001.wav\n")
    with pytest.raises(manifests.ManifestError, match=r"rir_list:3: .*Room002-00001.wav"):
        manifests.rir_entries(rirs, "smallroom")
    (room / "rir_list").write_text("--rir-id only-two-fields\n")
    with pytest.raises(manifests.ManifestError, match="rir_list:1"):
        manifests.rir_entries(rirs, "smallroom")
    with pytest.raises(manifests.ManifestError, match="mediumroom/rir_list"):
        manifests.rir_entries(rirs, "mediumroom")


def test_check_trials(tmp_path):
    root = tmp_path / "wav"
    ids = make_voxceleb(root, LAYOUT)
    rec, sup = tmp_path / "rec.jsonl.gz", tmp_path / "sup.jsonl.gz"
    manifests.write_voxceleb(root, rec, sup)
    good = tmp_path / "O.txt"
    good.write_text(f"1 {ids[0]}.wav {ids[1]}.wav\n0 {ids[0]}.wav {ids[4]}.wav\n")
    out = tmp_path / "trials_checked.tsv"
    manifests.check_trials({"O": good}, rec, out)
    assert out.read_text().splitlines()[1].split("\t")[2:] == ["2", "1", "3"]

    missing = tmp_path / "E.txt"
    missing.write_text(
        f"1 {ids[0]}.wav id10009/x/00001.wav\n0 id10008/y/00002.wav {ids[1]}.wav\n"
    )
    with pytest.raises(manifests.TrialsMismatch, match=r"2 utterance\(s\).*id10008/y/00002.wav"):
        manifests.check_trials({"O": good, "E": missing}, rec, tmp_path / "x.tsv")
    assert not (tmp_path / "x.tsv").exists()

    malformed = tmp_path / "H.txt"
    malformed.write_text(f"1 {ids[0]}.wav {ids[1]}.wav\n1 {ids[0]}.wav\n")
    with pytest.raises(TrialsError, match="H.txt:2"):
        manifests.check_trials({"H": malformed}, rec, tmp_path / "x.tsv")
