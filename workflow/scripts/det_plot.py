"""Snakemake entry point of rule det_plot: the DET figure of one model (a panel per trial list,
colour per scoring method, line style per stage, EER and published EER marked)."""

from voxsv.plots import plot_model_det
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    plot_model_det(list(smk.params.runs), smk.output[0], title=f"{smk.wildcards.alias}: DET curves")
