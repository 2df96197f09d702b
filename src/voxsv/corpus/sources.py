"""MUSAN-like augmentation sources: noise, music and speech (the material of babble).

Each generator returns float32 samples in [-1, 1] at 16 kHz, drawn from its own seeded stream:
noise is one of several everyday kinds (coloured, machine hum, rain-like clicks, beeps, wind);
music is a melody over a bass line played by harmonic instruments (attack, decaying partials,
release), with or without drums; speech is a long utterance of a synthetic speaker from outside
both VoxCeleb-like speaker sets, recorded in its own session.
"""

from __future__ import annotations

import numpy as np

from voxsv.corpus.channel import coloured_noise, record
from voxsv.corpus.speakers import GENDERS, draw_session, draw_speaker
from voxsv.corpus.speech import SAMPLE_RATE, synthesize_speech

NOISE_KINDS = ("coloured", "machine", "clicks", "beeps", "wind")
MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])


def noise(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One MUSAN-noise-like recording of a randomly chosen kind."""
    length = int(round(seconds * SAMPLE_RATE))
    kind = NOISE_KINDS[rng.integers(len(NOISE_KINDS))]
    t = np.arange(length) / SAMPLE_RATE
    if kind == "coloured":
        x = coloured_noise(length, rng.uniform(-2.0, 1.0), rng)
        x *= 1.0 + rng.uniform(0.0, 0.5) * np.sin(2 * np.pi * rng.uniform(0.1, 2.0) * t)
    elif kind == "machine":
        base = rng.uniform(30.0, 300.0)
        harmonics = np.arange(1, 13)[:, None]
        weights = rng.uniform(0.1, 1.0, (12, 1)) / harmonics ** rng.uniform(0.3, 1.2)
        x = np.sum(
            weights * np.sin(2 * np.pi * base * harmonics * t + rng.uniform(0, 6.3, (12, 1))), 0
        )
        x = x / np.std(x) + rng.uniform(0.2, 1.0) * coloured_noise(length, -1.0, rng)
    elif kind == "clicks":
        impulses = (rng.random(length) < rng.uniform(5, 200) / SAMPLE_RATE) * rng.normal(
            size=length
        )
        decay = np.exp(-np.arange(400) / rng.uniform(20.0, 120.0)) * rng.normal(size=400)
        x = np.convolve(impulses, decay)[:length] + 0.05 * coloured_noise(length, 0.0, rng)
    elif kind == "beeps":
        period = rng.uniform(0.3, 2.0)
        on = (t % period) < rng.uniform(0.1, 0.5) * period
        x = on * np.sin(2 * np.pi * rng.uniform(500.0, 3000.0) * t)
        x = x + rng.uniform(0.05, 0.3) * coloured_noise(length, -1.0, rng)
    else:  # wind: low-passed noise with strong, slow gusts
        gusts = np.interp(t, np.arange(int(seconds) + 2), rng.uniform(0.0, 1.0, int(seconds) + 2))
        x = coloured_noise(length, -2.5, rng) * (0.1 + gusts**2)
    return _normalise(x, rng)


def _note(frequency: float, seconds: float, timbre: tuple[float, float, float]) -> np.ndarray:
    """One note: harmonics, each decaying at its own rate, under an attack/release envelope."""
    rolloff, decay, attack = timbre
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    harmonics = np.arange(1, 11)[:, None]
    audible = (frequency * harmonics[:, 0]) < 7500
    amplitudes = (harmonics**-rolloff) * audible[:, None]
    partials = (
        amplitudes * np.exp(-decay * harmonics * t) * np.sin(2 * np.pi * frequency * harmonics * t)
    )
    envelope = np.minimum(t / attack, 1.0) * np.minimum((t[-1] - t) / 0.02 + 1e-3, 1.0)
    return partials.sum(axis=0) * envelope


def music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One MUSAN-music-like clip: melody + bass in a random key and tempo, optional drums."""
    length = int(round(seconds * SAMPLE_RATE))
    out = np.zeros(length + SAMPLE_RATE * 2)
    beat = 60.0 / rng.uniform(70.0, 160.0)
    root = rng.uniform(45, 60)
    scale = MAJOR if rng.random() < 0.5 else MINOR
    lead = (rng.uniform(0.8, 2.0), rng.uniform(0.5, 4.0), rng.uniform(0.005, 0.08))
    bass = (rng.uniform(1.5, 3.0), rng.uniform(0.5, 2.0), 0.01)
    degree, time = 0, 0.0
    while time < seconds:
        degree = int(np.clip(degree + rng.integers(-2, 3), -3, 10))
        step = beat * rng.choice([0.5, 1.0, 1.0, 2.0])
        midi = root + 12 + 12 * (degree // 7) + scale[degree % 7]
        _mix(out, time, 0.5 * _note(440.0 * 2 ** ((midi - 69) / 12), step * 1.1, lead))
        if (time / beat) % 4 < 0.5:
            bass_midi = root - 12 + scale[rng.choice([0, 3, 4])]
            _mix(out, time, 0.6 * _note(440.0 * 2 ** ((bass_midi - 69) / 12), 4 * beat, bass))
        time += step
    if rng.random() < 0.6:
        _drums(out, beat, seconds, rng)
    return _normalise(out[:length], rng)


def _drums(out: np.ndarray, beat: float, seconds: float, rng: np.random.Generator) -> None:
    """Add a kick on every beat and a hi-hat on the off-beats."""
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    kick = np.sin(2 * np.pi * (50.0 * t + 70.0 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 18)
    hat = np.diff(rng.normal(size=len(t) + 1)) * np.exp(-t * 80)
    for k in range(int(seconds / beat) + 1):
        _mix(out, k * beat, 0.8 * kick)
        _mix(out, (k + 0.5) * beat, 0.2 * hat)


def _mix(out: np.ndarray, start: float, signal: np.ndarray) -> None:
    """Add `signal` into `out` from `start` seconds, cut at the end of `out`."""
    begin = int(start * SAMPLE_RATE)
    end = min(begin + len(signal), len(out))
    out[begin:end] += signal[: end - begin]


def speech(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One MUSAN-speech-like recording: a new synthetic speaker talking in their own session."""
    speaker = draw_speaker(rng, GENDERS[rng.integers(2)])
    session = draw_session(rng)
    dry = synthesize_speech(
        speaker, seconds, rng, session.f0_shift_st, session.rate_scale, session.tilt_shift_db
    )
    return record(session, dry, rng)


def _normalise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale to a random RMS level between -30 and -18 dBFS, clipped to the int16 range."""
    x = x * 10 ** (rng.uniform(-30.0, -18.0) / 20.0) / max(np.sqrt(np.mean(x**2)), 1e-12)
    return np.clip(x, -1.0, 32767 / 32768).astype(np.float32)


SOURCES = {"noise": noise, "music": music, "speech": speech}
