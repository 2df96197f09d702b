# voxsv: the VoxSRC-2020 speaker-verification recipe as a Snakemake workflow.
# Loads and validates the configuration, includes one rule file per stage, and defines the
# default target. Run `snakemake --cores 2` for the embedded default (see README.md).

from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded default applies unless the user names config files; theirs replace it whole
# (snakemake would otherwise merge the default's demo models into the full recipe).
if not workflow.config_settings.configfiles:

    configfile: Path(workflow.basedir) / "config" / "config.yaml"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/augment.smk"
include: "rules/features.smk"
include: "rules/train.smk"
include: "rules/export.smk"
include: "rules/evaluate.smk"


wildcard_constraints:
    alias="|".join(map(re.escape, config["models"])) or "(?!)",
    stage="|".join(TRAIN_STAGES),
    scoring="|".join(SCORINGS),
    trials="|".join(map(re.escape, config["trials"])),
    part="vox1|cohort",
    shard=r"\d+",


rule all:
    input:
        default_targets(),
    default_target: True
