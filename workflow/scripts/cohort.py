"""Snakemake entry point of rule cohort: per-speaker means of the cohort's normalised embeddings."""

from voxsv.scoring import write_cohort

smk = snakemake  # noqa: F821
write_cohort(list(smk.input), smk.output[0])
