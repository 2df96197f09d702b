# voxsv: the VoxSRC-2020 speaker-verification recipe as a Snakemake workflow.
# Loads and validates the configuration, includes one rule file per stage, and defines the
# default target. Run `snakemake --cores 2` for the embedded default (see README.md).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/corpus.smk"


rule all:
    input:
        default_targets(),
    default_target: True
