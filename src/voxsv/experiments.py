"""Experiments: each model alias of the config resolved into what it trains and evaluates.

An experiment is an extractor (`model`), a training set (VoxCeleb2 dev or VoxCeleb1 dev), mel
bins, its stages (pre-training, optionally LMFT), the trial lists it is evaluated on, and the
top-level `train` / `scoring` sections with the alias's own keys deep-merged over them. The rules
read experiments through this module (rules/common.smk holds only thin wrappers).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxsv.configuration import describe, stage_errors, without_run_keys
from voxsv.results import TRIAL_LISTS
from voxsv.scoring_methods import get_method

TRAIN_STAGES = ("pretrain", "lmft")
TRAIN_SETS = {"vox2_dev": "vox2dev", "vox1_dev": "vox1dev"}  # training set -> feature corpus
VOX1_DEV_TRIALS = ("O",)  # the E and H lists contain VoxCeleb1-dev speakers
ZOO_FAMILIES = ("tdnn", "res2net", "dpn")
# The published model name of a head that the original's VoxSRC-2020 runs used (tables 1-2).
PUBLISHED_SUFFIX = {"cm_voxsrc2020": "_voxsrc2020"}


@dataclass(frozen=True)
class Experiment:
    """One alias of `models`, with its merged settings."""

    alias: str
    model: dict[str, Any]
    train_set: str
    num_mel_bins: int
    stages: tuple[str, ...]
    trials: tuple[str, ...]
    train: dict[str, Any]
    scoring: dict[str, Any]

    def stage(self, name: str) -> dict[str, Any]:
        """One stage's settings; a stage the experiment does not run is an error naming it."""
        if name not in self.stages:
            raise ValueError(
                f"exp/{self.alias}/{name}: experiment {self.alias!r} has no {name} stage "
                f"(models.{self.alias}.stages is {list(self.stages)})"
            )
        return self.train[name]

    @property
    def feature_corpus(self) -> str:
        """The FBANK corpus its training archives come from (vox2dev or vox1dev)."""
        return TRAIN_SETS[self.train_set]

    @property
    def published_model(self) -> str | None:
        """The model name of reference_results.tsv this experiment reproduces, if any."""
        arch = self.model["arch"]
        if arch in ZOO_FAMILIES and (arch != "tdnn" or len(self.model) > 1):
            return None  # a custom family member has no published row
        return arch + PUBLISHED_SUFFIX.get(self.train["head"]["type"], "")

    @property
    def published_train_data(self) -> str:
        """reference_results.tsv's `train_data` of this experiment."""
        augmented = set(self.train["pretrain"]["copies"]) - {"clean"}
        return f"{self.train_set}_{'aug' if augmented else 'clean'}"


def resolve(config: Mapping[str, Any]) -> dict[str, Experiment]:
    """Every configured experiment by alias (the config must be loaded: defaults filled)."""
    return {alias: _experiment(config, alias, spec) for alias, spec in config["models"].items()}


