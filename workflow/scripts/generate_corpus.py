"""Snakemake entry point of rule generate_corpus (rules/corpus.smk); logic in voxsv.corpus."""

import dataclasses
import logging

from voxsv.corpus.generate import generate_corpus
from voxsv.corpus.sizes import PRESETS

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True)  # noqa: F821
smk = snakemake  # noqa: F821
size = dataclasses.replace(PRESETS["mini"], **smk.params.sizes)
generate_corpus(smk.params.root, smk.params.seed, size)
