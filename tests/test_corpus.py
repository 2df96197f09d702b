"""The embedded mini corpus: layout, formats, determinism, trial lists, sources, difficulty."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxsv.audio import read_audio
from voxsv.corpus import layout
from voxsv.corpus.generate import generate_corpus
from voxsv.corpus.sizes import PRESETS, CorpusSize
from voxsv.features import fbank
from voxsv.metrics import eer
from voxsv.trials import read_trials

SEED = 1  # config/config.yaml's corpus.seed
# The default VoxCeleb1-like part (so the O list is the pipeline's), a smaller rest.
MINI_VOX1 = dataclasses.replace(
    PRESETS["mini"],
    vox2_speakers=6,
    vox2_videos=2,
    vox2_utterances=2,
    musan_files=3,
    musan_max_seconds=6.0,
)
TINY = PRESETS["tiny"]
UTTERANCE = r"id\d{5}/[A-Za-z0-9_-]{11}/\d{5}\.wav"
TRIAL_LINE = re.compile(rf"^[01] {UTTERANCE} {UTTERANCE}$")
RIR_LINE = re.compile(
    r"^--rir-id (small|medium)-Room(\d{3})-(\d{5}) --room-id (small|medium)-Room(\d{3}) (\S+)$"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    generate_corpus(root, SEED, MINI_VOX1)
    return root


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    roots = [tmp_path_factory.mktemp(name) for name in ("a", "b", "c")]
    for root, seed in zip(roots, (3, 3, 4), strict=True):
        generate_corpus(root, seed, TINY)
    return roots[0], roots[1], roots[2]


def meta(root: Path) -> dict[str, tuple[str, str]]:
    """speaker -> (gender, set) from vox1_meta.csv."""
    lines = (root / layout.VOX1_META).read_text().splitlines()
    assert lines[0].split("\t") == ["VoxCeleb1 ID", "VGGFace1 ID", "Gender", "Nationality", "Set"]
    return {f[0]: (f[2], f[4]) for f in (line.split("\t") for line in lines[1:])}


def wavs(root: Path) -> list[Path]:
    return sorted(root.rglob("*.wav"))


def test_layout(corpus: Path) -> None:
    size = MINI_VOX1
    for part, first, speakers, videos, utts in (
        (layout.VOX1_WAV, 10001, size.vox1_speakers, size.vox1_videos, size.vox1_utterances),
        (layout.VOX2_AAC, 1, size.vox2_speakers, size.vox2_videos, size.vox2_utterances),
    ):
        spk_dirs = sorted(p.name for p in (corpus / part).iterdir())
        assert spk_dirs == [f"id{first + i:05d}" for i in range(speakers)]
        for spk in spk_dirs:
            video_dirs = sorted((corpus / part / spk).iterdir())
            assert len(video_dirs) == videos
            for video in video_dirs:
                assert re.fullmatch(r"[A-Za-z0-9_-]{11}", video.name)
                names = sorted(p.name for p in video.iterdir())
                assert names == [f"{n:05d}.wav" for n in range(1, utts + 1)]
    for kind, subset in layout.MUSAN_SUBSETS.items():
        files = sorted((corpus / "musan" / kind / subset).glob("*.wav"))
        assert [f.name for f in files] == [
            f"{kind}-{subset}-{i:04d}.wav" for i in range(size.musan_files)
        ]
    for kind in ("smallroom", "mediumroom"):
        rirs = sorted((corpus / "RIRS_NOISES/simulated_rirs" / kind).rglob("*.wav"))
        assert len(rirs) == size.rir_rooms * size.rirs_per_room
    for name in layout.TRIAL_FILES.values():
        assert (corpus / name).is_file()


def test_audio_is_16k_mono_int16_within_duration_limits(corpus: Path) -> None:
    for path in wavs(corpus):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (
            16000,
            1,
            "PCM_16",
            "WAV",
        ), path
        if "voxceleb" in str(path):
            assert MINI_VOX1.min_seconds - 1e-3 <= info.duration <= MINI_VOX1.max_seconds + 1e-3
        elif "musan" in str(path):
            assert MINI_VOX1.musan_min_seconds - 1e-3 <= info.duration
            assert info.duration <= MINI_VOX1.musan_max_seconds + 1e-3
    speech = read_audio(next((corpus / layout.VOX1_WAV).rglob("*.wav")))
    assert 0.001 < np.sqrt(np.mean(speech**2)) < 0.5 and np.abs(speech).max() < 1.0


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tiny_pair) -> None:
    a, b, c = tiny_pair
    files_a = [p.relative_to(a) for p in sorted(a.rglob("*")) if p.is_file()]
    files_b = [p.relative_to(b) for p in sorted(b.rglob("*")) if p.is_file()]
    assert files_a == files_b and len(files_a) > 20
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    # Another seed: other video names, and every audio file differs.
    assert sorted(p.name for p in (a / layout.VOX1_WAV / "id10001").iterdir()) != sorted(
        p.name for p in (c / layout.VOX1_WAV / "id10001").iterdir()
    )
    for kind in ("noise", "music", "speech"):
        path = layout.musan_path(kind, 0)
        assert (a / path).read_bytes() != (c / path).read_bytes()
    assert (a / layout.rir_path("smallroom", 1, 1)).read_bytes() != (
        c / layout.rir_path("smallroom", 1, 1)
    ).read_bytes()


def test_trial_lists_parse_like_the_real_voxceleb_lists(corpus: Path) -> None:
    speakers = meta(corpus)
    wav_root = corpus / layout.VOX1_WAV
    sizes = {"O": MINI_VOX1.o_trials, "E": MINI_VOX1.e_trials, "H": MINI_VOX1.h_trials}
    for name, rel in layout.TRIAL_FILES.items():
        lines = (corpus / rel).read_text().splitlines()
        assert all(TRIAL_LINE.match(line) for line in lines), name
        assert len(lines) == len(set(lines)) == sizes[name]
        trials = read_trials(corpus / rel)
        assert set(np.unique(trials.labels)) == {0, 1}
        assert 0.3 < trials.labels.mean() < 0.7
        for label, a, b in zip(trials.labels, trials.enroll, trials.test, strict=True):
            assert (wav_root / a).is_file() and (wav_root / b).is_file()
            spk_a, spk_b = a.split("/")[0], b.split("/")[0]
            assert (spk_a == spk_b) == bool(label)
            if label:  # targets pair different videos, like the real lists
                assert a.split("/")[1] != b.split("/")[1]
            if name == "O":
                assert speakers[spk_a][1] == speakers[spk_b][1] == "test"
            if name == "H":
                assert speakers[spk_a][0] == speakers[spk_b][0]
    test_speakers = [s for s, (_, subset) in speakers.items() if subset == "test"]
    assert len(test_speakers) == MINI_VOX1.vox1_test_speakers
    e_speakers = {p.split("/")[0] for p in read_trials(corpus / layout.TRIAL_FILES["E"]).enroll}
    assert e_speakers - set(test_speakers), "E must cover dev speakers too"
    assert {g for g, _ in speakers.values()} == {"m", "f"}


def test_voxceleb1_and_voxceleb2_speakers_are_disjoint(corpus: Path) -> None:
    vox1 = {p.name for p in (corpus / layout.VOX1_WAV).iterdir()}
    vox2 = {p.name for p in (corpus / layout.VOX2_AAC).iterdir()}
    assert vox1 and vox2 and not vox1 & vox2


def _rt60(rir: np.ndarray) -> float:
    """Schroeder backward-integration estimate (T20 from -5 to -25 dB, extrapolated)."""
    energy = np.cumsum(rir[::-1].astype(float) ** 2)[::-1]
    decay = 10 * np.log10(energy / energy[0] + 1e-12)
    return 3.0 * (np.argmax(decay < -25) - np.argmax(decay < -5)) / 16000


def test_rir_lists_are_kaldi_format_with_realistic_decay(corpus: Path) -> None:
    expected_rt60 = {"smallroom": (0.15, 0.6), "mediumroom": (0.3, 1.05)}
    for kind, (low, high) in expected_rt60.items():
        lines = (corpus / layout.rir_list_path(kind)).read_text().splitlines()
        assert len(lines) == MINI_VOX1.rir_rooms * MINI_VOX1.rirs_per_room
        for line in lines:
            match = RIR_LINE.match(line)
            assert match, line
            prefix, room, _, room_prefix, room_again, path = match.groups()
            assert prefix == room_prefix == kind.removesuffix("room") and room == room_again
            assert path.startswith(f"RIRS_NOISES/simulated_rirs/{kind}/Room{room}/")
            rir = read_audio(corpus / path)  # paths are relative to the corpus root, as Kaldi's
            assert np.argmax(np.abs(rir)) < 0.03 * 16000  # the direct path comes first
            assert low <= _rt60(rir) <= high, (path, _rt60(rir))


def _o_list_utterances(corpus: Path) -> tuple[list[str], object]:
    trials = read_trials(corpus / layout.TRIAL_FILES["O"])
    return sorted(set(trials.enroll) | set(trials.test)), trials


def _eer_of(vectors: dict[str, np.ndarray], trials, cosine: bool = True) -> float:
    if cosine:
        keys = list(vectors)
        matrix = np.stack([vectors[k] for k in keys])
        matrix -= matrix.mean(axis=0)  # global mean subtracted
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        vectors = dict(zip(keys, matrix, strict=True))
        scores = [
            float(vectors[a] @ vectors[b]) for a, b in zip(trials.enroll, trials.test, strict=True)
        ]
    else:
        scores = [
            -abs(vectors[a] - vectors[b]) for a, b in zip(trials.enroll, trials.test, strict=True)
        ]
    return eer(np.array(scores), trials.labels)[0]


def test_mean_fbank_cosine_baseline_is_poor_on_o(corpus: Path) -> None:
    """The task is not trivial: per-utterance mean log-FBANK (80 bins) gives EER >= 20 % on O."""
    keys, trials = _o_list_utterances(corpus)
    wav_root = corpus / layout.VOX1_WAV
    means = {k: fbank(read_audio(wav_root / k), num_mel_bins=80).mean(axis=0) for k in keys}
    assert _eer_of(means, trials) >= 20.0


def _median_log_f0(samples: np.ndarray) -> float:
    """Median log-F0 of the louder half of 40 ms frames (autocorrelation peak, 60-400 Hz)."""
    frames = np.lib.stride_tricks.sliding_window_view(samples.astype(float), 640)[::160]
    frames = frames * np.hanning(640)
    energy = np.mean(frames**2, axis=1)
    frames = frames[energy > np.median(energy)]
    autocorr = np.fft.irfft(np.abs(np.fft.rfft(frames, 2048)) ** 2)[:, :640]
    lag = 40 + np.argmax(autocorr[:, 40:267], axis=1)
    periodic = autocorr[np.arange(len(lag)), lag] / autocorr[:, 0] > 0.4
    return float(np.median(np.log(16000 / lag[periodic])))


def test_speaker_identity_is_present_beyond_the_mean_spectrum(corpus: Path) -> None:
    """One voice cue (median F0) already halves the mean-FBANK EER: identity is learnable."""
    keys, trials = _o_list_utterances(corpus)
    wav_root = corpus / layout.VOX1_WAV
    audio = {k: read_audio(wav_root / k) for k in keys}
    baseline = _eer_of({k: fbank(x).mean(axis=0) for k, x in audio.items()}, trials)
    f0 = _eer_of({k: _median_log_f0(x) for k, x in audio.items()}, trials, cosine=False)
    assert f0 <= baseline / 2


def test_sizes_are_validated() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        CorpusSize(vox2_speakers=0)
    with pytest.raises(ValueError, match="vox1_videos"):
        CorpusSize(vox1_videos=1)
    with pytest.raises(ValueError, match="minimum duration"):
        CorpusSize(min_seconds=5.0, max_seconds=3.0)


def test_trials_shrink_to_the_available_pairs() -> None:
    utts = [
        layout.Utterance(spk, g, video, f"{spk}/{video}/00001.wav")
        for spk, g in (("id10001", "m"), ("id10002", "f"))
        for video in ("aaaaaaaaaaa", "bbbbbbbbbbb")
    ]
    trials = layout.make_trials(utts, 100, np.random.default_rng(0))
    assert sorted(t[0] for t in trials) == [0, 0, 0, 0, 1, 1]
    hard = layout.make_trials(utts, 100, np.random.default_rng(0), same_gender=True)
    assert [(label, sorted((a, b))) for label, a, b in hard] == [
        (1, [u.path for u in utts[:2]]),
        (1, [u.path for u in utts[2:]]),
    ]
