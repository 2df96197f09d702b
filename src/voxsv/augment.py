"""Offline augmentation as in Kaldi's voxceleb recipe: seeded plans, and applying them exactly.

As in Kaldi, augmented audio is never stored: a plan (which RIR; which MUSAN files at which
offsets and SNRs) is drawn per utterance and copy, and applied on the fly when FBANK is
computed. Draws come from a generator seeded by (data seed, copy, utterance id), so a plan does
not depend on sharding or order, and a rerun gives the same copies.

The mixing is written here, not taken from lhotse's MixedCut: lhotse's SNR is relative to the
whole first track's energy and it has no Kaldi reverb. SPEC's (and Kaldi wav-reverberate's)
definitions: SNR = power of the whole clean utterance / power of the noise signal as
wav-reverberate receives it, i.e. a foreground noise's whole file (even where the utterance
ends first and only its head is added) and a background signal after it is looped or cut to
the utterance's length (the recipe's `wav-reverberate --duration` pipe); reverb = convolve,
align to the direct path (the RIR's peak). Every copy, reverb and additive alike, is then
rescaled so that its power equals the clean input's (`--normalize-output=true`, Kaldi's
default), measured over the output actually written. The result is rounded to 16-bit PCM (with
clipping), as Kaldi's pipes wrote it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from lhotse import Recording, RecordingSet
from lhotse.serialization import load_jsonl, save_to_jsonl

from voxsv.atomic import atomic_path
from voxsv.audio import SAMPLE_RATE, AudioError, read_audio

COPIES = ("clean", "reverb", "noise", "music", "babble")
AUGMENTED = COPIES[1:]
# Room sets in a fixed order (the recipe's), so a draw never depends on the order of the keys
# in a config file.
ROOMS = ("smallroom", "mediumroom")

# SPEC section 1 (Kaldi egs/voxceleb/v2/run.sh); config data.augment overrides them.
DEFAULTS: dict[str, dict] = {
    "reverb": {"rooms": {"smallroom": 0.5, "mediumroom": 0.5}},
    "noise": {"snrs": [15, 10, 5, 0], "interval": 1.0},
    "music": {"snrs": [15, 10, 8, 5], "count": [1]},
    "babble": {"snrs": [20, 17, 15, 13], "count": [3, 4, 5, 6, 7]},
}


def generator(seed: int, *keys: str) -> np.random.Generator:
    """A numpy generator seeded by `seed` and string keys (stable across runs and machines)."""
    digest = hashlib.blake2b("\0".join(keys).encode(), digest_size=16).digest()
    words = np.frombuffer(digest, dtype=np.uint32).tolist()
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def _pick(rng: np.random.Generator, recordings: Sequence) -> object:
    """One element drawn uniformly (Kaldi's random.choice)."""
    return recordings[int(rng.integers(len(recordings)))]


def _track(recording, offset: float, snr: float, loop: bool) -> dict:
    """One additive signal of a plan."""
    path = recording.sources[0].source
    return {"id": recording.id, "path": path, "offset": offset, "snr": float(snr), "loop": loop}


def plan_reverb(rng: np.random.Generator, rooms: Mapping[str, Sequence], weights: Sequence[float]):
    """Pick a room set by its probability, then one of its RIRs uniformly."""
    names = list(rooms)
    p = np.asarray(weights, dtype=np.float64)
    room = names[int(rng.choice(len(names), p=p / p.sum()))]
    rir = _pick(rng, rooms[room])
    return {"rir": {"id": rir.id, "path": rir.sources[0].source, "room": room}}


def plan_foreground(rng: np.random.Generator, duration: float, noises: Sequence, snrs, interval):
    """Noises one after another from 0, each `interval` s after the last ended, until covered."""
    tracks, t = [], 0.0
    while t < duration:
        noise = _pick(rng, noises)
        tracks.append(_track(noise, t, _pick(rng, snrs), loop=False))
        t += noise.duration + interval
    return {"additive": tracks}


def plan_background(rng: np.random.Generator, sources: Sequence, snrs, counts):
    """`count` (drawn from `counts`) signals from 0, each looped or cut to the utterance."""
    count = int(_pick(rng, counts))
    tracks = []
    for _ in range(count):
        source = _pick(rng, sources)
        tracks.append(_track(source, 0.0, _pick(rng, snrs), loop=True))
    return {"additive": tracks}


def plan_utterance(
    copy: str, utt_id: str, duration: float, seed: int, sources: Mapping, options: Mapping
) -> dict:
    """The seeded plan of one augmented copy of one utterance."""
    rng = generator(seed, copy, utt_id)
    if copy == "reverb":
        rooms = {r: options["rooms"][r] for r in ROOMS if r in options["rooms"]}
        plan = plan_reverb(rng, {r: sources[r] for r in rooms}, list(rooms.values()))
    elif copy == "noise":
        plan = plan_foreground(rng, duration, sources["noise"], options["snrs"],
                               options["interval"])
    elif copy in ("music", "babble"):
        plan = plan_background(rng, sources[copy], options["snrs"], options["count"])
    else:
        raise ValueError(f"unknown augmented copy {copy!r}; expected one of {AUGMENTED}")
    return {"id": utt_id, "copy": copy, **plan}


def write_plans(
    copy: str,
    recordings: Iterable,
    sources: Mapping[str, Sequence],
    out: str | os.PathLike,
    seed: int,
    options: Mapping | None = None,
) -> int:
    """Write the plans of `recordings` (one utterance each) for `copy` as `.jsonl.gz`."""
    options = {**DEFAULTS[copy], **(options or {})}
    for name, recs in sources.items():
        if not recs:
            raise ValueError(f"no {name} recordings to draw {copy} augmentation from")
    plans = [plan_utterance(copy, r.id, r.duration, seed, sources, options) for r in recordings]
    with atomic_path(out, suffix=".jsonl.gz") as tmp:
        save_to_jsonl(plans, tmp)
    return len(plans)


def read_plans(path: str | os.PathLike) -> Iterator[dict]:
    """Stream the plans of a plan manifest."""
    return load_jsonl(path)


def recordings_of(items: Iterable[Mapping]) -> Iterator[Recording]:
    """Recordings from manifest items (as voxsv.featurize.shard_items streams them)."""
    return (Recording.from_dict(dict(item)) for item in items)


def source_sets(manifests: Mapping[str, str | os.PathLike]) -> dict[str, list]:
    """The recordings that a copy draws from, keyed as plan_utterance expects."""
    return {name: list(RecordingSet.from_file(path)) for name, path in manifests.items()}


def read_head(path: str | os.PathLike, num_samples: int | None) -> np.ndarray:
    """The first `num_samples` samples (fewer if shorter; None: all) of a 16 kHz mono file.

    MUSAN music and speech files run for minutes; reading only the needed head keeps
    augmentation cost in proportion to the utterance, not to the noise file.
    """
    path = Path(path)
    if path.suffix.lower() not in (".wav", ".flac"):
        return read_audio(path)[:num_samples]
    try:
        with sf.SoundFile(str(path)) as f:
            if f.samplerate != SAMPLE_RATE or f.channels != 1:
                raise AudioError(
                    f"{path}: {f.samplerate} Hz, {f.channels} channel(s); expected 16 kHz mono"
                )
            wanted = f.frames if num_samples is None else min(num_samples, f.frames)
            samples = f.read(wanted, dtype="float32")
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"{path}: not readable audio ({err})") from err
    if samples.size == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    return samples


def fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution by FFT (what Kaldi's FFTbasedBlockConvolveSignals computes)."""
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:n]


def match_power(y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`y` rescaled so that its power (mean square) equals `reference`'s (Kaldi's
    `--normalize-output`); a silent `y` is returned as it is."""
    power = np.dot(y, y) / len(y)
    if power == 0:
        return y
    return y * np.sqrt((np.dot(reference, reference) / len(reference)) / power)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Kaldi wav-reverberate: convolve, shift to the RIR's peak (direct path), keep power."""
    x = np.asarray(x, dtype=np.float64)
    rir = np.asarray(rir, dtype=np.float64)
    shift = int(np.argmax(rir))  # Kaldi: rir.Max(&shift_index), the largest value
    return match_power(fft_convolve(x, rir)[shift : shift + len(x)], x)


def scaled_tracks(
    x: np.ndarray, tracks: Sequence[Mapping], load: Callable[[str, int | None], np.ndarray]
) -> list[tuple[int, np.ndarray]]:
    """(start sample, scaled signal) of each additive track of a plan, cut to the utterance.

    A foreground noise's power is that of its whole file; a background signal's that of the
    signal looped or cut to the utterance (see the module docstring).
    """
    x = np.asarray(x, dtype=np.float64)
    speech_power = np.dot(x, x) / len(x)
    out = []
    for track in tracks:
        start = round(track["offset"] * SAMPLE_RATE)
        span = len(x) - start
        if span <= 0:
            continue
        if track["loop"]:
            signal = np.asarray(load(track["path"], span), dtype=np.float64)
            signal = np.resize(signal, span)  # looped from its start, as `--duration` does
        else:
            signal = np.asarray(load(track["path"], None), dtype=np.float64)
        power = np.dot(signal, signal) / len(signal)
        if power > 0:
            scale = np.sqrt(speech_power / (power * 10.0 ** (track["snr"] / 10.0)))
            out.append((start, scale * signal[:span]))
    return out


def to_pcm16(y: np.ndarray) -> np.ndarray:
    """Round to the 16-bit grid with clipping, as Kaldi's augmentation pipes wrote wav."""
    return (np.clip(np.round(y * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)


def apply_plan(
    x: np.ndarray, plan: Mapping, load: Callable[[str, int | None], np.ndarray] = read_head
) -> np.ndarray:
    """The augmented copy of clean samples `x` (float in [-1, 1]) under `plan`, at `x`'s power."""
    if "rir" in plan:
        return to_pcm16(reverberate(x, read_audio(plan["rir"]["path"])))
    x = np.asarray(x, dtype=np.float64)
    y = x.copy()
    for start, signal in scaled_tracks(x, plan["additive"], load):
        y[start : start + len(signal)] += signal
    return to_pcm16(match_power(y, x))
