"""Snakemake entry point of rule augment_plan (rules/augment.smk); logic in voxsv.augment."""

import logging

from voxsv import augment
from voxsv.featurize import shard_items
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    recordings = augment.recordings_of(
        shard_items(smk.input.recordings, int(smk.wildcards.shard), smk.params.num_shards)
    )
    count = augment.write_plans(
        smk.wildcards.variant,
        recordings,
        augment.source_sets(dict(smk.params.sources)),
        smk.output[0],
        smk.params.seed,
        dict(smk.params.options),
    )
    logging.info("%d %s plans", count, smk.wildcards.variant)
