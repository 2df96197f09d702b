"""Snakemake entry point of rule fbank (rules/features.smk); logic in voxsv.featurize."""

import logging

import torch

from voxsv import featurize
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    torch.set_num_threads(1)  # one job per core: FBANK of one utterance gains nothing from threads
    skipped = featurize.featurize_shard(
        recordings=smk.input.recordings,
        supervisions=smk.input.supervisions,
        manifest=smk.output.manifest,
        archive=smk.output.archive,
        index=int(smk.wildcards.shard),
        num_shards=smk.params.num_shards,
        options=featurize.options_from_config(smk.params.options),
        copy=smk.wildcards.variant,
        plans=getattr(smk.input, "plans", None) or None,
    )
    logging.info("done; %d file(s) skipped", len(skipped))
