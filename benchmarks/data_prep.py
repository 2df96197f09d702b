"""Data-stage throughput (decode, augment, FBANK, compress, write) and FBANK alone vs lhotse.

Reports seconds of audio per CPU-second on one core (torch.set_num_threads(1); ffmpeg's CPU
time for `.m4a` decoding is counted through RUSAGE_CHILDREN), with the load average before and
after (the machine may be shared):
  * the whole data stage (all five copies: clean, reverb, noise, music, babble, as
    voxsv.featurize runs them, each followed by its training crop store) on the mini
    corpus (`--corpus DIR`, the layout of config `paths`; generated with `voxsv corpus` when
    not given and the command exists) and on longer generated sets of `.wav` and of `.m4a`
    utterances;
  * FBANK alone: voxsv.features.fbank (what featurize calls) beside lhotse's Fbank configured
    as Kaldi (snip_edges, 20 Hz to Nyquist, samples on the int16 scale, the same dither) and
    kaldi-native-fbank, in interleaved rounds so that load changes hit all alike, on 8 s
    utterances of two kinds: the generated harmonic speech (only 16-bit rounding between the
    harmonics: the weak bins for which voxsv redoes most frames' FFT in float64) and the same
    with a -60 dBFS noise floor, as recordings have.
Targets: data stage >= 300x real time per core; FBANK at least as fast as lhotse's.

    OMP_NUM_THREADS=1 python benchmarks/data_prep.py [--corpus corpus] [--minutes 6]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from voxsv import augment, featurize, manifests
from voxsv.audio import write_wav
from voxsv.crop_store import write_store
from voxsv.features import fbank

SR = 16000
STAGE_TARGET = 300.0


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg decoders)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def speech_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Voiced bursts (harmonics of a drifting pitch) separated by pauses, on the int16 grid."""
    out, total = [], int(seconds * SR)
    while sum(len(o) for o in out) < total:
        n = int(rng.uniform(0.2, 0.6) * SR)
        t = np.arange(n) / SR
        f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * np.hanning(n) * 0.2
        out += [voiced, 1e-3 * rng.standard_normal(int(rng.uniform(0.05, 0.3) * SR))]
    return np.concatenate(out)[:total]


def make_set(root: Path, minutes: float, seconds: float = 8.0, ext: str = ".m4a") -> Path:
    """A generated VoxCeleb2-style set (one speaker per 10 utterances) plus MUSAN and RIRs."""
    rng = np.random.default_rng(0)
    vox = root / "voxceleb2" / "dev" / "aac"
    for i in range(int(minutes * 60 / seconds)):
        path = vox / f"id{i // 10:05d}" / "vid" / f"{i % 10:05d}{ext}"
        wav = path.with_suffix(".wav")
        write_wav(wav, speech_like(seconds, rng))
        if ext == ".m4a":
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav),
                            "-c:a", "aac", "-b:a", "64k", str(path)], check=True)
            wav.unlink()
    musan = root / "musan"
    for part, count, length in (("noise", 20, 4.0), ("music", 10, 60.0), ("speech", 10, 60.0)):
        for i in range(count):
            samples = speech_like(length, rng) if part == "speech" else (
                0.05 * rng.standard_normal(int(length * SR)))
            write_wav(musan / part / "gen" / f"{part}-{i:04d}.wav", samples)
    rirs = root / "RIRS_NOISES"
    for room, tail in (("smallroom", 0.3), ("mediumroom", 0.6)):
        lines = []
        for i in range(10):
            n = int(tail * SR)
            rir = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.05 * SR))
            rir[int(rng.integers(20, 200))] = 3.0
            rel = f"RIRS_NOISES/simulated_rirs/{room}/Room001/Room001-{i:05d}.wav"
            write_wav(root / rel, rir / np.max(np.abs(rir)))
            lines.append(f"--rir-id {room}-Room001-{i:05d} --room-id {room}-Room001 {rel}")
        (rirs / "simulated_rirs" / room / "rir_list").write_text("\n".join(lines) + "\n")
    return root


def prepare(corpus: Path, work: Path) -> dict:
    """Manifests and plans (not timed: they are per-corpus, not per-second-of-audio costs)."""
    vox = corpus / "voxceleb2" / "dev" / "aac"
    m = {"rec": work / "rec.jsonl.gz", "sup": work / "sup.jsonl.gz"}
    manifests.write_voxceleb(vox, m["rec"], m["sup"], workers=1)
    for part in ("noise", "music", "speech"):
        m[part] = work / f"musan_{part}.jsonl.gz"
        manifests.write_recordings(manifests.musan_entries(corpus / "musan", part), m[part])
    for room in ("smallroom", "mediumroom"):
        m[room] = work / f"rirs_{room}.jsonl.gz"
        manifests.write_recordings(manifests.rir_entries(corpus / "RIRS_NOISES", room), m[room])
    sources = {
        "reverb": {"smallroom": m["smallroom"], "mediumroom": m["mediumroom"]},
        "noise": {"noise": m["noise"]}, "music": {"music": m["music"]},
        "babble": {"babble": m["speech"]},
    }
    recs = list(augment.recordings_of(featurize.shard_items(m["rec"], 0, 1)))
    for copy, src in sources.items():
        m[f"plan_{copy}"] = work / f"plan_{copy}.jsonl.gz"
        augment.write_plans(copy, recs, augment.source_sets(src), m[f"plan_{copy}"], 1)
    m["audio_seconds"] = sum(r.num_samples for r in recs) / SR
    return m


