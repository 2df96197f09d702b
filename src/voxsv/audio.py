"""Audio input and output: 16 kHz mono 16-bit PCM, with clear errors for bad files.

`.wav` and `.flac` are read with soundfile (libsndfile); `.m4a` (VoxCeleb2's AAC) is decoded by
ffmpeg in a subprocess to 16 kHz mono 16-bit PCM, as the original recipe converted VoxCeleb2.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from voxsv.atomic import atomic_path
from voxsv.errors import InputError

SAMPLE_RATE = 16000
FFMPEG_EXTENSIONS = (".m4a",)
FFMPEG_PCM = ["-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le"]  # ffmpeg output: what we read
_UNKNOWN_SIZE = 0xFFFFFFFF  # RIFF size written by streaming writers that could not seek back


class AudioError(InputError):
    """A file that is not readable 16 kHz mono audio; the message names the file."""


def read_audio(path: str | os.PathLike) -> np.ndarray:
    """Read a whole file as float32 samples in [-1, 1] at 16 kHz mono."""
    path = Path(path)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        samples = _decode_ffmpeg(path)
    else:
        samples = _read_soundfile(path)
    if samples.size == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    return samples


def write_wav(path: str | os.PathLike, samples: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write mono samples (float in [-1, 1], or int16) as a 16-bit PCM wav, atomically."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"{path}: expected mono (1-D) samples, got shape {samples.shape}")
    if samples.dtype != np.int16:
        if not np.all(np.isfinite(samples)):
            raise ValueError(f"{path}: samples contain NaN or infinity")
        # Scale by 32768 (the inverse of soundfile's int16 -> float read) so that a
        # write/read round trip is exact; clip instead of letting libsndfile wrap around.
        samples = np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, samples, sr, subtype="PCM_16", format="WAV")


def probe_duration(path: str | os.PathLike) -> float:
    """Return the duration in seconds, from the header where the format has one."""
    path = Path(path)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        if not path.is_file():
            raise AudioError(f"{path}: no such file")
        duration = mp4_duration(path)
        return _probe_ffmpeg(path) if duration is None else duration
    info = _checked_info(path)
    return info.frames / info.samplerate


def _checked_info(path: Path) -> sf._SoundFileInfo:
    """Open the header, check rate, channels and (for wav) completeness; return the info."""
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"{path}: not readable audio ({err})") from err
    if info.samplerate != SAMPLE_RATE:
        raise AudioError(f"{path}: sample rate {info.samplerate} Hz, expected {SAMPLE_RATE}")
    if info.channels != 1:
        raise AudioError(f"{path}: {info.channels} channels, expected mono")
    if info.format == "WAV":
        _check_wav_complete(path)
    return info


def _read_soundfile(path: Path) -> np.ndarray:
    """Read a wav/flac file with soundfile after checking its header."""
    info = _checked_info(path)
    try:
        samples, _ = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: truncated or damaged, cannot decode ({err})") from err
    if len(samples) != info.frames:
        raise AudioError(f"{path}: truncated (header {info.frames} frames, read {len(samples)})")
    return samples


def _check_wav_complete(path: Path) -> None:
    """Raise if the wav's data chunk claims more bytes than the file holds.

    libsndfile silently shortens such a file to what is present, so a cut-off download or a
    killed writer would otherwise pass as a shorter utterance.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        riff = f.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return  # RF64 and friends: leave to libsndfile
        block_align = 2
        while True:
            header = f.read(8)
            if len(header) < 8:
                raise AudioError(f"{path}: truncated (no data chunk)")
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"fmt ":
                fmt = f.read(chunk_size + (chunk_size & 1))
                block_align = max(1, struct.unpack("<H", fmt[12:14])[0])
            elif chunk_id == b"data":
                break
            else:
                f.seek(chunk_size + (chunk_size & 1), os.SEEK_CUR)
        available = size - f.tell()
    if chunk_size == _UNKNOWN_SIZE:
        return
    if chunk_size > available or chunk_size % block_align:
        frames_claimed = chunk_size // block_align
        raise AudioError(
            f"{path}: truncated (header says {frames_claimed} frames, "
            f"file holds {available // block_align})"
        )


def _ffmpeg(tool: str, path: Path) -> str:
    """Return the path of ffmpeg/ffprobe, or raise saying it must be installed."""
    exe = shutil.which(tool)
    if exe is None:
        # Not an AudioError: the file may be fine, the machine lacks the decoder.
        raise RuntimeError(
            f"{tool} not found on PATH; it is needed to decode {path} "
            "(install it, e.g. `apt-get install ffmpeg` or `conda install ffmpeg`)"
        )
    return exe


