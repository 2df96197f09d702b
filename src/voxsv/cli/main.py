"""The `voxsv` command: one subcommand per user-facing task, one module of voxsv.cli each.

Each module provides `add_parser(subparsers)` (its subparser, whose `func` runs it and returns
the exit code). Only the command that runs is imported, so `voxsv --help` stays instant; bad
input (voxsv.errors.VoxsvError, or an OSError naming a file) is printed on one line as
`voxsv CMD: <file or option>: <what is wrong>` with exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from voxsv import __version__
from voxsv.errors import VoxsvError

# name -> (module, one-line summary shown by `voxsv --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "corpus": ("voxsv.cli.corpus", "synthesise the embedded mini corpus (no download)"),
    "fbank": ("voxsv.cli.fbank", "Kaldi FBANK (+ sliding CMN) of one audio file, as .npy"),
    "params": ("voxsv.cli.params", "trainable parameter counts of the model zoo (TSV)"),
    "eer": ("voxsv.cli.eer", "EER and minDCF of a score file against its trial list"),
    "score": ("voxsv.cli.score", "cosine or AS-norm scores of a trial list from embeddings"),
    "embed": ("voxsv.cli.embed", "embeddings of audio files with a trained or exported model"),
    "verify": ("voxsv.cli.verify", "score two audio files against each other"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; with `command`, import and add that subcommand's full parser."""
    parser = argparse.ArgumentParser(
        prog="voxsv",
        description="Speaker verification of the VoxSRC-2020 recipe from the command line. "
        "`voxsv COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"voxsv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if name == command:
            importlib.import_module(module).add_parser(sub, summary)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: run one command, bad input in one line (exit 1)."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VoxsvError as err:
        print(f"voxsv {args.command}: {err}", file=sys.stderr)
    except OSError as err:  # the file system's answer for a path we could not check beforehand
        print(f"voxsv {args.command}: {err.filename}: {err.strerror}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
