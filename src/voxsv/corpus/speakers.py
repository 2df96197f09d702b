"""Synthetic speakers and recording sessions: who speaks, and how one 'video' colours it.

A speaker is a set of source-filter parameters that stay fixed across their recordings (F0
range, jitter, shimmer, breathiness, vocal-tract length, idiosyncratic formant offsets per
phone, spectral tilt, speaking rate); the two 'genders' are two clusters of F0 and vocal-tract
length. A session (one video) adds its own channel equalisation, band limits, background noise
and a small shift of the speaker's F0, rate and effort, as real recordings do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxsv.corpus.phones import N_FORMANTS, PHONES

GENDERS = ("m", "f")
SPEAKER_STREAM = 0  # seeds are [seed, domain, stream, ...]; see voxsv.corpus.generate


@dataclass(frozen=True)
class Speaker:
    """Fixed voice parameters of one synthetic speaker."""

    gender: str
    f0_hz: float  # median F0
    f0_range_st: float  # std of the intonation contour in semitones
    jitter: float  # std of the period-to-period timing perturbation, fraction of a period
    shimmer: float  # std of the pulse-to-pulse amplitude perturbation
    breathiness: float  # aspiration noise relative to the glottal pulses
    glottal_hz: float  # corner of the glottal source roll-off
    vtl_scale: float  # formant scale: 1 / relative vocal-tract length
    formant_offsets: np.ndarray  # (phones, formants) log-frequency offsets
    bandwidth_scale: float
    tilt_db_per_octave: float
    rate: float  # speaking rate (phones per second relative to the reference)
    nasal_zero_hz: float  # anti-resonance of the speaker's nasal tract


@dataclass(frozen=True)
class Session:
    """Recording conditions of one 'video': shared by all of its utterances."""

    channel_db: np.ndarray  # (4, 2) amplitude and phase of cosine terms over log-frequency
    highpass_hz: float
    lowpass_hz: float
    noise_slope: float  # power-law exponent of the background-noise spectrum
    hum_hz: float  # mains hum fundamental (0: none)
    snr_db: float
    level_db: float
    f0_shift_st: float
    rate_scale: float
    tilt_shift_db: float


def draw_speaker(rng: np.random.Generator, gender: str) -> Speaker:
    """Draw a speaker of the given gender ('m' or 'f') from the population."""
    male = gender == "m"
    return Speaker(
        gender=gender,
        f0_hz=float(np.exp(rng.normal(np.log(115.0 if male else 205.0), 0.25))),
        f0_range_st=float(rng.uniform(0.8, 2.5)),
        jitter=float(rng.uniform(0.004, 0.03)),
        shimmer=float(rng.uniform(0.03, 0.15)),
        breathiness=float(rng.uniform(0.01, 0.12) * (1.0 if male else 1.6)),
        glottal_hz=float(rng.uniform(150.0, 500.0)),
        vtl_scale=float(np.exp(rng.normal(0.0 if male else 0.16, 0.1))),
        formant_offsets=rng.normal(0.0, 0.1, size=(len(PHONES), N_FORMANTS)),
        bandwidth_scale=float(np.exp(rng.normal(0.0, 0.25))),
        tilt_db_per_octave=float(rng.uniform(-5.0, 3.0)),
        rate=float(np.exp(rng.normal(0.0, 0.15))),
        nasal_zero_hz=float(rng.uniform(700.0, 2200.0)),
    )


def draw_speakers(seed: int, domain: int, count: int) -> list[Speaker]:
    """Draw `count` speakers, alternating genders, each from its own seeded stream."""
    return [
        draw_speaker(np.random.default_rng([seed, domain, SPEAKER_STREAM, i]), GENDERS[i % 2])
        for i in range(count)
    ]


def draw_session(rng: np.random.Generator) -> Session:
    """Draw the channel, noise and speaking-style conditions of one recording session."""
    return Session(
        channel_db=np.stack(
            [rng.normal(0.0, 3.0, size=4) / np.sqrt(np.arange(1, 5)), rng.uniform(0, 2 * np.pi, 4)],
            axis=1,
        ),
        highpass_hz=float(np.exp(rng.uniform(np.log(30.0), np.log(120.0)))),
        lowpass_hz=float(rng.uniform(6000.0, 7900.0)),
        noise_slope=float(rng.uniform(-2.0, 0.3)),
        hum_hz=float(rng.choice([0.0, 0.0, 50.0, 60.0])),
        snr_db=float(rng.uniform(20.0, 45.0)),
        level_db=float(rng.uniform(-30.0, -20.0)),
        f0_shift_st=float(rng.normal(0.0, 0.5)),
        rate_scale=float(np.exp(rng.normal(0.0, 0.06))),
        tilt_shift_db=float(rng.normal(0.0, 0.5)),
    )
