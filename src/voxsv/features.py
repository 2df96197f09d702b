"""Kaldi FBANK features and Kaldi sliding-window cepstral mean normalisation (CMN).

`fbank` reproduces `compute-fbank-feats` with the recipe's options (SPEC section 1);
`sliding_cmn` reproduces `apply-cmvn-sliding --norm-vars=false --center=true`, and
`cmn_context` / `sliding_cmn_segment` give the same rows for a crop of an utterance from the
crop plus its context, so a training loader never has to read a whole utterance.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

# torchaudio.compliance.kaldi is deprecated upstream (torchaudio's move to maintenance mode);
# the pinned 2.11 still ships it and it matches Kaldi to float rounding, which
# tests/test_features.py checks against kaldi-native-fbank, the drop-in should it go.
from torchaudio.compliance import kaldi

SAMPLE_RATE = 16000
INT16_SCALE = 32768.0  # Kaldi reads 16-bit PCM samples as their integer values
_FIXED_SCALE = 2.0**32  # fixed-point scale for exact CMN window sums


def fbank(
    samples: np.ndarray,
    num_mel_bins: int = 80,
    dither: float = 0.0,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """Log mel filterbank (frames x bins, float32) of 16 kHz samples in [-1, 1], as Kaldi."""
    # In float64: on int16-scale samples, float32 rounding in DC removal, pre-emphasis and the
    # FFT puts a noise floor under weak bins (up to ~0.02 off in log energy beside a loud
    # fricative); float64 gives Kaldi's definition to within Kaldi's own float32 rounding, at
    # ~1 ms per second of audio.
    waveform = torch.from_numpy(np.asarray(samples, dtype=np.float64)) * INT16_SCALE
    if waveform.ndim != 1:
        raise ValueError(f"fbank expects mono 1-D samples, got shape {tuple(waveform.shape)}")
    if len(waveform) < SAMPLE_RATE * 25 // 1000:  # shorter than one window: Kaldi gives 0 frames
        return np.zeros((0, num_mel_bins), dtype=np.float32)
    with _seeded_global_rng(generator if dither else None):
        feats = kaldi.fbank(
            waveform.unsqueeze(0),
            num_mel_bins=num_mel_bins,
            sample_frequency=SAMPLE_RATE,
            frame_length=25.0,
            frame_shift=10.0,
            window_type="povey",
            preemphasis_coefficient=0.97,
            remove_dc_offset=True,
            low_freq=20.0,
            high_freq=0.0,  # <= 0 means an offset from Nyquist: 0 is Nyquist itself
            snip_edges=True,
            use_energy=False,
            use_log_fbank=True,
            use_power=True,
            round_to_power_of_two=True,
            dither=dither,
        )
    return feats.numpy().astype(np.float32, copy=False)


@contextlib.contextmanager
def _seeded_global_rng(generator: torch.Generator | None) -> Iterator[None]:
    """Run torchaudio's dither from `generator`, leaving the global RNG as it was.

    torchaudio draws its dither (Gaussian noise per frame, added after framing, exactly as
    Kaldi does) from torch's global RNG and takes no generator; forking the global RNG and
    seeding it from `generator` keeps Kaldi's per-frame dither and makes it reproducible.
    """
    if generator is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        yield


def _windows(start: int, end: int, num_frames: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Kaldi's centred CMN window [lo_t, hi_t) for every frame t in [start, end)."""
    t = np.arange(start, end, dtype=np.int64)
    lo = t - window // 2
    hi = lo + window
    shift_right = np.maximum(-lo, 0)  # a window starting before 0 is shifted right
    lo, hi = lo + shift_right, hi + shift_right
    shift_left = np.maximum(hi - num_frames, 0)  # one ending past the end is shifted back
    return np.maximum(lo - shift_left, 0), hi - shift_left


def cmn_context(start: int, end: int, num_frames: int, window: int) -> tuple[int, int]:
    """Frames [lo, hi) whose values determine the CMN output of frames [start, end)."""
    _check_range(start, end, num_frames, window)
    if window == 0 or start == end:
        return start, end
    lo, hi = _windows(start, end, num_frames, window)
    return int(min(lo[0], start)), int(max(hi[-1], end))


def sliding_cmn_segment(
    context: np.ndarray, lo: int, start: int, end: int, num_frames: int, window: int
) -> np.ndarray:
    """Rows [start, end) of `sliding_cmn(utterance, window)`, given utterance frames [lo, ...)."""
    need_lo, need_hi = cmn_context(start, end, num_frames, window)
    if lo > need_lo or lo + len(context) < need_hi:
        raise ValueError(
            f"context covers frames [{lo}, {lo + len(context)}) but rows [{start}, {end}) "
            f"with window {window} need [{need_lo}, {need_hi})"
        )
    rows = np.asarray(context[start - lo : end - lo], dtype=np.float64)
    if window == 0 or start == end:
        return rows.astype(np.float32)
    w_lo, w_hi = _windows(start, end, num_frames, window)
    sums = _window_sums(context[need_lo - lo : need_hi - lo], w_lo - need_lo, w_hi - need_lo)
    # Kaldi subtracts sum * (1 / n) in double precision; so do we.
    return (rows - sums * (1.0 / (w_hi - w_lo))[:, None]).astype(np.float32)


def _window_sums(feats: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of feats[lo_i:hi_i] for every i, by a cumulative sum in fixed point.

    Features are rounded to multiples of 2**-32 (far below float32 resolution) and summed as
    int64, which is exact: a window's sum then does not depend on where the cumulative sum
    started, so a crop's CMN equals the whole utterance's rows bit for bit.
    """
    peak = float(np.max(np.abs(feats), initial=0.0))
    if not np.isfinite(peak) or peak * len(feats) >= 2.0**62 / _FIXED_SCALE:
        raise ValueError(f"features are not finite or too large for CMN (peak {peak})")
    fixed = np.round(np.asarray(feats, dtype=np.float64) * _FIXED_SCALE).astype(np.int64)
    csum = np.zeros((len(fixed) + 1, fixed.shape[1]), dtype=np.int64)
    np.cumsum(fixed, axis=0, out=csum[1:])
    return (csum[hi] - csum[lo]) / _FIXED_SCALE


def sliding_cmn(feats: np.ndarray, window: int = 300) -> np.ndarray:
    """Kaldi apply-cmvn-sliding --norm-vars=false --center=true over a whole utterance.

    Kaldi also requires window >= its min-window (100) when centred; any window >= 1 works
    here with the same placement rule, and window=0 means no normalisation.
    """
    feats = np.asarray(feats)
    return sliding_cmn_segment(feats, 0, 0, len(feats), len(feats), window)


def _check_range(start: int, end: int, num_frames: int, window: int) -> None:
    """Raise ValueError unless 0 <= start <= end <= num_frames and window >= 0."""
    if not 0 <= start <= end <= num_frames:
        raise ValueError(f"rows [{start}, {end}) are not inside an utterance of {num_frames}")
    if window < 0:
        raise ValueError(f"CMN window must be >= 0 frames, got {window}")
