"""`voxsv params`: trainable parameter counts of every zoo model, with and without the head."""

from __future__ import annotations

import argparse
import sys

from voxsv.cli.common import add_command, at_least

DESCRIPTION = """\
Print a TSV (model, bins, params, params_with_head) of the trainable parameters of every zoo
model for BINS mel bins, without and with the recipe's training head (sub-centre combined
margin, K = 2, 5,994 VoxCeleb2 speakers). Models are built on the meta device: no memory used.
"""


def add_parser(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """Add the `params` subcommand."""
    parser = add_command(subparsers, "params", summary, DESCRIPTION)
    parser.add_argument("--bins", type=int, default=80, help="number of mel bins")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the parameter table for `args.bins` mel bins."""
    at_least("--bins", args.bins, 3, " (Kaldi FBANK's fewest mel bins)")
    from voxsv.models.params import params_table

    sys.stdout.write(params_table(args.bins))
    return 0
