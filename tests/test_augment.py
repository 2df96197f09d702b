"""Augmentation plans and mixing: seeded draws, SNRs measured from the output, Kaldi reverb."""

from __future__ import annotations

import numpy as np
import pytest
from lhotse import Recording
from lhotse.audio import AudioSource
from test_manifests import SR, tone

from voxsv import augment
from voxsv.audio import read_audio, write_wav


def recording(path, seconds: float, rec_id: str | None = None) -> Recording:
    """A Recording of an existing file (what the manifests hold)."""
    n = round(seconds * SR)
    return Recording(id=rec_id or path.stem, sources=[AudioSource("file", [0], str(path))],
                     sampling_rate=SR, num_samples=n, duration=n / SR)


def noise_files(tmp_path, kind: str, lengths: list[float]) -> list[Recording]:
    """Gaussian-noise files of the given lengths (s) with their recordings."""
    rng = np.random.default_rng(len(kind))
    recs = []
    for i, seconds in enumerate(lengths):
        path = tmp_path / kind / f"{kind}-{i}.wav"
        samples = rng.uniform(0.05, 0.3) * rng.standard_normal(round(seconds * SR))
        write_wav(path, np.clip(samples, -1, 1))
        recs.append(recording(path, seconds, f"{kind}/{i}"))
    return recs


def snr_db(clean: np.ndarray, added: np.ndarray) -> float:
    """SPEC's SNR: whole clean utterance power over the added signal's power on its span."""
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(added**2))


@pytest.fixture()
def sources(tmp_path):
    rooms = {}
    for room, delay in (("smallroom", 40), ("mediumroom", 90)):
        rirs = []
        for i in range(3):
            rir = np.zeros(4000)
            rir[delay + i] = 0.9
            rir[delay + i + 1 :] += 0.2 * np.exp(-np.arange(4000 - delay - i - 1) / 400.0)
            path = tmp_path / room / f"rir{i}.wav"
            write_wav(path, rir)
            rirs.append(recording(path, len(rir) / SR, f"{room}-{i}"))
        rooms[room] = rirs
    return {
        **rooms,
        "noise": noise_files(tmp_path, "noise", [0.4, 0.9, 1.3]),
        "music": noise_files(tmp_path, "music", [2.5, 6.0]),
        "babble": noise_files(tmp_path, "speech", [1.5, 4.0, 7.0]),
    }


def test_plans_are_seeded(sources):
    for copy in augment.AUGMENTED:
        options = augment.DEFAULTS[copy]
        plans = [augment.plan_utterance(copy, f"id1/v/{i:05d}", 5.0, 7, sources, options)
                 for i in range(20)]
        again = [augment.plan_utterance(copy, f"id1/v/{i:05d}", 5.0, 7, sources, options)
                 for i in range(20)]
        other = [augment.plan_utterance(copy, f"id1/v/{i:05d}", 5.0, 8, sources, options)
                 for i in range(20)]
        assert plans == again
        assert plans != other


def test_reverb_draws_both_rooms(sources):
    rooms = [
        augment.plan_utterance("reverb", f"u{i}", 3.0, 1, sources, augment.DEFAULTS["reverb"])
        ["rir"]["room"] for i in range(200)
    ]
    assert 70 < rooms.count("smallroom") < 130  # p = 0.5 each


def test_noise_every_second_from_zero_covers_utterance(sources):
    for i in range(10):
        duration = 2.0 + i * 0.7
        plan = augment.plan_utterance("noise", f"u{i}", duration, 3, sources,
                                      augment.DEFAULTS["noise"])
        tracks = plan["additive"]
        lengths = {r.sources[0].source: r.duration for r in sources["noise"]}
        assert tracks[0]["offset"] == 0.0
        for a, b in zip(tracks, tracks[1:], strict=False):
            assert b["offset"] == pytest.approx(a["offset"] + lengths[a["path"]] + 1.0)
        assert tracks[-1]["offset"] < duration <= tracks[-1]["offset"] + lengths[
            tracks[-1]["path"]] + 1.0
        assert {t["snr"] for t in tracks} <= {15, 10, 5, 0}
        assert not any(t["loop"] for t in tracks)


def kaldi_mix(clean, tracks):
    """SPEC section 1 written out: each noise scaled to its SNR against the clean power, a
    foreground noise's power over its whole file, a background signal's over the signal looped
    or cut to the utterance; the sum rescaled to the clean power; 16-bit rounding."""
    x = clean.astype(np.float64)
    speech = np.mean(x**2)
    y = x.copy()
    for track in tracks:
        start = round(track["offset"] * SR)
        if start >= len(x):
            continue
        noise = read_audio(track["path"]).astype(np.float64)
        if track["loop"]:
            noise = np.resize(noise, len(x) - start)
        gain = np.sqrt(speech / (np.mean(noise**2) * 10 ** (track["snr"] / 10)))
        part = gain * noise[: len(x) - start]
        y[start : start + len(part)] += part
    y *= np.sqrt(speech / np.mean(y**2))
    return augment.to_pcm16(y)


def test_foreground_noise_matches_kaldi_and_keeps_clean_power(sources):
    clean = augment.to_pcm16(tone(4.3, 180, seed=1))
    plan = augment.plan_utterance("noise", "u", 4.3, 11, sources, augment.DEFAULTS["noise"])
    out = augment.apply_plan(clean, plan)
    assert np.max(np.abs(out - kaldi_mix(clean, plan["additive"]))) <= 1 / 32768 + 1e-9
    power = np.mean(clean.astype(np.float64) ** 2)
    assert np.mean(out.astype(np.float64) ** 2) == pytest.approx(power, rel=1e-3)
    # the output is a scaled (clean + noise): nothing but clean in the 1 s gaps
    gaps = np.ones(len(clean), bool)
    for track in plan["additive"]:
        start = round(track["offset"] * SR)
        gaps[start : start + len(read_audio(track["path"]))] = False
    gain = np.dot(out[gaps], clean[gaps]) / np.dot(clean[gaps], clean[gaps])
    assert np.max(np.abs(out[gaps] - gain * clean[gaps])) <= 1 / 32768 + 1e-6


