"""`voxsv fbank`: Kaldi FBANK (and sliding CMN) of one audio file, saved as a .npy array."""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from voxsv.atomic import atomic_path
from voxsv.audio import AudioError, read_audio
from voxsv.features import fbank, sliding_cmn


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `fbank` subcommand."""
    p = subparsers.add_parser(
        "fbank",
        help="compute Kaldi FBANK features of one file",
        description="Write the frames x bins float32 FBANK of IN (wav/flac/m4a) to OUT (.npy), "
        "after sliding CMN unless --cmn-window 0.",
    )
    p.add_argument("input", metavar="IN", help="16 kHz mono audio file")
    p.add_argument("output", metavar="OUT", help="output .npy file")
    p.add_argument("--num-mel-bins", type=int, default=80, help="mel bins (default: 80)")
    p.add_argument(
        "--dither", type=float, default=1.0,
        help="Gaussian dither on the int16 scale (default: 1.0, Kaldi's; 0 turns it off)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the dither noise (default: 0)")
    p.add_argument(
        "--cmn-window", type=int, default=300,
        help="centred sliding CMN window in frames (default: 300; 0 turns CMN off)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute the features of args.input and save them to args.output."""
    try:
        samples = read_audio(args.input)
    except AudioError as err:
        print(f"voxsv fbank: {err}", file=sys.stderr)
        return 1
    generator = torch.Generator().manual_seed(args.seed)
    feats = fbank(samples, args.num_mel_bins, args.dither, generator)
    feats = sliding_cmn(feats, args.cmn_window)
    with atomic_path(args.output, suffix=".npy") as tmp:
        np.save(tmp, feats)
    return 0
