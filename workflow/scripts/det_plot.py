"""Snakemake entry point of rule det_plot: one DET plot of every run of a model."""

from voxsv.plots import plot_model_det
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    plot_model_det(smk.params.runs, smk.output[0], title=f"{smk.wildcards.alias}: DET curves")
