"""Reading and writing audio, and a clear AudioError naming the file for every kind of bad input."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxsv import audio
from voxsv.audio import AudioError, probe_duration, read_audio, write_wav

SR = 16000


def tone(seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    """A tone with a little noise, on the int16 grid so that a 16-bit round trip is exact."""
    t = np.arange(int(seconds * SR)) / SR
    noise = 0.01 * np.random.default_rng(0).standard_normal(len(t))
    return (np.round((0.3 * np.sin(2 * np.pi * freq * t) + noise) * 32768) / 32768).astype(
        np.float32
    )


@pytest.fixture
def ffmpeg() -> str:
    """The ffmpeg executable; CI installs it, a local run without it skips."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ffmpeg is not installed (apt-get install ffmpeg)")
        pytest.skip("ffmpeg not installed")
    return exe


def to_m4a(ffmpeg: str, wav: Path, out: Path, *extra: str) -> Path:
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(wav), *extra, "-c:a",
                    "aac", "-b:a", "128k", str(out)], check=True)
    return out


def test_wav_round_trip_is_exact_and_atomic(tmp_path: Path) -> None:
    x = tone(1.5)
    path = tmp_path / "sub" / "a.wav"
    write_wav(path, x)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
    y = read_audio(path)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x)
    assert probe_duration(path) == 1.5
    assert [p.name for p in path.parent.iterdir()] == ["a.wav"]  # no temporary left behind


def test_write_wav_clips_and_accepts_int16(tmp_path: Path) -> None:
    write_wav(tmp_path / "c.wav", np.array([2.0, -2.0, 0.5], dtype=np.float32))
    np.testing.assert_array_equal(read_audio(tmp_path / "c.wav"), [32767 / 32768, -1.0, 0.5])
    write_wav(tmp_path / "i.wav", np.array([1, -2, 3], dtype=np.int16))
    np.testing.assert_array_equal(read_audio(tmp_path / "i.wav") * 32768, [1, -2, 3])
    with pytest.raises(ValueError, match="mono"):
        write_wav(tmp_path / "s.wav", np.zeros((10, 2)))
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]))
    assert not (tmp_path / "s.wav").exists() and not (tmp_path / "n.wav").exists()


def test_flac(tmp_path: Path) -> None:
    x = tone(0.5)
    sf.write(tmp_path / "a.flac", x, SR, subtype="PCM_16")
    np.testing.assert_array_equal(read_audio(tmp_path / "a.flac"), x)
    assert probe_duration(tmp_path / "a.flac") == 0.5


def bad_wav(tmp_path: Path, kind: str) -> Path:
    """Write one kind of bad input and return its path."""
    path = tmp_path / f"{kind}.wav"
    if kind == "missing":
        return path
    if kind == "not_audio":
        path.write_text("this is not a wav file\n")
    elif kind == "empty":
        sf.write(path, np.zeros(0, np.float32), SR, subtype="PCM_16")
    elif kind == "truncated":
        write_wav(path, tone(1.0))
        path.write_bytes(path.read_bytes()[:20000])
    elif kind == "odd_bytes":
        write_wav(path, tone(1.0))
        path.write_bytes(path.read_bytes()[:-1])
    elif kind == "rate":
        sf.write(path, tone(1.0), 8000, subtype="PCM_16")
    elif kind == "stereo":
        sf.write(path, np.stack([tone(1.0)] * 2, axis=1), SR, subtype="PCM_16")
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "no such file"),
        ("not_audio", "not readable audio"),
        ("empty", "empty"),
        ("truncated", r"truncated \(header says 16000 frames, file holds 9978\)"),
        ("odd_bytes", "truncated"),
        ("rate", "sample rate 8000 Hz, expected 16000"),
        ("stereo", "2 channels, expected mono"),
    ],
)
def test_bad_wav_raises_naming_file(tmp_path: Path, kind: str, message: str) -> None:
    path = bad_wav(tmp_path, kind)
    with pytest.raises(AudioError, match=message) as err:
        read_audio(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)
    if kind not in ("empty",):  # an empty file's header is fine: 0 seconds
        with pytest.raises(AudioError, match=message):
            probe_duration(path)


