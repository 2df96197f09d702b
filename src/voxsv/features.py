"""Kaldi FBANK features and Kaldi sliding-window cepstral mean normalisation (CMN).

`fbank` reproduces `compute-fbank-feats` with the recipe's options (SPEC section 1);
`sliding_cmn` reproduces `apply-cmvn-sliding --norm-vars=false --center=true`, and
`cmn_context` / `sliding_cmn_segment` give the same rows for a crop of an utterance from the
crop plus its context, so a training loader never has to read a whole utterance.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

# torchaudio.compliance.kaldi is deprecated upstream (torchaudio's move to maintenance mode);
# the pinned 2.11 still ships it, and only its mel filter bank is used here.
from torchaudio.compliance.kaldi import get_mel_banks

SAMPLE_RATE = 16000
INT16_SCALE = 32768.0  # Kaldi reads 16-bit PCM samples as their integer values
FRAME_LENGTH, FRAME_SHIFT, FFT_SIZE = 400, 160, 512  # 25 ms, 10 ms, padded to a power of two
PREEMPHASIS = 0.97
LOW_FREQ = 20.0
_LOG_FLOOR = float(np.finfo(np.float32).eps)  # Kaldi's floor on mel energies before the log
# A mel energy below this fraction (~87 dB) of its frame's total is redone in float64: float32
# rounding (of the processed samples and in the FFT) adds noise ~1e-7 of the frame's amplitude
# to every bin, which costs up to ~1e-3 in log energy at this level (Kaldi's own float32 is
# ~5e-3 off there) and ~1e-2 at 100 dB. Only synthetic audio goes there (harmonics with nothing
# but 16-bit rounding between them, tones, digital silence beside a loud sound); recorded
# speech has a noise floor far above it.
_FLOAT32_SAFE = math.exp(-20.0)
_POVEY = torch.hann_window(FRAME_LENGTH, periodic=False, dtype=torch.float64).pow(0.85)
_POVEY_WINDOW = {torch.float64: _POVEY, torch.float32: _POVEY.float()}  # Kaldi's "povey" window
_FIXED_SCALE = 2.0**32  # fixed-point scale for exact CMN window sums


def fbank(
    samples: np.ndarray,
    num_mel_bins: int = 80,
    dither: float = 0.0,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """Log mel filterbank (frames x bins, float32) of 16 kHz samples in [-1, 1], as Kaldi.

    Kaldi's definition, written out rather than taken from torchaudio or lhotse: theirs set up
    the window and filters on every call (a quarter of the time) and compute in one precision,
    where float32 misses Kaldi's definition by up to 1e-2 in weak bins and float64 everywhere
    costs 3x. Here everything runs in float32 and only frames with a weak bin (see
    _FLOAT32_SAFE) are redone from the samples in float64. Dither is Kaldi's: Gaussian noise
    of standard deviation `dither` added to every frame's samples after framing, drawn as one
    torch.randn((frames, 400)) from `generator` (the global RNG if None).
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"fbank expects mono 1-D samples, got shape {samples.shape}")
    if len(samples) < FRAME_LENGTH:  # Kaldi (snip-edges) gives no frame
        return np.zeros((0, num_mel_bins), dtype=np.float32)
    num_frames = 1 + (len(samples) - FRAME_LENGTH) // FRAME_SHIFT
    waveform = torch.from_numpy(np.asarray(samples, dtype=np.float32)) * INT16_SCALE
    frames = waveform.unfold(0, FRAME_LENGTH, FRAME_SHIFT)
    noise = None
    if dither:
        noise = torch.randn((num_frames, FRAME_LENGTH), generator=generator).mul_(dither)
        frames = frames + noise
    banks = _mel_banks(num_mel_bins)
    energies = _power(torch.fft.rfft(_windowed(frames))) @ banks
    weak = (energies.amin(1) < _FLOAT32_SAFE * energies.sum(1)).nonzero()[:, 0]
    if len(weak):  # redo from the samples: float32 rounding of the processed frames matters too
        exact = waveform.unfold(0, FRAME_LENGTH, FRAME_SHIFT)[weak].double()
        if noise is not None:
            exact += noise[weak]
        energies[weak] = _power(torch.fft.rfft(_windowed(exact))).float() @ banks
    return energies.clamp_min_(_LOG_FLOOR).log_().numpy()