def stage(m: dict, work: Path) -> float:
    """Run all five copies of the data stage, each FBANK archive then its training crop store
    (voxsv.crop_store, the rule that follows it); return the CPU seconds."""
    options = featurize.FbankOptions(seed=1, dither=1.0)
    start = cpu_seconds()
    for copy in augment.COPIES:
        featurize.featurize_shard(m["rec"], m["sup"], work / f"{copy}.jsonl.gz",
                                  work / f"{copy}.lca", 0, 1, options, copy,
                                  m.get(f"plan_{copy}"))
        write_store(work / f"{copy}.jsonl.gz", work / f"{copy}_crops.jsonl.gz",
                    work / f"{copy}_crops.npy", cmn_window=300)
    return cpu_seconds() - start


def fbank_alone(dither: float, seconds_total: float = 96.0, rounds: int = 5) -> dict:
    """x real time per core of voxsv, lhotse (Kaldi options) and kaldi-native-fbank FBANK."""
    import kaldi_native_fbank as knf
    from lhotse.features.kaldi.extractors import Fbank, FbankConfig

    rng = np.random.default_rng(1)
    harmonic = [np.round(speech_like(8.0, rng) * 32768) / 32768
                for _ in range(int(seconds_total / 8))]
    floor = [np.round((u + 1e-3 * rng.standard_normal(len(u))) * 32768) / 32768
             for u in harmonic]
    lhotse = Fbank(FbankConfig(num_filters=80, snip_edges=True, low_freq=20.0, high_freq=0.0,
                               dither=dither))
    opts = knf.FbankOptions()
    opts.frame_opts.dither = dither
    opts.mel_opts.num_bins = 80
    opts.mel_opts.low_freq = 20.0
    opts.use_energy = False
    generator = torch.Generator().manual_seed(0)

    def run_knf(x):
        comp = knf.OnlineFbank(opts)
        comp.accept_waveform(SR, x * 32768.0)
        comp.input_finished()
        return np.stack([comp.get_frame(i) for i in range(comp.num_frames_ready)])

    extractors = {
        "voxsv": lambda x: fbank(x, 80, dither, generator),
        "lhotse_kaldi_options": lambda x: lhotse.extract(x * 32768.0, SR),
        "kaldi_native_fbank": run_knf,
    }
    out = {}
    for kind, utts in (("harmonic_speech", harmonic), ("speech_with_noise_floor", floor)):
        utts = [u.astype(np.float32) for u in utts]
        times: dict[str, list[float]] = {name: [] for name in extractors}
        for _ in range(rounds):  # interleaved, so that a change of load hits all alike
            for name, fn in extractors.items():
                fn(utts[0])
                t0 = time.process_time()
                for u in utts:
                    fn(u)
                times[name].append(time.process_time() - t0)
        out[kind] = {name: round(seconds_total / float(np.median(t)), 1)
                     for name, t in times.items()}
        out[kind]["voxsv_over_lhotse"] = round(
            out[kind]["voxsv"] / out[kind]["lhotse_kaldi_options"], 2)
    return out


def profile_stage(m: dict, work: Path) -> str:
    """Top functions by cumulative time of one data-stage run (when the target is missed)."""
    prof = cProfile.Profile()
    prof.enable()
    stage(m, work)
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(15)
    return text.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="mini corpus root (default: generate one)")
    parser.add_argument("--minutes", type=float, default=6.0, help="length of the longer set")
    parser.add_argument("--profile", action="store_true", help="profile the longer set")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = {}
        corpus = args.corpus
        if corpus is None and shutil.which("voxsv"):
            done = subprocess.run(["voxsv", "corpus", str(tmp / "mini"), "--seed", "1"],
                                  capture_output=True, text=True)
            corpus = tmp / "mini" if done.returncode == 0 else None
        if corpus is not None:
            sets["mini_corpus"] = corpus
        for ext in (".wav", ".m4a"):
            name = f"generated_{args.minutes:g}min_{ext[1:]}"
            sets[name] = make_set(tmp / name, args.minutes, ext=ext)
        for name, root in sets.items():
            work = tmp / f"work_{name}"
            m = prepare(root, work)
            audio = 5 * m["audio_seconds"]
            cpu = stage(m, work)
            results[name] = {"audio_seconds_5_copies": audio, "cpu_seconds": cpu,
                             "x_realtime_per_core": audio / cpu}
            if args.profile and name.startswith("generated"):
                results[name]["profile"] = profile_stage(m, work)
    results["fbank_x_realtime_per_core"] = {f"dither_{d:g}": fbank_alone(d) for d in (1.0, 0.0)}
    results["load_average_after"] = os.getloadavg()
    results["targets"] = {"data_stage": STAGE_TARGET, "fbank": "voxsv_over_lhotse >= 1"}
    profile = {k: v.pop("profile") for k, v in results.items()
               if isinstance(v, dict) and "profile" in v}
    json.dump(results, sys.stdout, indent=2)
    print()
    for name, text in profile.items():
        print(f"--- profile: {name}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
