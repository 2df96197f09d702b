"""`voxsv verify`: do two recordings come from the same speaker? (cosine of their embeddings)"""

from __future__ import annotations

import argparse

from voxsv.embed import CHUNK_FRAMES, embed_wavs, load_extractor
from voxsv.scoring import l2_normalise


def _run_verify(args: argparse.Namespace) -> int:
    extractor = load_extractor(args.model)
    _, embeddings = embed_wavs([args.enroll, args.test], extractor, args.chunk_frames)
    a, b = l2_normalise(embeddings)  # cosine exactly as the pipeline's scoring computes it
    score = float(a @ b)
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
