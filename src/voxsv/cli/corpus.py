"""`voxsv corpus OUTDIR --seed N`: synthesise the embedded mini corpus (no download)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from voxsv.cli.common import add_command
from voxsv.corpus.sizes import PRESETS, CorpusSize
from voxsv.errors import OptionError

DESCRIPTION = """\
Write, deterministically from the seed, a VoxCeleb1-like tree (OUTDIR/voxceleb1/wav) with the
O/E/H trial lists (veri_test2.txt, list_test_all2.txt, list_test_hard2.txt) and vox1_meta.csv,
a VoxCeleb2-dev-like tree (OUTDIR/voxceleb2/dev/aac) of disjoint speakers, a MUSAN-like tree
(OUTDIR/musan/{noise,music,speech}) and an RIRS_NOISES-like tree with Kaldi rir_list files.
All audio is 16 kHz mono 16-bit WAV. --size picks a preset (mini is config/config.yaml's);
each size flag overrides it.
"""


def add_parser(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """Add the `corpus` subcommand."""
    parser = add_command(subparsers, "corpus", summary, DESCRIPTION)
    parser.add_argument("outdir", metavar="OUTDIR", help="corpus root to create")
    parser.add_argument("--seed", type=int, required=True, help="seed of every random choice")
    parser.add_argument("--size", choices=sorted(PRESETS), default="mini", help="size preset")
    sizes = parser.add_argument_group("sizes (override the preset; config keys of `corpus:`)")
    for size in dataclasses.fields(CorpusSize):
        seconds = size.type == "float"
        sizes.add_argument(
            f"--{size.name.replace('_', '-')}",
            type=float if seconds else int,
            default=None,
            metavar="S" if seconds else "N",
            help=f"{size.metadata['help']} (mini: {size.default}{' s' if seconds else ''})",
        )
    parser.set_defaults(func=run)


def size_from_args(args: argparse.Namespace) -> CorpusSize:
    """The preset named by --size with every given size flag applied."""
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(CorpusSize)
        if getattr(args, f.name) is not None
    }
    try:
        return dataclasses.replace(PRESETS[args.size], **overrides)
    except ValueError as err:  # CorpusSize names the size at fault
        raise OptionError(f"--size {args.size} with the size flags given: {err}") from err


def run(args: argparse.Namespace) -> int:
    """Generate the corpus; report where and how long it took."""
    from voxsv.corpus.generate import generate_corpus

    size = size_from_args(args)
    if Path(args.outdir).exists() and not Path(args.outdir).is_dir():
        raise OptionError(f"{args.outdir}: exists and is not a directory")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()
    try:
        generate_corpus(args.outdir, args.seed, size)
    except FileExistsError as err:  # a part of OUTDIR already holds files
        raise OptionError(f"{args.outdir}: {err}") from err
    logging.info("corpus written to %s in %.1f s", args.outdir, time.perf_counter() - start)
    return 0
