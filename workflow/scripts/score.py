"""Snakemake entry point of rule score: cosine or AS-norm scores of one trial list."""

import logging

from voxsv.rulelog import rule_log
from voxsv.scoring import load_embeddings, merge_embeddings, score_trials, write_scores
from voxsv.trials import read_trials

smk = snakemake  # noqa: F821
with rule_log(smk):
    trials = read_trials(smk.input.trials)
    ids, embeddings = merge_embeddings(list(smk.input.embeddings))
    cohort = load_embeddings(smk.input.cohort)[1] if "cohort" in smk.input.keys() else None
    scores = score_trials(trials, ids, embeddings, cohort, smk.params.top_k)
    write_scores(smk.output[0], trials, scores)
    logging.info("%d trials scored (%s)", len(trials), smk.wildcards.scoring)
