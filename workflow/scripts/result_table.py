"""Snakemake entry point of rule result_table: EER/minDCF of every trial list of one run."""

from voxsv.results import evaluate_lists, write_result_table
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    scores = {name: smk.input[name] for name in smk.params.trials}
    write_result_table(smk.output[0], evaluate_lists(smk.params.trials, scores))
