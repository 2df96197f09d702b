# Helpers shared by every rule file: config validation and target lists.
# Only this file defines Python helpers; the stage files declare rules.

from pathlib import Path

from snakemake.utils import validate


validate(config, schema="../config/schema.yaml")

ENV = "../envs/voxsv.yaml"


def default_targets():
    """Every final output of the configured recipe (extended stage by stage)."""
    targets = [config["trials"][name] for name in config["trials"]]
    return targets
