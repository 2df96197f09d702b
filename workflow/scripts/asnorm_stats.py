"""Snakemake entry point of rule asnorm_stats: per evaluation utterance, the mean and std of its
top-k scores against the method's cohort, shared by every trial list."""

import logging

from voxsv.rulelog import rule_log
from voxsv.scoring import merge_embeddings, save_stats, utterance_stats
from voxsv.scoring_methods import EMBEDDINGS, get_method, load_cohort

smk = snakemake  # noqa: F821
with rule_log(smk):
    method = get_method(smk.wildcards.scoring)
    ids, embeddings = merge_embeddings(list(smk.input[EMBEDDINGS]))
    cohort = load_cohort(method.cohort, smk.input[method.cohort])
    save_stats(smk.output[0], utterance_stats(ids, embeddings, cohort, smk.params.top_k))
    logging.info("%s: statistics of %d utterances against %d cohort vectors",
                 method.name, len(ids), len(cohort))
