"""`voxsv eer`: EER and minDCF of a score file against its trial list."""

from __future__ import annotations

import argparse

from voxsv.cli.common import add_command
from voxsv.errors import InputError, OptionError

DESCRIPTION = """\
Print EER (%) and normalised minDCF with their thresholds (SPEC section 5: a trial is accepted
when its score is >= the threshold, one operating point per distinct score) of the score file
S (`<enroll> <test> <score>` lines, any order) against the trial list T (`<0|1> <enroll>
<test>`), as `key<TAB>value` lines. Every trial needs exactly one score.
"""


def add_parser(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """Add the `eer` subcommand."""
    parser = add_command(subparsers, "eer", summary, DESCRIPTION)
    parser.add_argument("--trials", required=True, metavar="T", help="trial list")
    parser.add_argument("--scores", required=True, metavar="S", help="score file")
    parser.add_argument(
        "--p-target", type=float, default=0.01, metavar="P", help="target prior of minDCF"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the metrics of args.scores against args.trials."""
    if not 0.0 < args.p_target < 1.0:
        raise OptionError(f"--p-target: {args.p_target} is not in (0, 1)")
    from voxsv.metrics import evaluate, format_metrics
    from voxsv.score_files import labelled_scores

    labels, scores = labelled_scores(args.trials, args.scores)
    try:
        metrics = evaluate(scores, labels, args.p_target)
    except ValueError as err:  # NaN scores, or a list without targets or non-targets
        raise InputError(f"{args.scores}: {err}") from err
    print(format_metrics(metrics), end="")
    return 0
