# voxsv: the VoxSRC-2020 speaker-verification recipe as a Snakemake workflow.
# Loads and validates the configuration, includes one rule file per stage, and defines the
# default target. Run `snakemake --cores 2` for the embedded default (see README.md).

import re
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# config/config.yaml always applies; files given with --configfile (e.g. config/voxceleb.yaml,
# the switch to the real corpora) and --config values are merged over it.
configfile: Path(workflow.basedir) / "config" / "config.yaml"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/augment.smk"
include: "rules/features.smk"
include: "rules/train.smk"
include: "rules/export.smk"
include: "rules/evaluate.smk"


wildcard_constraints:
    alias="|".join(map(re.escape, EXPERIMENTS)),
    stage="|".join(TRAIN_STAGES),
    scoring="|".join(SCORINGS),
    trials="|".join(map(re.escape, config["trials"])),
    part="vox1|cohort",
    shard=r"\d+",
    bins="|".join(map(str, BINS)),
    corpus="|".join(artifacts.FEATURE_CORPORA),
    variant="clean|reverb|noise|music|babble",


rule all:
    input:
        default_targets(),
    default_target: True