def _decode_ffmpeg(path: Path) -> np.ndarray:
    """Decode any ffmpeg-readable file to 16 kHz mono float32 samples."""
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    cmd = [_ffmpeg("ffmpeg", path), "-nostdin", "-v", "error", "-i", str(path),
           *FFMPEG_PCM, "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    # At `-v error` ffmpeg prints only errors: a damaged stream it partly decoded shows here
    # even when the exit status is 0.
    message = " | ".join(proc.stderr.decode(errors="replace").strip().splitlines())
    if proc.returncode != 0 or message:
        raise AudioError(f"{path}: ffmpeg could not decode it: {message or proc.returncode}")
    if len(proc.stdout) % 2:
        raise AudioError(f"{path}: truncated (odd number of PCM bytes from ffmpeg)")
    return _pcm16(proc.stdout)


def decode_ffmpeg_many(paths: list[str]) -> dict[str, np.ndarray]:
    """Decode files in one ffmpeg run (one output per input) with read_audio's options; {} if
    ffmpeg is missing or reports anything, so the caller falls back to read_audio per file.

    ffmpeg's start-up (~50 ms of CPU) costs more than decoding an 8 s utterance, so the data
    stage decodes VoxCeleb2's .m4a files in batches.
    """
    exe = shutil.which("ffmpeg")
    if exe is None or not all(Path(p).is_file() for p in paths):
        return {}
    with tempfile.TemporaryDirectory(prefix="voxsv-decode-") as tmp:
        cmd = [exe, "-nostdin", "-v", "error"]
        for path in paths:
            cmd += ["-i", path]
        for i in range(len(paths)):
            cmd += ["-map", f"{i}:a:0", *FFMPEG_PCM, f"{tmp}/{i}.raw"]
        proc = subprocess.run(cmd, capture_output=True, check=False)
        if proc.returncode != 0 or proc.stderr.strip():
            return {}
        raws = [Path(tmp, f"{i}.raw").read_bytes() for i in range(len(paths))]
    if any(not raw or len(raw) % 2 for raw in raws):
        return {}
    return {path: _pcm16(raw) for path, raw in zip(paths, raws, strict=True)}


def _pcm16(raw: bytes) -> np.ndarray:
    """Little-endian 16-bit PCM bytes as float32 samples in [-1, 1)."""
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def mp4_duration(path: str | os.PathLike) -> float | None:
    """The duration that ffprobe reports for an MP4/M4A file, read from its `mvhd` box; None if
    the file has no usable one (not MP4, fragmented, damaged), for the caller to ask ffprobe.

    A hand parser (a few struct reads; no MP4 library is a dependency): one ffprobe process per
    file cost ~60 ms of CPU, an hour for VoxCeleb2's 1.1 M files. ffprobe's format duration of
    such a file is mvhd's duration / timescale rounded to microseconds, as returned here.
    """
    try:
        with open(path, "rb") as f:
            end, position, moov = os.fstat(f.fileno()).st_size, 0, None
            while moov is None:  # top-level boxes: seek over the others (mdat is the audio)
                f.seek(position)
                box = _box(f.read(16), position, end)
                if box is None:
                    return None
                name, body, position = box
                if name == b"moov":
                    f.seek(body)
                    moov = f.read(position - body)
    except OSError:
        return None
    offset = 0
    while (box := _box(moov[offset : offset + 16], offset, len(moov))) is not None:
        name, body, offset = box
        if name == b"mvhd" and offset - body >= 32:
            if moov[body] == 1:  # version 1: 64-bit times
                timescale, duration = struct.unpack(">IQ", moov[body + 20 : body + 32])
            else:
                timescale, duration = struct.unpack(">II", moov[body + 12 : body + 20])
            if timescale == 0 or duration == 0 or duration in (2**32 - 1, 2**64 - 1):
                return None  # unknown duration (fragmented or live recordings)
            return (2 * duration * 1_000_000 + timescale) // (2 * timescale) / 1e6
    return None


def _box(header: bytes, position: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, body start, box end) of the ISO-BMFF box whose header bytes start at `position`
    of a container ending at `end`; None past the end or for a size that cannot be right."""
    if len(header) < 8:
        return None
    size, name = struct.unpack(">I4s", header[:8])
    body = position + 8
    if size == 1:  # 64-bit size after the type
        if len(header) < 16:
            return None
        size, body = struct.unpack(">Q", header[8:16])[0], position + 16
    elif size == 0:  # runs to the end of its container
        size = end - position
    if size < body - position or position + size > end:
        return None
    return name, body, position + size


def _probe_ffmpeg(path: Path) -> float:
    """Return the container's duration with ffprobe."""
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    cmd = [_ffmpeg("ffprobe", path), "-v", "error", "-show_entries", "format=duration",
           "-of", "default=noprint_wrappers=1:nokey=1", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        return float(proc.stdout.strip())
    except ValueError:
        message = " | ".join(proc.stderr.strip().splitlines())
        raise AudioError(f"{path}: ffprobe found no duration: {message}") from None
