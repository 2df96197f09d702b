"""Snakemake entry point of rule score: cosine or AS-norm scores of one trial list (AS-norm from
the method's stored cohort statistics)."""

import logging

from voxsv.rulelog import rule_log
from voxsv.score_files import write_scores
from voxsv.scoring import load_stats, merge_embeddings, score_trials
from voxsv.scoring_methods import COHORT_STATS, EMBEDDINGS
from voxsv.trials import read_trials

smk = snakemake  # noqa: F821
with rule_log(smk):
    trials = read_trials(smk.input.trials)
    ids, embeddings = merge_embeddings(list(smk.input[EMBEDDINGS]))
    stats = load_stats(smk.input[COHORT_STATS]) if COHORT_STATS in smk.input.keys() else None
    write_scores(smk.output[0], trials, score_trials(trials, ids, embeddings, stats=stats))
    logging.info("%d trials scored (%s)", len(trials), smk.wildcards.scoring)
