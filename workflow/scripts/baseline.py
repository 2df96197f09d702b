"""Snakemake entry point of rule baseline: EER/minDCF of the mean-FBANK cosine baseline on every
evaluated trial list, from the stored clean VoxCeleb1 FBANK."""

import logging

from voxsv.baseline import baseline_metrics
from voxsv.results import write_result_table
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    metrics = baseline_metrics(smk.params.trials, smk.input.features, smk.params.corpus_root)
    write_result_table(smk.output[0], metrics)
    for name, m in metrics.items():
        logging.info("%s: EER %.4f %%, minDCF %.4f (%d trials)", name, m.eer_pct, m.min_dcf,
                     m.n_trials)