def experiment_errors(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Problems of the experiments: merged settings, trial lists, stages, default_models."""
    import jsonschema

    errors = []
    train_schema = {**schema["properties"]["train"], "$defs": schema["$defs"]}
    validator = jsonschema.Draft202012Validator(train_schema)
    for alias, spec in config["models"].items():
        errors += _alias_errors(config, validator, alias, spec)
    for alias in config["default_models"]:
        if alias not in config["models"]:
            errors.append(f"config default_models: {alias!r} is not an alias of models "
                          f"({', '.join(config['models'])})")
    return sorted(set(errors))


def _alias_errors(config: Mapping[str, Any], validator: Any, alias: str,
                  spec: Mapping[str, Any]) -> list[str]:
    """Problems of one experiment: its merged train section, scoring keys, trials, stages."""
    where = f"models.{alias}"
    merged = deep_merge(config["train"], spec.get("train", {}))
    train_errors = [describe(e, f"{where}.train.") for e in validator.iter_errors(merged)]
    errors = [*train_errors, *_scoring_errors(config, alias, spec),
              *_trial_errors(config, alias, spec)]
    if spec["stages"][0] != "pretrain":
        errors.append(f"config {where}.stages: must begin with pretrain, got {spec['stages']}")
    if not train_errors:  # schedule and batch rules need a well-formed section
        for stage in spec["stages"]:
            source = f"{where}.train" if stage in spec.get("train", {}) else "train"
            errors += stage_errors(merged[stage], f"{source}.{stage}")
    return errors


def _scoring_errors(config: Mapping[str, Any], alias: str, spec: Mapping[str, Any]) -> list[str]:
    """Unknown scoring keys, and a top_k above the generated corpus's cohort (built models;
    other aliases clamp it with a warning)."""
    where = f"models.{alias}.scoring"
    own = spec.get("scoring", {})
    unknown = set(own) - set(config["scoring"])
    if unknown:
        return [f"config {where}: unknown key(s) {sorted(unknown)}"]
    scoring = deep_merge(config["scoring"], own)
    cohort = config["corpus"].get("vox2_speakers") if config["corpus"]["generate"] else None
    built = alias in config["default_models"]
    normalised = any(get_method(m).normalised for m in scoring["methods"])
    if built and cohort and normalised and scoring["top_k"] > cohort:
        source = where if "top_k" in own else "scoring"
        return [f"config {source}.top_k: {scoring['top_k']} is above the cohort size "
                f"(corpus.vox2_speakers: {cohort})"]
    return []


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override`'s keys merged in, recursively for mappings."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def train_params(config: Mapping[str, Any], schema: Mapping[str, Any], exp: Experiment,
                 stage: str) -> dict[str, Any]:
    """What a training stage's result depends on (the rule's params): never resources,
    workers, logging, devices or the batch layout, and keys in a stable order."""
    train = without_run_keys(exp.train, schema["properties"]["train"], schema)
    shared = {k: v for k, v in train.items() if k not in TRAIN_STAGES}
    data = config["data"]
    return {
        "model": stable(exp.model),
        "train_set": exp.train_set,
        "num_mel_bins": exp.num_mel_bins,
        "cmn_window": data["cmn_window"],
        "train": {**shared, stage: train[stage]},
        "data": data_params(config, exp, train[stage]["copies"]),
    }


def data_params(config: Mapping[str, Any], exp: Experiment, copies: list[str]) -> dict[str, Any]:
    """The data settings behind a stage's archives (a changed one invalidates checkpoints)."""
    data = config["data"]
    shards = "num_shards" if exp.train_set == "vox2_dev" else "eval_shards"
    return {
        **{k: data[k] for k in ("seed", "dither", "on_bad_audio", shards)},
        "augment": {c: stable(data["augment"][c]) for c in sorted(copies) if c != "clean"},
    }


def run_settings(config: Mapping[str, Any], exp: Experiment, stage: str, archives: list[str],
                 init: str | None, run_dir: str, out: str) -> dict[str, Any]:
    """The JSON settings of `python -m voxsv.train` (voxsv.train.settings.RunSettings)."""
    exp.stage(stage)
    return {
        "alias": exp.alias,
        "stage": stage,
        "model": exp.model,
        "num_mel_bins": exp.num_mel_bins,
        "cmn_window": config["data"]["cmn_window"],
        "dither": config["data"]["dither"],
        "train": exp.train,
        "archives": [path for path in archives if path.endswith(".jsonl.gz")],
        "init": init,
        "run_dir": run_dir,
        "out": out,
    }


def _experiment(config: Mapping[str, Any], alias: str, spec: Mapping[str, Any]) -> Experiment:
    trials = spec.get("trials") or _default_trials(config, spec["train_set"])
    return Experiment(
        alias=alias,
        model=dict(spec["model"]),
        train_set=spec["train_set"],
        num_mel_bins=spec["num_mel_bins"],
        stages=tuple(s for s in TRAIN_STAGES if s in spec["stages"]),
        trials=tuple(t for t in TRIAL_LISTS if t in config["trials"] and t in trials),
        train=deep_merge(config["train"], spec.get("train", {})),
        scoring=deep_merge(config["scoring"], spec.get("scoring", {})),
    )


def _default_trials(config: Mapping[str, Any], train_set: str) -> list[str]:
    return list(VOX1_DEV_TRIALS) if train_set == "vox1_dev" else list(config["trials"])


def _trial_errors(config: Mapping[str, Any], alias: str, spec: Mapping[str, Any]) -> list[str]:
    errors = []
    where = f"config models.{alias}.trials"
    for name in spec.get("trials", ()):
        if name not in config["trials"]:
            errors.append(f"{where}: {name!r} is not a configured trial list "
                          f"({', '.join(config['trials'])})")
        elif spec["train_set"] == "vox1_dev" and name not in VOX1_DEV_TRIALS:
            errors.append(f"{where}: {name} contains VoxCeleb1-dev speakers, which a vox1_dev "
                          f"model trains on; evaluate it on {', '.join(VOX1_DEV_TRIALS)} only")
    if spec["train_set"] == "vox1_dev" and not set(VOX1_DEV_TRIALS) & set(config["trials"]):
        errors.append(f"{where}: a vox1_dev model is evaluated on O, but trials has no O list")
    return errors


def stable(value: Any) -> Any:
    """Mappings with sorted keys, recursively: a rule param that compares equal whatever the
    order of the keys in the YAML files (snakemake compares params as given)."""
    if isinstance(value, Mapping):
        return {k: stable(value[k]) for k in sorted(value)}
    return value
