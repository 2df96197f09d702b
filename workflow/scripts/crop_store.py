"""Snakemake entry point of rule crop_store (rules/features.smk); logic in voxsv.crop_store."""

import logging

from voxsv.crop_store import write_store
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    count = write_store(smk.input.manifest, smk.output.manifest, smk.output.rows,
                        smk.params.cmn_window)
    logging.info("%d cuts", count)
