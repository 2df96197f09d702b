"""`voxsv fbank`: Kaldi FBANK (and sliding CMN) of one audio file, saved as a .npy array."""

from __future__ import annotations

import argparse

from voxsv.cli.common import add_command, at_least, input_file, output_file
from voxsv.errors import InputError

DESCRIPTION = """\
Write the frames x bins float32 FBANK of IN (16 kHz mono wav/flac/m4a) to OUT (.npy), as
Kaldi's compute-fbank-feats with the recipe's options, then sliding CMN (apply-cmvn-sliding
--center) unless --cmn-window 0.
"""
FRAME_SAMPLES = 400  # one 25 ms frame at 16 kHz


def add_parser(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """Add the `fbank` subcommand."""
    parser = add_command(subparsers, "fbank", summary, DESCRIPTION)
    parser.add_argument("input", metavar="IN", help="16 kHz mono audio file")
    parser.add_argument("output", metavar="OUT", help="output .npy file")
    parser.add_argument("--num-mel-bins", type=int, default=80, help="mel bins")
    parser.add_argument(
        "--dither", type=float, default=1.0,
        help="Gaussian dither on the int16 scale (Kaldi's default; 0 turns it off)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the dither noise")
    parser.add_argument(
        "--cmn-window", type=int, default=300,
        help="centred sliding CMN window in frames (0 turns CMN off)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute the features of args.input and save them to args.output."""
    at_least("--num-mel-bins", args.num_mel_bins, 3, " (Kaldi FBANK's fewest)")
    at_least("--cmn-window", args.cmn_window, 0, " (0 turns CMN off)")
    at_least("--dither", args.dither, 0.0, " (0 turns dither off)")
    output = output_file(args.output)
    import numpy as np
    import torch

    from voxsv.atomic import atomic_path
    from voxsv.audio import read_audio
    from voxsv.features import fbank, sliding_cmn

    samples = read_audio(input_file(args.input))
    if len(samples) < FRAME_SAMPLES:
        raise InputError(
            f"{args.input}: {len(samples)} samples ({len(samples) / 16000:.4f} s), shorter than "
            f"one 25 ms frame ({FRAME_SAMPLES} samples): no FBANK frame"
        )
    generator = torch.Generator().manual_seed(args.seed)
    feats = fbank(samples, args.num_mel_bins, args.dither, generator)
    feats = sliding_cmn(feats, args.cmn_window)
    with atomic_path(output, suffix=".npy") as tmp:
        np.save(tmp, feats)
    return 0
