"""Snakemake entry point of rule summary: every result table beside the published figures and
the mean-FBANK baseline."""

from pathlib import Path

from voxsv.results import ResultSource, read_result_table, write_summary
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    sources = [ResultSource(**{**s, "path": Path(s["path"])}) for s in smk.params.sources]
    baseline = read_result_table(smk.input.baseline)
    write_summary(sources, baseline, smk.output.tsv, smk.output.md)