def test_cut_foreground_noise_power_is_over_its_whole_file(tmp_path):
    # a noise that is quiet in its first second and loud after: the utterance (0.8 s) takes
    # only the quiet head, but its SNR scale comes from the whole file's power, as in Kaldi
    rng = np.random.default_rng(7)
    noise = rng.standard_normal(2 * SR) * np.repeat([0.02, 0.3], SR)
    write_wav(tmp_path / "n.wav", noise)
    clean = augment.to_pcm16(tone(0.8, 150, seed=4))
    track = {"path": str(tmp_path / "n.wav"), "offset": 0.0, "snr": 0.0, "loop": False}
    out = augment.apply_plan(clean, {"additive": [track]})
    assert np.max(np.abs(out - kaldi_mix(clean, [track]))) <= 1 / 32768 + 1e-9
    # the added head is far below the clean power (0 dB would hold for the head's own power)
    x, y = clean.astype(np.float64), out.astype(np.float64)
    added = y / (np.dot(y, x) / np.dot(x, x)) - x  # undo the rescaling, drop the clean part
    assert 10 * np.log10(np.mean(x**2) / np.mean(added**2)) > 6


@pytest.mark.parametrize("copy", ["music", "babble"])
def test_background_matches_kaldi_and_keeps_clean_power(sources, copy):
    clean = augment.to_pcm16(tone(5.0, 150, seed=2))
    plan = augment.plan_utterance(copy, "u", 5.0, 5, sources, augment.DEFAULTS[copy])
    tracks = plan["additive"]
    counts = augment.DEFAULTS[copy]["count"]
    assert len(tracks) in counts and all(t["offset"] == 0 and t["loop"] for t in tracks)
    out = augment.apply_plan(clean, plan)
    assert np.max(np.abs(out - kaldi_mix(clean, tracks))) <= 1 / 32768 + 1e-9
    power = np.mean(clean.astype(np.float64) ** 2)
    assert np.mean(out.astype(np.float64) ** 2) == pytest.approx(power, rel=1e-3)
    for track in tracks:  # each signal alone: SNR against the clean power before rescaling
        one = augment.apply_plan(clean, {"additive": [track]}).astype(np.float64)
        x = clean.astype(np.float64)
        gain = np.dot(one, x) / np.dot(x, x)  # what the rescaling multiplied (x, noise apart)
        looped = np.resize(read_audio(track["path"]), len(clean))
        assert snr_db(clean, one / gain - clean) == pytest.approx(track["snr"], abs=0.5)
        assert abs(np.corrcoef(one / gain - clean, looped)[0, 1]) > 0.999


def test_reverb_aligned_to_direct_path_and_power_rescaled(sources):
    clean = augment.to_pcm16(0.1 * np.random.default_rng(3).standard_normal(2 * SR))
    plan = augment.plan_utterance("reverb", "u", 2.0, 2, sources, augment.DEFAULTS["reverb"])
    out = augment.apply_plan(clean, plan).astype(np.float64)
    assert len(out) == len(clean)
    assert np.mean(out**2) == pytest.approx(np.mean(clean.astype(np.float64) ** 2), rel=1e-3)
    xcorr = [np.dot(out[100 + lag : -100 + lag or None], clean[100:-100]) for lag in
             range(-20, 21)]
    assert int(np.argmax(xcorr)) - 20 == 0  # the direct path lines up with the clean signal
    # Exactly Kaldi's: convolve, drop the `peak` samples before the direct path, rescale.
    rir = read_audio(plan["rir"]["path"]).astype(np.float64)
    peak = int(np.argmax(rir))
    y = np.convolve(clean.astype(np.float64), rir)[peak : peak + len(clean)]
    y *= np.sqrt(np.mean(clean.astype(np.float64) ** 2) / np.mean(y**2))
    assert np.max(np.abs(out - augment.to_pcm16(y))) <= 1 / 32768 + 1e-9


def test_zero_signal_and_short_noise_are_safe():
    silent = np.zeros(SR, dtype=np.float32)
    plan = {"additive": [{"path": "x", "offset": 0.0, "snr": 5, "loop": True}]}
    out = augment.apply_plan(silent, plan, load=lambda path, n: np.ones(10))
    assert np.all(out == 0)  # no speech power: nothing added, as in Kaldi
    plan["additive"][0]["loop"] = False
    out = augment.apply_plan(silent, plan, load=lambda path, n: np.ones(10))
    assert np.all(out == 0)  # no speech power: nothing added, as in Kaldi


def test_reverb_draws_do_not_depend_on_the_order_of_the_rooms() -> None:
    from types import SimpleNamespace

    from voxsv.augment import plan_utterance

    def rir(room: str, i: int) -> SimpleNamespace:
        return SimpleNamespace(id=f"{room}-{i}", sources=[SimpleNamespace(source=f"{room}/{i}")])

    sources = {room: [rir(room, i) for i in range(5)] for room in ("smallroom", "mediumroom")}
    for utt in ("a/b/00001", "a/b/00002", "c/d/00003"):
        plans = [plan_utterance("reverb", utt, 3.0, 7, sources, {"rooms": rooms})
                 for rooms in ({"smallroom": 0.3, "mediumroom": 0.7},
                               {"mediumroom": 0.7, "smallroom": 0.3})]
        assert plans[0] == plans[1]
