"""Kaldi FBANK against kaldi-native-fbank, sliding CMN against Kaldi's definition, and the CLI."""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch
from scipy.signal import lfilter
from torchaudio.compliance import kaldi as torchaudio_kaldi

from voxsv.audio import write_wav
from voxsv.cli import main
from voxsv.features import cmn_context, fbank, sliding_cmn, sliding_cmn_segment

SR = 16000
# (F1, F2, F3) of a few vowels, Hz
VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllables of a jittered glottal pulse train through vowel formant resonators, some led
    by a fricative (high-passed noise), over a low noise floor, with quieter noise in the
    pauses and a stretch of digital silence at the start."""
    rng = np.random.default_rng(seed)
    out = [np.zeros(SR // 10)]
    while sum(map(len, out)) < seconds * SR:
        if rng.random() < 0.3:
            hiss = 0.05 * np.diff(rng.standard_normal(int(0.1 * SR) + 1))
            out.append(hiss + 1e-3 * rng.standard_normal(len(hiss)))
        n = int(rng.uniform(0.15, 0.4) * SR)
        f0 = rng.uniform(90, 220) * np.linspace(1.1, 0.9, n) * (1 + 0.01 * rng.standard_normal(n))
        pulses = np.diff(np.floor(np.cumsum(f0 / SR)), prepend=0.0)
        voiced = pulses - pulses.mean()
        formants = VOWELS[rng.integers(len(VOWELS))]
        for formant, bandwidth in zip(formants, (80, 100, 150), strict=True):
            r = np.exp(-np.pi * bandwidth / SR)
            voiced = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * formant / SR), r * r], voiced)
        voiced *= np.hanning(n) * rng.uniform(0.1, 0.5) / np.max(np.abs(voiced))
        pause = 3e-4 * rng.standard_normal(int(rng.uniform(0.05, 0.3) * SR))
        out += [voiced + 1e-3 * rng.standard_normal(n), pause]
    samples = np.concatenate(out)[: int(seconds * SR)]
    return (np.round(samples * 32768) / 32768).astype(np.float32)  # on the int16 grid


def knf_fbank(samples: np.ndarray, num_mel_bins: int) -> np.ndarray:
    """Reference: kaldi-native-fbank (a C++ port of compute-fbank-feats) with the recipe options."""
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.window_type = "povey"
    opts.frame_opts.preemph_coeff = 0.97
    opts.frame_opts.remove_dc_offset = True
    opts.mel_opts.num_bins = num_mel_bins
    opts.mel_opts.low_freq = 20.0
    opts.mel_opts.high_freq = 0.0  # Kaldi: <= 0 is an offset from Nyquist
    opts.use_energy = False
    computer = knf.OnlineFbank(opts)
    computer.accept_waveform(SR, (samples * 32768.0).tolist())
    computer.input_finished()
    return np.stack([computer.get_frame(i) for i in range(computer.num_frames_ready)])


@pytest.mark.parametrize("num_mel_bins", [40, 80])
def test_fbank_matches_kaldi(num_mel_bins: int) -> None:
    samples = speech_like(6.0, seed=num_mel_bins)
    ours, ref = fbank(samples, num_mel_bins), knf_fbank(samples, num_mel_bins)
    assert ours.dtype == np.float32 and ours.shape == ref.shape == (598, num_mel_bins)
    diff = np.abs(ours - ref)
    assert diff.max() < 1e-2
    assert np.mean(diff < 1e-3) >= 0.999
    assert ref.min() < -10 and ref.max() > 15  # the signal spans silence to loud speech


def kaldi_reference(samples: np.ndarray, num_mel_bins: int, noise: np.ndarray | None = None):
    """compute-fbank-feats in float64 from Kaldi's definitions (feature-window.cc,
    mel-computations.cc), with `noise` (frames x 400) as the dither added to each frame."""
    x = samples.astype(np.float64) * 32768.0
    num_frames = 1 + (len(x) - 400) // 160
    frames = np.stack([x[i * 160 : i * 160 + 400] for i in range(num_frames)])
    if noise is not None:
        frames = frames + noise
    frames = frames - frames.mean(1, keepdims=True)
    frames = frames - 0.97 * np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    low, high = mel(20.0), mel(8000.0)
    delta = (high - low) / (num_mel_bins + 1)
    fft_mel = mel(np.arange(256) * 16000 / 512)
    banks = np.zeros((256, num_mel_bins))
    for b in range(num_mel_bins):
        left, centre, right = low + b * delta, low + (b + 1) * delta, low + (b + 2) * delta
        up = (fft_mel - left) / (centre - left)
        down = (right - fft_mel) / (right - centre)
        banks[:, b] = np.where((fft_mel > left) & (fft_mel < right), np.minimum(up, down), 0.0)
    return np.log(np.maximum(power[:, :256] @ banks, np.finfo(np.float32).eps))


def harmonic_speech(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced bursts made of nothing but harmonics under 3 kHz, on the int16 grid: above them
    only 16-bit rounding, ~100 dB under the loudest bins (the synthetic audio where float32
    FFT rounding shows)."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(map(len, out)) < seconds * SR:
        n = int(rng.uniform(0.2, 0.6) * SR)
        f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(np.arange(n) / SR * 19))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * np.hanning(n) * 0.2
        out += [voiced, 1e-3 * rng.standard_normal(int(rng.uniform(0.05, 0.3) * SR))]
    samples = np.concatenate(out)[: int(seconds * SR)]
    return (np.round(samples * 32768) / 32768).astype(np.float32)


@pytest.mark.parametrize("num_mel_bins", [40, 80])
@pytest.mark.parametrize("signal", [speech_like, harmonic_speech])
def test_fbank_equals_float64_definition(num_mel_bins: int, signal) -> None:
    """Within 1e-3 of Kaldi's definition in float64 everywhere, weak bins included, where
    Kaldi's own float32 is up to ~5e-3 off it, and on harmonic speech float32 throughout is off
    by more (checked)."""
    samples = signal(4.0, seed=num_mel_bins)
    ref = kaldi_reference(samples, num_mel_bins)
    ours = fbank(samples, num_mel_bins)
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-3
    float32_only = torchaudio_kaldi.fbank(
        torch.from_numpy(samples * 32768.0)[None], num_mel_bins=num_mel_bins, dither=0.0,
        window_type="povey", low_freq=20.0, high_freq=0.0, snip_edges=True, use_energy=False,
    ).numpy()
    if signal is harmonic_speech:  # the signal has the weak bins
        assert np.abs(float32_only - ref).max() > 1e-3


def test_dither_is_kaldis_per_frame_noise_from_the_generator() -> None:
    """Dither = torch.randn((frames, 400), generator) x dither, added to each frame's samples
    after framing (Kaldi's Dither), then the usual FBANK."""
    samples = harmonic_speech(2.0, seed=1)
    num_frames = 1 + (len(samples) - 400) // 160
    noise = torch.randn((num_frames, 400), generator=torch.Generator().manual_seed(9)).numpy()
    ours = fbank(samples, 80, 0.5, torch.Generator().manual_seed(9))
    np.testing.assert_allclose(ours, kaldi_reference(samples, 80, 0.5 * noise.astype(np.float64)),
                               rtol=0, atol=1e-3)


def test_fbank_frame_count_and_short_input() -> None:
    assert fbank(np.zeros(399, np.float32)).shape == (0, 80)
    assert fbank(np.zeros(400, np.float32), 40).shape == (1, 40)
    assert fbank(np.zeros(16000 + 399, np.float32)).shape == (100, 80)
    with pytest.raises(ValueError, match="mono"):
        fbank(np.zeros((2, 16000), np.float32))


def test_dither_is_seeded_and_changes_features() -> None:
    samples = speech_like(1.0)
    torch_state = torch.random.get_rng_state()
    a = fbank(samples, dither=1.0, generator=torch.Generator().manual_seed(5))
    b = fbank(samples, dither=1.0, generator=torch.Generator().manual_seed(5))
    c = fbank(samples, dither=1.0, generator=torch.Generator().manual_seed(6))
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), torch_state)  # global RNG untouched
    plain = fbank(samples)
    assert not np.array_equal(a, c) and not np.array_equal(a, plain)
    # dither only lifts the digital silence off the log floor; speech frames barely move
    assert np.median(np.abs(a - plain)) < 0.05


