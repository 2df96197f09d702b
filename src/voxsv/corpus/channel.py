"""Recording a dry signal through a session's channel: background noise, EQ, band limits, level.

Background noise (power-law colour) is added at the session's SNR, then speech and noise pass
together through the session's channel (a smooth random EQ over log-frequency with high- and
low-pass band limits, like a microphone, room and codec chain); mains hum (when the session has
it) joins after the channel, as electrical interference does; the result is scaled to the
session's level.
"""

from __future__ import annotations

import numpy as np

from voxsv.corpus.speakers import Session
from voxsv.corpus.speech import SAMPLE_RATE


def channel_response(session: Session, freqs: np.ndarray) -> np.ndarray:
    """Magnitude response of the session's channel at `freqs` (Hz)."""
    grid = np.linspace(0.0, SAMPLE_RATE / 2, 1025)  # the response is smooth: interpolate
    position = np.clip(np.log(np.maximum(grid, 50.0) / 50.0) / np.log(8000.0 / 50.0), 0.0, 1.0)
    orders = np.arange(1, len(session.channel_db) + 1)[:, None]
    amplitude, phase = session.channel_db[:, :1], session.channel_db[:, 1:]
    eq_db = np.sum(amplitude * np.cos(np.pi * orders * position + phase), axis=0)
    highpass = 1.0 / np.sqrt(1.0 + (session.highpass_hz / np.maximum(grid, 1.0)) ** 4)
    lowpass = 1.0 / np.sqrt(1.0 + (grid / session.lowpass_hz) ** 8)
    return np.interp(freqs, grid, 10 ** (eq_db / 20.0) * highpass * lowpass)


def noise_spectrum(size: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """rfft of `size` samples of Gaussian noise with power ~ f**slope and unit mean power."""
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    real, imag = rng.normal(size=(2, len(freqs)))
    shape = np.maximum(freqs, 20.0) ** (slope / 2.0)
    shape *= np.sqrt(size / np.mean(shape**2))  # Parseval: unit power in the time domain
    return (real + 1j * imag) * np.sqrt(0.5) * shape


def hum(length: int, hum_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: the first 7 harmonics of `hum_hz` (whole Hz) with random weights; unit power."""
    period = SAMPLE_RATE // np.gcd(SAMPLE_RATE, int(hum_hz))  # samples of a whole cycle
    t = np.arange(period) / SAMPLE_RATE
    harmonics = np.arange(1, 8)[:, None]
    weights = rng.uniform(0.2, 1.0, (7, 1)) / harmonics
    phases = rng.uniform(0, 2 * np.pi, (7, 1))
    tone = np.sum(weights * np.sin(2 * np.pi * hum_hz * harmonics * t + phases), axis=0)
    return np.resize(tone / max(np.std(tone), 1e-12), length)


def coloured_noise(length: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary Gaussian noise with power spectrum ~ f**slope and unit power."""
    size = _fft_size(length)
    noise = np.fft.irfft(noise_spectrum(size, slope, rng), n=size)[:length]
    return noise / max(np.std(noise), 1e-12)


def record(session: Session, dry: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add the session's noise, apply its channel and level; return float32 in [-1, 1].

    The noise is drawn in the frequency domain, so one FFT pair does noise and channel.
    """
    length = len(dry)
    size = _fft_size(length)
    noise_gain = np.sqrt(np.mean(dry**2) / 10 ** (session.snr_db / 10.0))
    spectrum = np.fft.rfft(dry, n=size) + noise_gain * noise_spectrum(
        size, session.noise_slope, rng
    )
    response = channel_response(session, np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE))
    wet = np.fft.irfft(spectrum * response, n=size)[:length]
    if session.hum_hz:
        wet += rng.uniform(0.3, 1.5) * noise_gain * hum(length, session.hum_hz, rng)
    level = 10 ** ((session.level_db + rng.normal(0.0, 1.0)) / 20.0)
    wet *= level / max(np.sqrt(np.mean(wet**2)), 1e-12)
    return np.clip(wet, -1.0, 32767 / 32768).astype(np.float32)


def _fft_size(length: int) -> int:
    """A fast FFT length with room for the filters' tails (next power of two above + 1024)."""
    return 1 << int(np.ceil(np.log2(length + 1024)))
