"""Snakemake entry point of rule summary: every result table beside the published figures."""

from pathlib import Path

from voxsv.results import ResultSource, write_summary
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    sources = [ResultSource(**{**s, "path": Path(s["path"])}) for s in smk.params.sources]
    write_summary(sources, smk.output.tsv, smk.output.md)
