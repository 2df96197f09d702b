"""Phone inventory and random phone sequences: the linguistic content of synthetic speech.

Formant targets are adult-male reference values (Peterson & Barney 1952, Hillenbrand et al.
1995); a speaker's vocal-tract length scales them. Content is random per utterance, so the
long-term spectrum of an utterance depends on what was said as well as on who said it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_FORMANTS = 4
BANDWIDTHS_HZ = np.array([70.0, 100.0, 140.0, 200.0])


@dataclass(frozen=True)
class Phone:
    """One phone class: its source mix and spectral targets.

    `voicing` and `frication` are the gains of the glottal and noise sources; `formants` is
    None for phones without a vowel-like resonance pattern; `noise_band` is the (centre,
    bandwidth) in Hz of the frication noise at the reference vocal-tract length.
    """

    name: str
    kind: str  # vowel | nasal | approximant | fricative | stop | pause
    voicing: float
    frication: float
    formants: tuple[float, float, float, float] | None
    noise_band: tuple[float, float] | None
    duration_ms: tuple[float, float]


PHONES: tuple[Phone, ...] = (
    Phone("iy", "vowel", 1.0, 0.0, (270, 2290, 3010, 3600), None, (90, 180)),
    Phone("ih", "vowel", 1.0, 0.0, (390, 1990, 2550, 3500), None, (70, 140)),
    Phone("eh", "vowel", 1.0, 0.0, (530, 1840, 2480, 3500), None, (80, 150)),
    Phone("ae", "vowel", 1.0, 0.0, (660, 1720, 2410, 3450), None, (100, 190)),
    Phone("ah", "vowel", 1.0, 0.0, (620, 1220, 2550, 3500), None, (70, 140)),
    Phone("aa", "vowel", 1.0, 0.0, (730, 1090, 2440, 3400), None, (100, 200)),
    Phone("ao", "vowel", 1.0, 0.0, (570, 840, 2410, 3350), None, (100, 190)),
    Phone("uh", "vowel", 1.0, 0.0, (440, 1020, 2240, 3300), None, (70, 130)),
    Phone("uw", "vowel", 1.0, 0.0, (300, 870, 2240, 3300), None, (90, 180)),
    Phone("er", "vowel", 1.0, 0.0, (490, 1350, 1690, 3300), None, (90, 170)),
    Phone("m", "nasal", 0.45, 0.0, (250, 1100, 2200, 3300), None, (50, 90)),
    Phone("n", "nasal", 0.45, 0.0, (250, 1500, 2500, 3400), None, (45, 85)),
    Phone("l", "approximant", 0.6, 0.0, (360, 1050, 2800, 3400), None, (45, 80)),
    Phone("r", "approximant", 0.6, 0.0, (420, 1150, 1500, 3200), None, (45, 80)),
    Phone("w", "approximant", 0.55, 0.0, (300, 700, 2200, 3300), None, (40, 70)),
    Phone("y", "approximant", 0.55, 0.0, (280, 2200, 3000, 3600), None, (40, 70)),
    Phone("s", "fricative", 0.0, 0.5, None, (5800, 3000), (80, 140)),
    Phone("sh", "fricative", 0.0, 0.55, None, (3200, 1800), (80, 140)),
    Phone("f", "fricative", 0.0, 0.15, None, (4500, 7000), (70, 120)),
    Phone("th", "fricative", 0.0, 0.12, None, (5500, 6000), (60, 110)),
    Phone("h", "fricative", 0.08, 0.18, None, (1800, 3000), (50, 90)),
    Phone("z", "fricative", 0.35, 0.35, None, (5800, 3000), (60, 110)),
    Phone("v", "fricative", 0.4, 0.12, None, (4500, 7000), (50, 90)),
    Phone("p", "stop", 0.0, 0.5, None, (900, 1500), (60, 100)),
    Phone("t", "stop", 0.0, 0.5, None, (4200, 3000), (60, 100)),
    Phone("k", "stop", 0.0, 0.5, None, (2200, 1500), (60, 100)),
    Phone("b", "stop", 0.15, 0.3, None, (900, 1500), (50, 90)),
    Phone("d", "stop", 0.15, 0.3, None, (4000, 3000), (50, 90)),
    Phone("g", "stop", 0.15, 0.3, None, (2200, 1500), (50, 90)),
)
PAUSE = Phone("pause", "pause", 0.0, 0.0, None, None, (150, 450))

VOWELS = np.array([i for i, p in enumerate(PHONES) if p.kind == "vowel"])
CONSONANTS = np.array([i for i, p in enumerate(PHONES) if p.kind != "vowel"])
REFERENCE_FORMANTS = np.array(
    [p.formants if p.formants is not None else (500, 1500, 2500, 3500) for p in PHONES], float
)
PAUSE_INDEX = -1

# Stops are a closure (silence, or a voice bar) followed by a short burst of this length.
BURST_MS = (12.0, 28.0)


def phone_sequence(
    rng: np.random.Generator, seconds: float, rate: float
) -> list[tuple[int, float]]:
    """Draw (phone index, duration in s) pairs of CV(C) syllables and pauses covering `seconds`.

    Phone index PAUSE_INDEX marks a pause. `rate` > 1 speaks faster (shorter phones).
    """
    sequence: list[tuple[int, float]] = []
    total = 0.0
    while total < seconds:
        syllables = []
        if rng.random() < 0.75:
            syllables.append(int(rng.choice(CONSONANTS)))
        syllables.append(int(rng.choice(VOWELS)))
        if rng.random() < 0.4:
            syllables.append(int(rng.choice(CONSONANTS)))
        stressed = rng.random() < 0.35
        for index in syllables:
            low, high = PHONES[index].duration_ms
            stretch = 1.3 if stressed and PHONES[index].kind == "vowel" else 1.0
            duration = rng.uniform(low, high) * stretch / rate / 1000.0
            sequence.append((index, duration))
            total += duration
        if rng.random() < 0.04:
            duration = rng.uniform(*PAUSE.duration_ms) / rate / 1000.0
            sequence.append((PAUSE_INDEX, duration))
            total += duration
    return sequence
