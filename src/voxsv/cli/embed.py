"""`voxsv embed`: embeddings of audio files with a model.pt checkpoint or an exported model.onnx."""

from __future__ import annotations

import argparse

from voxsv.cli.common import add_command, distinct, output_file
from voxsv.cli.extract import add_extraction_options, audio_inputs, check_inputs, open_model

DESCRIPTION = """\
Embed each audio file (16 kHz mono wav/flac/m4a) as the pipeline's evaluation does, with the
feature settings stored in the model file (mel bins, CMN window, dither): Kaldi FBANK, the
rounding of the pipeline's lilcom FBANK archives, sliding CMN, then chunks of at most
--chunk-frames frames averaged with length weights. Run from the corpus root with paths as the
trial lists write them and --seed set to the config's data.seed, it gives exactly the
pipeline's embedding of a VoxCeleb1 utterance. Prints `<path> <values...>` lines, or writes an
embeddings store (.npz, ids = the paths as given) for `voxsv score` with --out.
"""


def add_parser(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """Add the `embed` subcommand."""
    parser = add_command(subparsers, "embed", summary, DESCRIPTION)
    parser.add_argument("--model", required=True, metavar="M", help="model.pt or model.onnx")
    parser.add_argument("audio", nargs="+", help="audio files, each once")
    parser.add_argument("--out", metavar="E.npz", help="embeddings store to write")
    add_extraction_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Embed args.audio; print or save the embeddings."""
    from voxsv.trials import utterance_id

    out = output_file(args.out) if args.out else None
    distinct(args.audio)
    distinct(args.audio, key=utterance_id)  # `voxsv score` joins trials on these ids
    check_inputs(args.audio)
    extractor = open_model(args.model, args.chunk_frames)
    from voxsv.embed import embed_features
    from voxsv.scoring import save_embeddings

    inputs = audio_inputs(args.audio, extractor, args.seed)
    ids, embeddings = embed_features(inputs, extractor, args.chunk_frames)
    if out is not None:
        save_embeddings(out, ids, embeddings)
    else:
        for uid, row in zip(ids, embeddings, strict=True):
            print(uid, " ".join(f"{v:.6g}" for v in row))
    return 0
