"""The `voxsv` command: one subcommand per user-facing task, each defined beside its logic.

Each entry of COMMANDS names a module that provides `add_parser(subparsers)`; that function adds
its subparser and sets `func` (called with the parsed arguments, returning an exit code).
Modules are imported only when their command runs, so `voxsv --version` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from voxsv import __version__

COMMANDS: dict[str, str] = {
    "eer": "voxsv.metrics",
    "score": "voxsv.scoring",
    "embed": "voxsv.embed",
    "verify": "voxsv.verify",
    "corpus": "voxsv.corpus.cli",
    "params": "voxsv.models.params",
    "fbank": "voxsv.features_cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser; with `command`, import and add only that subcommand."""
    parser = argparse.ArgumentParser(prog="voxsv", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"voxsv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if name == command:
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=f"see `voxsv {name} --help`")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
