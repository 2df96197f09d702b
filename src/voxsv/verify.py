"""`voxsv verify`: do two recordings come from the same speaker? (cosine of their embeddings)"""

from __future__ import annotations

import argparse

import numpy as np

from voxsv.embed import CHUNK_FRAMES, embed_wavs, load_extractor


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings."""
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def _run_verify(args: argparse.Namespace) -> int:
    _, (a, b) = embed_wavs([args.enroll, args.test], load_extractor(args.model), args.chunk_frames)
    score = cosine(a, b)
    print(f"score\t{score:.6f}")
    if args.threshold is not None:
        print(f"decision\t{'accept' if score >= args.threshold else 'reject'}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """`voxsv verify`: cosine score of two audio files, and the decision for a threshold."""
    parser = subparsers.add_parser("verify", help="score two audio files against each other")
    parser.add_argument("--model", required=True, help="model.onnx or a model.pt checkpoint")
    parser.add_argument("enroll", help="enrollment audio")
    parser.add_argument("test", help="test audio")
    parser.add_argument("--threshold", type=float, help="accept when score >= threshold")
    parser.add_argument("--chunk-frames", type=int, default=CHUNK_FRAMES)
    parser.set_defaults(func=_run_verify)
