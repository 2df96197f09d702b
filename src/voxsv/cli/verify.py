"""`voxsv verify`: do two recordings come from the same speaker? (cosine of their embeddings)"""

from __future__ import annotations

import argparse

from voxsv.cli.common import add_command
from voxsv.cli.extract import add_extraction_options, audio_inputs, check_inputs, open_model

DESCRIPTION = """\
Embed ENROLL and TEST exactly as `voxsv embed` does (feature settings from the model file) and
print their cosine score (`score<TAB>value`), computed as the pipeline's cosine scoring; with
--threshold also `decision<TAB>accept` (score >= threshold) or `reject`.
"""


def add_parser(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """Add the `verify` subcommand."""
    parser = add_command(subparsers, "verify", summary, DESCRIPTION)
    parser.add_argument("--model", required=True, metavar="M", help="model.pt or model.onnx")
    parser.add_argument("enroll", metavar="ENROLL", help="enrollment audio")
    parser.add_argument("test", metavar="TEST", help="test audio")
    parser.add_argument("--threshold", type=float, metavar="T", help="accept when score >= T")
    add_extraction_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the score of the pair (and the decision for --threshold)."""
    paths = [args.enroll, args.test]
    check_inputs(paths)
    extractor = open_model(args.model, args.chunk_frames)
    from voxsv.embed import embed_features
    from voxsv.scoring import l2_normalise

    _, embeddings = embed_features(
        audio_inputs(paths, extractor, args.seed), extractor, args.chunk_frames
    )
    a, b = l2_normalise(embeddings)  # cosine exactly as the pipeline's scoring computes it
    score = float(a @ b)
    print(f"score\t{score:.6f}")
    if args.threshold is not None:
        print(f"decision\t{'accept' if score >= args.threshold else 'reject'}")
    return 0
