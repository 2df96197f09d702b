"""Room impulse responses like RIRS_NOISES `simulated_rirs`: small and medium rooms.

Each room has a reverberation time (RT60: 0.2-0.5 s small, 0.4-0.9 s medium); each of its RIRs
is a source-microphone position: a direct path delayed by distance / speed of sound with 1/r
amplitude, sparse early reflections within the room's first tens of milliseconds, and an
exponentially decaying diffuse tail whose decay is faster at high frequencies (air and wall
absorption), so the direct-to-reverberant ratio falls with distance as in a real room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxsv.corpus.speech import SAMPLE_RATE

SPEED_OF_SOUND = 343.0
# (RT60 range in s, source distance range in m, early-reflection window in s) per room size.
ROOM_KINDS = {
    "smallroom": ((0.2, 0.5), (0.5, 3.0), 0.025),
    "mediumroom": ((0.4, 0.9), (1.0, 6.0), 0.045),
}
# Decay-time factor of the diffuse tail below 500 Hz, 500-4000 Hz and above 4000 Hz.
BAND_EDGES_HZ = (500.0, 4000.0)
BAND_RT60_FACTORS = (1.15, 1.0, 0.6)


@dataclass(frozen=True)
class Room:
    """Acoustic constants shared by every RIR of one simulated room."""

    kind: str
    rt60: float
    critical_distance: float  # where direct and reverberant energies are equal (m)


def draw_room(kind: str, rng: np.random.Generator) -> Room:
    """Draw a room of the given kind (a key of ROOM_KINDS)."""
    rt60_range = ROOM_KINDS[kind][0]
    return Room(kind, float(rng.uniform(*rt60_range)), float(rng.uniform(0.5, 1.5)))


def impulse_response(room: Room, rng: np.random.Generator) -> np.ndarray:
    """One RIR of `room` at a random distance; float32, peak 0.9, length direct + 1.1 RT60."""
    _, distance_range, early_window = ROOM_KINDS[room.kind]
    distance = rng.uniform(*distance_range)
    direct = distance / SPEED_OF_SOUND
    length = int((direct + 1.1 * room.rt60) * SAMPLE_RATE)
    rir = np.zeros(length)
    rir[int(direct * SAMPLE_RATE)] = 1.0 / distance
    n_early = rng.integers(6, 16)
    delays = direct + rng.uniform(0.001, early_window, n_early)
    gains = rng.choice([-1.0, 1.0], n_early) * rng.uniform(0.3, 0.8, n_early)
    gains /= SPEED_OF_SOUND * delays
    np.add.at(rir, (delays * SAMPLE_RATE).astype(int), gains)
    rir += _diffuse_tail(room, length, direct, rng)
    return (0.9 * rir / np.max(np.abs(rir))).astype(np.float32)


def _diffuse_tail(room: Room, length: int, direct: float, rng: np.random.Generator) -> np.ndarray:
    """Band-wise exponentially decaying noise, energy 1 / critical_distance**2 in total."""
    t = np.arange(length) / SAMPLE_RATE - direct
    onset = np.clip(t / 0.005, 0.0, 1.0)
    spectrum = np.fft.rfft(rng.normal(size=length))
    freqs = np.fft.rfftfreq(length, 1.0 / SAMPLE_RATE)
    band = np.digitize(freqs, BAND_EDGES_HZ)
    tail = np.zeros(length)
    for index, factor in enumerate(BAND_RT60_FACTORS):
        part = np.fft.irfft(np.where(band == index, spectrum, 0.0), n=length)
        tail += part * np.exp(-6.91 * np.maximum(t, 0.0) / (room.rt60 * factor))
    tail *= onset
    return tail / np.sqrt(np.sum(tail**2)) / room.critical_distance
