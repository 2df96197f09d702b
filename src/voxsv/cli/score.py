"""`voxsv score`: cosine (or AS-norm: --cohort, --head-cohort or --stats) scores of a trial
list from embeddings."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import TYPE_CHECKING

from voxsv.cli.common import add_command, at_least, output_file
from voxsv.errors import InputError, OptionError

if TYPE_CHECKING:
    import numpy as np

DESCRIPTION = """\
Write `<enroll> <test> <score>` for every trial of T (`<0|1> <enroll> <test>`) to OUT, from the
embeddings stores E (.npz with `ids` and `embeddings`, e.g. `voxsv embed --out`; several shards
are joined; ids match the trial paths with or without their audio suffix): the cosine score,
or the AS-norm score over the top-k cohort scores of each side, with the cohort from --cohort
(per-speaker mean embeddings), from --head-cohort (a model.pt's classifier weight vectors), or
from --stats (the cohort statistics the workflow stores per model and stage). Embeddings must be
finite and non-zero, of one dimension in every file.
"""
TOP_K = 400


def add_parser(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """Add the `score` subcommand."""
    parser = add_command(subparsers, "score", summary, DESCRIPTION)
    parser.add_argument("--trials", required=True, metavar="T", help="trial list")
    parser.add_argument(
        "--embeddings", required=True, nargs="+", metavar="E", help="embeddings .npz (shards)"
    )
    norm = parser.add_mutually_exclusive_group()
    norm.add_argument("--cohort", metavar="C", help="cohort .npz of speaker means: AS-norm")
    norm.add_argument("--head-cohort", metavar="MODEL",
                      help="model.pt whose classifier weight vectors are the AS-norm cohort")
    norm.add_argument("--stats", metavar="S", help="stored AS-norm cohort statistics .npz")
    parser.add_argument(
        "--top-k", type=int, metavar="K",
        help=f"AS-norm: top cohort scores per side (with a cohort; {TOP_K} when not given)",
    )  # fmt: skip
    parser.add_argument("--out", required=True, metavar="OUT", help="score file to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score args.trials and write args.out."""
    if args.top_k is not None and args.cohort is None and args.head_cohort is None:
        raise OptionError(
            "--top-k: only AS-norm against a cohort uses it (--cohort or --head-cohort)"
        )
    top_k = TOP_K if args.top_k is None else args.top_k
    at_least("--top-k", top_k, 1)
    out = output_file(args.out)
    from voxsv.score_files import write_scores
    from voxsv.scoring import (
        MissingEmbeddingError,
        StatsJob,
        load_stats,
        merge_embeddings,
        score_trials,
    )
    from voxsv.trials import read_trials

    with ExitStack() as stack:
        with ThreadPoolExecutor(1) as pool:  # the trial list parsed while the arrays load
            pending = pool.submit(read_trials, args.trials)
            try:
                ids, embeddings = merge_embeddings(args.embeddings)
                cohort = _cohort(args, embeddings.shape[1])
                stats = load_stats(args.stats) if args.stats else None
                if cohort is not None:  # started on the free core before the trials are read
                    stats = stack.enter_context(StatsJob(embeddings, cohort, top_k))
            finally:
                trials = pending.result()  # a bad trial list is reported first, as before
        try:
            scores = score_trials(trials, ids, embeddings, stats=stats)
        except MissingEmbeddingError as err:
            raise InputError(f"{args.trials}: {err} in {' '.join(args.embeddings)}") from err
        except ValueError as err:  # two ids of the same utterance (a.wav and a.flac)
            raise InputError(f"{' '.join(args.embeddings)}: {err}") from err
    write_scores(out, trials, scores)
    return 0


def _cohort(args: argparse.Namespace, dim: int) -> np.ndarray | None:
    """The AS-norm cohort of --cohort or --head-cohort (None without), checked against `dim`."""
    from voxsv.scoring_methods import COHORT_EMBEDDINGS, HEAD_WEIGHTS, load_cohort

    source = args.cohort or args.head_cohort
    if source is None:
        return None
    cohort = load_cohort(COHORT_EMBEDDINGS if args.cohort else HEAD_WEIGHTS, source)
    if cohort.shape[1] != dim:
        raise InputError(
            f"{source}: cohort of dimension {cohort.shape[1]}, but {args.embeddings[0]} has "
            f"dimension {dim}"
        )
    return cohort