def test_truncated_flac(tmp_path: Path) -> None:
    path = tmp_path / "t.flac"
    sf.write(path, tone(1.0), SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(AudioError, match="truncated") as err:
        read_audio(path)
    assert str(path) in str(err.value)


def test_m4a_decoded_by_ffmpeg(tmp_path: Path, ffmpeg: str) -> None:
    x = tone(1.0)
    write_wav(tmp_path / "a.wav", x)
    for name, extra in [("mono", ()), ("stereo44k", ("-ac", "2", "-ar", "44100"))]:
        m4a = to_m4a(ffmpeg, tmp_path / "a.wav", tmp_path / f"{name}.m4a", *extra)
        y = read_audio(m4a)
        assert y.dtype == np.float32
        # AAC pads to whole 1024-sample frames; the encoder delay is trimmed on decoding
        assert len(x) <= len(y) < len(x) + 1024
        assert np.corrcoef(x, y[: len(x)])[0, 1] > 0.97
        assert probe_duration(m4a) == pytest.approx(1.0, abs=0.07)


def ffprobe_duration(path: Path) -> float:
    """Reference: the container duration as ffprobe prints it."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "default=noprint_wrappers=1:nokey=1", str(path)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


def mp4_box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_m4a_duration_is_read_from_the_header_as_ffprobe(
    tmp_path: Path, ffmpeg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """probe_duration of an .m4a reads the mvhd box (no process) and equals ffprobe's value:
    moov after or before the audio, odd lengths, resampled stereo, a 64-bit (version 1) mvhd
    with a timescale that does not divide a microsecond, and a 64-bit box size."""
    files = []
    for samples in (400, 12345, 16001, 200003):
        write_wav(tmp_path / "a.wav", tone(samples / SR + 0.01)[:samples])
        for name, extra in [("plain", ()), ("faststart", ("-movflags", "+faststart")),
                            ("stereo44k", ("-ac", "2", "-ar", "44100"))]:
            files.append(to_m4a(ffmpeg, tmp_path / "a.wav", tmp_path / f"{samples}{name}.m4a",
                                *extra))
    mvhd = bytes([1, 0, 0, 0]) + struct.pack(">QQIQ", 0, 0, 44100, 3 * 44100 + 1) + bytes(80)
    ftyp = mp4_box(b"ftyp", b"M4A \0\0\0\0M4A isom")
    (tmp_path / "v1.m4a").write_bytes(ftyp + mp4_box(b"moov", mp4_box(b"mvhd", mvhd)))
    free64 = struct.pack(">I4sQ", 1, b"free", 16 + 5) + b"12345"
    (tmp_path / "large.m4a").write_bytes(ftyp + free64 + mp4_box(b"moov", mp4_box(b"mvhd", mvhd)))
    files += [tmp_path / "v1.m4a", tmp_path / "large.m4a"]
    expected = [ffprobe_duration(f) for f in files]
    assert expected[-1] == 3.000023
    monkeypatch.setattr(audio.subprocess, "run", lambda *a, **k: pytest.fail("ran a process"))
    assert [probe_duration(f) for f in files] == expected


def test_m4a_without_an_mp4_header_is_probed_by_ffprobe(tmp_path: Path, ffmpeg: str) -> None:
    """An .m4a that is a raw AAC (ADTS) stream has no mvhd: ffprobe gives its duration."""
    write_wav(tmp_path / "a.wav", tone(1.0))
    adts = to_m4a(ffmpeg, tmp_path / "a.wav", tmp_path / "adts.m4a", "-f", "adts")
    assert audio.mp4_duration(adts) is None
    assert probe_duration(adts) == ffprobe_duration(adts) > 0.9
    (tmp_path / "junk.m4a").write_bytes(b"not an mp4 container")
    with pytest.raises(AudioError, match="junk.m4a: ffprobe found no duration"):
        probe_duration(tmp_path / "junk.m4a")


@pytest.mark.parametrize("kind", ["junk", "truncated", "truncated_faststart", "missing"])
def test_bad_m4a_raises_naming_file(tmp_path: Path, ffmpeg: str, kind: str) -> None:
    path = tmp_path / f"{kind}.m4a"
    if kind == "junk":
        path.write_bytes(b"not an mp4 container")
    elif kind.startswith("truncated"):
        write_wav(tmp_path / "a.wav", tone(1.0))
        flags = ("-movflags", "+faststart") if kind.endswith("faststart") else ()
        to_m4a(ffmpeg, tmp_path / "a.wav", path, *flags)
        path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(AudioError) as err:
        read_audio(path)
    assert str(path) in str(err.value)


def test_missing_ffmpeg_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.m4a"
    path.write_bytes(b"\0" * 100)
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="ffmpeg not found") as err:
        read_audio(path)
    assert str(path) in str(err.value) and not isinstance(err.value, AudioError)
    with pytest.raises(RuntimeError, match="ffprobe not found"):
        probe_duration(path)
