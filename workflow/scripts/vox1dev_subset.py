"""Snakemake entry point of rule vox1dev_subset (rules/features.smk); logic in voxsv.vox1dev."""

import logging

from voxsv.rulelog import rule_log
from voxsv.vox1dev import write_subset

smk = snakemake  # noqa: F821
with rule_log(smk):
    count = write_subset(smk.input.manifest, smk.input.o_trials, smk.output[0])
    logging.info("%d VoxCeleb1-dev cuts", count)
