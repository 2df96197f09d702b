"""Snakemake entry point of rule generate_corpus (rules/corpus.smk); logic in voxsv.corpus."""

import dataclasses

from voxsv.corpus.generate import generate_corpus
from voxsv.corpus.sizes import PRESETS
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    size = dataclasses.replace(PRESETS["mini"], **smk.params.sizes)
    generate_corpus(smk.params.root, smk.params.seed, size)
