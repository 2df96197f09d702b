"""Scoring at VoxCeleb1-E scale: cosine, AS-norm, EER and minDCF beside the bare cohort product.

Random unit vectors stand in for embeddings: 153,516 utterances x 256, a 5,994-speaker cohort,
579,818 random trials (about half targets). Timed phases: reading the trial list from disk,
cosine scoring, AS-norm scoring (trial join, per-utterance top-k cohort statistics, trial
scores), EER + minDCF of both. The reference is the bare matrix product of the utterances
with the cohort (153,516 x 256 times 256 x 5,994) in the same row chunks, timed in the same run.
Targets: everything within 3x of that product, peak memory under 4 GB, and at least 2x faster
than 12 s (so under 6 s).

    python benchmarks/scoring.py [--threads N]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from voxsv import scoring
from voxsv.metrics import evaluate
from voxsv.trials import read_trials

N_UTTS, DIM, N_COHORT, N_TRIALS, TOP_K = 153_516, 256, 5_994, 579_818, 400
TARGET_RATIO, TARGET_BYTES, TARGET_SECONDS = 3.0, 4 * 2**30, 12.0 / 2


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Random float32 unit vectors."""
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def write_trials(path: Path, rng: np.random.Generator, ids: list[str]) -> None:
    """A random trial list: about half the trials pair two utterances of one speaker."""
    speaker = np.array([i.split("/", 1)[0] for i in ids])
    enroll = rng.integers(0, len(ids), N_TRIALS)
    test = rng.integers(0, len(ids), N_TRIALS)
    labels = (speaker[enroll] == speaker[test]) | (rng.random(N_TRIALS) < 0.5)
    path.write_text(
        "".join(
            f"{int(lab)} {ids[e]} {ids[t]}\n"
            for lab, e, t in zip(labels, enroll, test, strict=True)
        )
    )


def bare_product(embeddings: np.ndarray, cohort: np.ndarray) -> float:
    """Seconds for embeddings @ cohort.T in the row chunks that scoring uses (results dropped)."""
    e, c = torch.from_numpy(embeddings), torch.from_numpy(cohort).T.contiguous()
    start = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, len(e), scoring.ROW_CHUNK):
            _ = e[lo : lo + scoring.ROW_CHUNK] @ c
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    ids = [f"id{10001 + i % 1251:05d}/vid{i // 1251:05d}/{i % 97:05d}.wav" for i in range(N_UTTS)]
    embeddings = unit_vectors(rng, N_UTTS, DIM)
    cohort = unit_vectors(rng, N_COHORT, DIM)
    workdir = Path(tempfile.mkdtemp(prefix="voxsv-bench-"))
    write_trials(workdir / "trials.txt", rng, ids)

    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = {}
    start = time.perf_counter()
    trials = read_trials(workdir / "trials.txt")
    times["read_trials"] = time.perf_counter() - start
    start = time.perf_counter()
    cos = scoring.score_trials(trials, ids, embeddings)
    times["cosine"] = time.perf_counter() - start
    start = time.perf_counter()
    asn = scoring.score_trials(trials, ids, embeddings, cohort, TOP_K)
    times["asnorm"] = time.perf_counter() - start
    start = time.perf_counter()
    for scores in (cos, asn):
        evaluate(scores, trials.labels)
    times["eer_mindcf_x2"] = time.perf_counter() - start
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times["product"] = bare_product(embeddings, cohort)

    total = times["cosine"] + times["asnorm"] + times["eer_mindcf_x2"]
    peak = max(peak_after, peak_before)
    report = {
        "threads": torch.get_num_threads(),
        "cpu_count": psutil.cpu_count(),
        "n_utterances": N_UTTS,
        "n_cohort": N_COHORT,
        "n_trials": len(trials),
        **{f"{k}_s": round(v, 3) for k, v in times.items()},
        "total_s": round(total, 3),
        "total_over_product": round(total / times["product"], 2),
        "peak_rss_gib": round(peak / 2**30, 3),
        "peak_rss_above_start_gib": round((peak_after - rss_before) / 2**30, 3),
        "targets": {
            f"total <= {TARGET_RATIO}x product": total <= TARGET_RATIO * times["product"],
            "peak rss < 4 GiB": peak < TARGET_BYTES,
            f"total < {TARGET_SECONDS} s": total < TARGET_SECONDS,
        },
    }
    print(json.dumps(report, indent=2))
    (workdir / "trials.txt").unlink()
    workdir.rmdir()
    return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