def cmn_reference(feats: np.ndarray, window: int) -> np.ndarray:
    """Kaldi's SlidingWindowCmnInternal (center=true, no variance norm), frame by frame."""
    if window == 0:
        return feats.copy()
    n = len(feats)
    out = np.empty_like(feats, dtype=np.float64)
    for t in range(n):
        start = t - window // 2
        end = start + window
        if start < 0:
            end -= start
            start = 0
        if end > n:
            start = max(start - (end - n), 0)
            end = n
        out[t] = feats[t] - feats[start:end].astype(np.float64).sum(0) * (1.0 / (end - start))
    return out.astype(np.float32)


def random_feats(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.standard_normal((frames, 1)), axis=0) * 0.3
    return (rng.normal(5, 3, (frames, 20)) + drift).astype(np.float32)


@pytest.mark.parametrize(
    "frames, window",
    [(1000, 300), (120, 300), (300, 300), (301, 300), (500, 301), (257, 77), (50, 1), (40, 0),
     (1, 300), (7, 2)],
)
def test_sliding_cmn_matches_kaldi_definition(frames: int, window: int) -> None:
    feats = random_feats(frames)
    ours = sliding_cmn(feats, window)
    assert ours.dtype == np.float32 and ours.shape == feats.shape
    np.testing.assert_allclose(ours, cmn_reference(feats, window), rtol=0, atol=2e-6)
    if window == 0:
        np.testing.assert_array_equal(ours, feats)


