"""Snakemake entry point of rule cohort: per-speaker means of the cohort's normalised embeddings."""

from voxsv.rulelog import rule_log
from voxsv.scoring import write_cohort

smk = snakemake  # noqa: F821
with rule_log(smk):
    write_cohort(list(smk.input), smk.output[0])
