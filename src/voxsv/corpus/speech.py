"""Source-filter speech synthesis: a speaker's voice saying random phones.

The glottal source is a pulse train that follows an F0 contour (speaker median and range,
intonation, declination, stress accents) with per-period jitter and shimmer; unvoiced phones
and aspiration are noise. Both sources are filtered frame by frame in the STFT domain by the
vocal tract (cascaded formant resonators of the phone's targets scaled by the speaker's
vocal-tract length and idiosyncratic offsets, with coarticulated transitions), the glottal
roll-off and the speaker's spectral tilt; overlap-add (75 %, sqrt-Hann) returns the waveform.
Everything is vectorised over samples; only phones and frames' parameters are built in Python.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from voxsv.corpus.phones import (
    BANDWIDTHS_HZ,
    BURST_MS,
    PAUSE_INDEX,
    PHONES,
    REFERENCE_FORMANTS,
    phone_sequence,
)
from voxsv.corpus.speakers import Speaker

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 128
FREQS = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
# Frication noise relative to the phones' nominal gains: puts fricatives and bursts some
# 15-25 dB below vowels, as in natural speech.
FRICATION_LEVEL = 0.12


def stft(x: np.ndarray) -> np.ndarray:
    """Centred STFT (frames x bins) with a sqrt-Hann window; frame j is centred on j * HOP."""
    n_frames = len(x) // HOP + 1
    padded = np.zeros((n_frames + 3) * HOP)
    padded[N_FFT // 2 : N_FFT // 2 + len(x)] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n_frames]
    return np.fft.rfft(frames * _WINDOW, axis=1)


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Overlap-add inverse of `stft` (sqrt-Hann synthesis; the squared windows sum to 2)."""
    frames = np.fft.irfft(spec, n=N_FFT, axis=1) * _WINDOW
    n_frames = len(frames)
    out = np.zeros((n_frames + 3) * HOP)
    for k in range(N_FFT // HOP):
        out[k * HOP : k * HOP + n_frames * HOP] += frames[:, k * HOP : (k + 1) * HOP].reshape(-1)
    return out[N_FFT // 2 : N_FFT // 2 + length] / 2.0


_WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT))