def test_sliding_cmn_shorter_than_window_is_global_mean() -> None:
    feats = random_feats(120)
    np.testing.assert_allclose(sliding_cmn(feats, 300), feats - feats.mean(0), atol=2e-6)


@pytest.mark.parametrize("frames, window", [(1000, 300), (250, 300), (600, 301), (90, 7)])
def test_sliding_cmn_segment_equals_whole_utterance_rows(frames: int, window: int) -> None:
    feats = random_feats(frames, seed=frames)
    whole = sliding_cmn(feats, window)
    rng = np.random.default_rng(1)
    crop = min(200, frames)
    spans = [(0, 1), (0, crop), (frames - crop, frames), (frames - 1, frames), (0, frames)]
    spans += [tuple(sorted(rng.integers(0, frames + 1, 2))) for _ in range(30)]
    for start, end in spans:
        start, end = int(start), int(end)
        lo, hi = cmn_context(start, end, frames, window)
        assert 0 <= lo <= start <= end <= hi <= frames
        seg = sliding_cmn_segment(feats[lo:hi], lo, start, end, frames, window)
        np.testing.assert_array_equal(seg, whole[start:end])
        # a context larger than needed gives the same rows
        wide = sliding_cmn_segment(feats[max(lo - 5, 0) :], max(lo - 5, 0), start, end, frames,
                                   window)
        np.testing.assert_array_equal(wide, whole[start:end])


def test_cmn_context_is_exactly_what_matters() -> None:
    frames, window, start, end = 1000, 300, 400, 600
    feats = random_feats(frames)
    lo, hi = cmn_context(start, end, frames, window)
    assert (lo, hi) == (250, 749)  # frame 599 averages [449, 749)
    base = sliding_cmn(feats, window)[start:end]
    for frame, matters in [(lo - 1, False), (lo, True), (hi - 1, True), (hi, False)]:
        bumped = feats.copy()
        bumped[frame] += 100.0
        changed = not np.array_equal(sliding_cmn(bumped, window)[start:end], base)
        assert changed == matters, frame
    assert cmn_context(0, 10, 1000, 300) == (0, 300)
    assert cmn_context(990, 1000, 1000, 300) == (700, 1000)
    assert cmn_context(0, 50, 80, 300) == (0, 80)
    assert cmn_context(3, 9, 80, 0) == (3, 9)


def test_cmn_bad_arguments() -> None:
    feats = random_feats(100)
    with pytest.raises(ValueError, match="need"):
        sliding_cmn_segment(feats[10:60], 10, 20, 40, 100, 300)
    with pytest.raises(ValueError, match="inside"):
        cmn_context(50, 120, 100, 300)
    with pytest.raises(ValueError, match="window"):
        sliding_cmn(feats, -1)


def test_fbank_cli(tmp_path, capsys: pytest.CaptureFixture) -> None:
    samples = speech_like(2.0, seed=3)
    wav = tmp_path / "utt.wav"
    write_wav(wav, samples)
    raw = fbank(samples, 40)
    assert main(["fbank", str(wav), str(tmp_path / "raw.npy"), "--num-mel-bins", "40",
                 "--dither", "0", "--cmn-window", "0"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "raw.npy"), raw)
    assert main(["fbank", str(wav), str(tmp_path / "cmn.npy"), "--num-mel-bins", "40",
                 "--dither", "0"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "cmn.npy"), sliding_cmn(raw, 300))
    assert main(["fbank", str(wav), str(tmp_path / "d.npy"), "--seed", "2"]) == 0
    expected = fbank(samples, 80, 1.0, torch.Generator().manual_seed(2))
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), sliding_cmn(expected, 300))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmn.npy", "d.npy", "raw.npy",
                                                          "utt.wav"]
    (tmp_path / "bad.wav").write_text("not audio")
    assert main(["fbank", str(tmp_path / "bad.wav"), str(tmp_path / "bad.npy")]) == 1
    assert "bad.wav: not readable audio" in capsys.readouterr().err
    assert not (tmp_path / "bad.npy").exists()