def _windowed(frames: torch.Tensor) -> torch.Tensor:
    """Kaldi's processing of raw frames: DC removed, pre-emphasised, Povey window, zero-padded.

    With m the frame's mean, (x[j] - m) - 0.97 (x[j-1] - m) = x[j] - 0.97 x[j-1] - 0.03 m, and
    Kaldi's first sample (x[-1] := x[0]) is 0.03 (x[0] - m): one pass fewer than subtracting m.
    """
    mean = frames.mean(1, keepdim=True)
    padded = frames.new_zeros((len(frames), FFT_SIZE))
    body = padded[:, 1:FRAME_LENGTH]
    torch.sub(frames[:, 1:], frames[:, :-1], alpha=PREEMPHASIS, out=body)
    body.sub_(mean, alpha=1.0 - PREEMPHASIS)
    padded[:, 0] = (frames[:, 0] - mean[:, 0]) * (1.0 - PREEMPHASIS)
    padded[:, :FRAME_LENGTH] *= _POVEY_WINDOW[frames.dtype]
    return padded


def _power(spectrum: torch.Tensor) -> torch.Tensor:
    """|X|^2 of a complex spectrum (real^2 + imag^2: no square root as in abs() ** 2)."""
    return spectrum.real.square() + spectrum.imag.square()


@functools.cache
def _mel_banks(num_mel_bins: int) -> torch.Tensor:
    """Kaldi's triangular mel filters (FFT bins x mel bins, float32), 20 Hz to Nyquist."""
    banks, _ = get_mel_banks(num_mel_bins, FFT_SIZE, float(SAMPLE_RATE), LOW_FREQ, 0.0,
                             100.0, -500.0, 1.0)  # high 0 = Nyquist; no VTLN warping
    return torch.nn.functional.pad(banks, (0, 1)).T.contiguous()  # torchaudio drops Nyquist


def _window(t: np.ndarray, num_frames: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Kaldi's centred CMN windows [lo, hi) of frames t: [t - window // 2, + window), shifted
    right at the start and left at the end to stay inside the utterance (all of it if shorter)."""
    lo = np.clip(t - window // 2, 0, max(num_frames - window, 0))
    return lo, np.minimum(lo + window, num_frames)


def cmn_context(start: int, end: int, num_frames: int, window: int) -> tuple[int, int]:
    """Frames [lo, hi) whose values determine the CMN output of frames [start, end)."""
    _check_range(start, end, num_frames, window)
    if window == 0 or start == end:
        return start, end
    last_lo = max(num_frames - window, 0)  # _window on two scalars, without numpy's overhead
    first = min(max(start - window // 2, 0), last_lo)
    last = min(min(max(end - 1 - window // 2, 0), last_lo) + window, num_frames)
    return min(first, start), max(last, end)


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
    w_lo, w_hi = _window(np.arange(start, end), num_frames, window)
    sums = _window_sums(context[need_lo - lo : need_hi - lo], w_lo - need_lo, w_hi - need_lo)
    # Kaldi subtracts sum * (1 / n) in double precision; so do we.
    return (rows - sums * (1.0 / (w_hi - w_lo))[:, None]).astype(np.float32)


def _window_sums(feats: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of feats[lo_i:hi_i] for the windows of consecutive frames, in exact fixed point.

    Features are rounded to multiples of 2**-32 (far below float32 resolution) and summed as
    int64, which is exact: a window's sum then does not depend on where the summing started,
    so a crop's CMN equals the whole utterance's rows bit for bit. Consecutive windows differ
    by at most one frame at each end (lo and hi step by 0 or 1), so the sums are the first
    window's plus a running sum of frames entering minus frames leaving: a cumulative sum over
    the rows asked for, not over the whole context.
    """
    peak = float(np.max(np.abs(feats), initial=0.0))
    if not np.isfinite(peak) or peak * len(feats) >= 2.0**62 / _FIXED_SCALE:
        raise ValueError(f"features are not finite or too large for CMN (peak {peak})")
    fixed = np.multiply(feats, _FIXED_SCALE, dtype=np.float64)
    fixed = np.rint(fixed, out=fixed).astype(np.int64)
    steps = np.empty((len(lo), fixed.shape[1]), dtype=np.int64)
    steps[0] = fixed[lo[0] : hi[0]].sum(0)
    entering = np.where((hi[1:] > hi[:-1])[:, None], fixed[hi[1:] - 1], 0)
    leaving = np.where((lo[1:] > lo[:-1])[:, None], fixed[lo[:-1]], 0)
    np.subtract(entering, leaving, out=steps[1:])
    return np.cumsum(steps, axis=0, out=steps) / _FIXED_SCALE


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