def resonance(freqs: np.ndarray, centre: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    """Magnitude of a two-pole resonator with unit gain at 0 Hz (broadcasts over frames)."""
    half = (bandwidth / 2.0) ** 2
    return (centre**2 + half) / np.sqrt(
        ((freqs - centre) ** 2 + half) * ((freqs + centre) ** 2 + half)
    )


class Segment(NamedTuple):
    """A stretch of one phone (or a stop's closure or burst) with constant source settings."""

    duration: float
    voicing: float
    frication: float
    formants: np.ndarray | None
    band: tuple[float, float] | None
    nasal: float
    pause: bool


def _segments(
    speaker: Speaker, seconds: float, rate: float, rng: np.random.Generator
) -> list[Segment]:
    """Expand a random phone sequence into timed segments with source gains and targets."""
    rows = []
    for index, duration in phone_sequence(rng, seconds, rate):
        if index == PAUSE_INDEX:
            rows.append(Segment(duration, 0.0, 0.0, None, None, 0.0, True))
            continue
        phone = PHONES[index]
        gain = 10 ** (rng.normal(0.0, 2.0) / 20)
        formants = None
        if phone.formants is not None:
            formants = (
                REFERENCE_FORMANTS[index]
                * speaker.vtl_scale
                * np.exp(speaker.formant_offsets[index] + rng.normal(0.0, 0.03, 4))
            )
        voicing, frication = phone.voicing * gain, phone.frication * gain
        if phone.kind == "stop":
            burst = rng.uniform(*BURST_MS) / 1000.0
            rows.append(Segment(duration, voicing, 0.0, None, None, 0.0, False))
            rows.append(Segment(burst, 0.0, frication, None, phone.noise_band, 0.0, False))
        else:
            nasal = 1.0 if phone.kind == "nasal" else 0.0
            rows.append(
                Segment(duration, voicing, frication, formants, phone.noise_band, nasal, False)
            )
    return rows


def _frame_tracks(speaker: Speaker, rows: list[Segment], n_frames: int, lead: float) -> dict:
    """Per-frame source gains, formants, noise bands and nasality from timed segments."""
    times = np.arange(n_frames) * HOP / SAMPLE_RATE
    ends = lead + np.cumsum([r.duration for r in rows])
    seg = np.searchsorted(ends, times, side="right")
    inside = (times >= lead) & (seg < len(rows))
    seg = np.minimum(seg, len(rows) - 1)
    voicing = np.array([r.voicing for r in rows])[seg] * inside
    frication = np.array([r.frication for r in rows])[seg] * inside
    nasal = np.array([r.nasal for r in rows])[seg] * inside
    formants = np.array([r.formants if r.formants is not None else [np.nan] * 4 for r in rows])
    band = np.array([r.band if r.band is not None else [np.nan] * 2 for r in rows])
    pause = np.array([r.pause for r in rows])[seg] | ~inside
    return {
        "voicing": _smooth(voicing, 3),
        "frication": _smooth(frication, 2),
        "nasal": _smooth(nasal, 3),
        "formants": _smooth(_fill(formants[seg]), 5),
        "band": _fill(band[seg]) * speaker.vtl_scale,
        "phrase_start": np.maximum.accumulate(np.where(pause, times, 0.0)),
        "times": times,
    }


def _fill(track: np.ndarray) -> np.ndarray:
    """Linearly interpolate NaN rows of a (frames x k) track from its defined neighbours."""
    out = track.copy()
    for k in range(track.shape[1]):
        known = ~np.isnan(track[:, k])
        if not known.any():
            out[:, k] = 1000.0 * (k + 1)
            continue
        out[:, k] = np.interp(np.arange(len(track)), np.flatnonzero(known), track[known, k])
    return out


def _smooth(track: np.ndarray, half_width: int) -> np.ndarray:
    """Moving-average (Hann) smoothing along frames: coarticulation and click-free gains."""
    kernel = np.hanning(2 * half_width + 3)[1:-1]
    kernel /= kernel.sum()
    padded = np.pad(track, [(half_width, half_width)] + [(0, 0)] * (track.ndim - 1), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, len(kernel), axis=0)
    return windows @ kernel


def _f0_track(
    speaker: Speaker, tracks: dict, f0_shift_st: float, rng: np.random.Generator
) -> np.ndarray:
    """Per-frame F0 in Hz: median, smooth random intonation, declination and stress accents."""
    n = len(tracks["times"])
    wander = _smooth(rng.normal(size=n), 30)
    wander *= speaker.f0_range_st / max(wander.std(), 1e-6)
    declination = -1.2 * np.minimum(tracks["times"] - tracks["phrase_start"], 3.0)
    semitones = f0_shift_st + wander + declination
    return speaker.f0_hz * 2.0 ** (semitones / 12.0)


def _pulse_train(
    speaker: Speaker, f0_frames: np.ndarray, length: int, rng: np.random.Generator
) -> np.ndarray:
    """Glottal pulses (unit mean power) at the F0 contour's periods, with jitter and shimmer."""
    frame_samples = np.arange(len(f0_frames)) * HOP
    f0 = np.interp(np.arange(length), frame_samples, f0_frames)
    cycles = np.floor(np.cumsum(f0) / SAMPLE_RATE)
    positions = np.flatnonzero(np.diff(cycles) > 0) + 1
    periods = SAMPLE_RATE / f0[positions]
    positions = positions + np.round(rng.normal(0.0, speaker.jitter, len(positions)) * periods)
    positions = np.clip(positions.astype(int), 0, length - 1)
    amplitudes = np.clip(1.0 + rng.normal(0.0, speaker.shimmer, len(positions)), 0.2, None)
    pulses = np.zeros(length)
    np.add.at(pulses, positions, amplitudes * np.sqrt(periods))
    return pulses


def _envelopes(speaker: Speaker, tracks: dict, tilt_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame magnitude responses (frames x bins) applied to the pulse and noise sources."""
    f = FREQS[None, :]
    formants = tracks["formants"][:, :, None]
    bandwidths = (BANDWIDTHS_HZ * speaker.bandwidth_scale)[None, :, None]
    tract = np.prod(resonance(f[:, None, :], formants, bandwidths), axis=1)
    zero = 1.0 / resonance(f, speaker.nasal_zero_hz, 250.0)
    tract *= np.exp(tracks["nasal"][:, None] * np.log(zero))
    tilt = (np.maximum(f, 100.0) / 1000.0) ** (tilt_db / 6.02)
    glottal = 1.0 / np.sqrt(1.0 + (f / speaker.glottal_hz) ** 2)
    voicing = tracks["voicing"][:, None]
    voiced = voicing * glottal * tilt * tract
    centre, width = tracks["band"][:, :1], tracks["band"][:, 1:]
    frication_band = np.exp(-0.5 * ((f - centre) / (width / 2.0)) ** 2) + 0.03
    aspiration = speaker.breathiness * voicing * tract * (f / (f + 1500.0))
    frication = FRICATION_LEVEL * tracks["frication"][:, None] * frication_band
    noise = (frication + aspiration) * tilt
    return voiced, noise


def synthesize_speech(
    speaker: Speaker,
    seconds: float,
    rng: np.random.Generator,
    f0_shift_st: float = 0.0,
    rate_scale: float = 1.0,
    tilt_shift_db: float = 0.0,
) -> np.ndarray:
    """Return `seconds` of dry speech by `speaker` (float64, arbitrary scale) with random phones.

    The session's F0 shift, rate scale and tilt shift vary the speaker's voice between videos.
    """
    length = int(round(seconds * SAMPLE_RATE))
    lead = rng.uniform(0.02, 0.15)
    rows = _segments(speaker, seconds - lead, speaker.rate * rate_scale, rng)
    n_frames = length // HOP + 1
    tracks = _frame_tracks(speaker, rows, n_frames, lead)
    f0 = _f0_track(speaker, tracks, f0_shift_st, rng)
    voiced_env, noise_env = _envelopes(speaker, tracks, speaker.tilt_db_per_octave + tilt_shift_db)
    pulses = stft(_pulse_train(speaker, f0, length, rng))
    noise = stft(rng.normal(size=length))
    return istft(pulses * voiced_env + noise * noise_env, length)
