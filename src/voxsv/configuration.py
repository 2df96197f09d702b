"""Loading the workflow configuration: `--config` strings to schema types, one short message per
problem (key path and allowed values), cross-field rules, missing corpus paths, and `auto` values.

Snakemake's `validate` is still what fills the schema's defaults (see `load`); it runs after this
module's own pass, which exists because jsonschema's raw errors dump the whole schema and config
(about 1,000 lines) and say only "not valid under any of the given schemas" inside a model entry.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# `auto` shard counts: the embedded corpus is small; the real VoxCeleb2-dev gets ~4,300
# utterances per shard and VoxCeleb1 ~4,800.
AUTO_SHARDS = {"num_shards": {True: 2, False: 256}, "eval_shards": {True: 1, False: 32}}
TYPES = {"integer": int, "number": (int, float), "boolean": bool, "null": type(None),
         "string": str, "array": list, "object": dict}


BOUNDS = {"minimum": "is below the minimum", "maximum": "is above the maximum",
          "exclusiveMinimum": "must be above", "exclusiveMaximum": "must be below",
          "minItems": "has fewer items than", "maxItems": "has more items than",
          "minProperties": "has fewer keys than", "pattern": "does not match",
          "uniqueItems": "has repeated items:", "const": "must be"}


class ConfigError(ValueError):
    """A configuration problem; the message has one line per problem, each naming its key."""


def load_schema(path: str | os.PathLike) -> dict[str, Any]:
    """The workflow's JSON schema (config/schema.yaml)."""
    return yaml.safe_load(Path(path).read_text())


def coerce(config: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """`config` with strings turned into the schema's non-string types where they parse as one.

    Snakemake hands nested `--config` values over as strings (`scoring={top_k: 300}` arrives
    with '300'); a string that YAML reads as a value of an allowed type becomes that value.
    """
    root = schema if root is None else root
    schema = _deref(schema, root)
    if isinstance(config, dict):
        return {k: coerce(v, _child(schema, k, config, root), root) for k, v in config.items()}
    if isinstance(config, list):
        return [coerce(v, schema.get("items", {}), root) for v in config]
    if isinstance(config, str):
        allowed = [t for t in _types(schema) if t != "string"]
        if allowed:
            try:
                value = yaml.safe_load(config)
            except yaml.YAMLError:
                return config
            if any(_is_type(value, t) for t in allowed):
                return value
    return config


def schema_errors(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """One line per schema violation: `config <key path>: <what is wrong>`."""
    validator = jsonschema.Draft202012Validator(schema)
    return sorted({describe(e) for e in _leaves(validator.iter_errors(config))})


def load(config: Mapping[str, Any], schema_path: str | os.PathLike) -> dict[str, Any]:
    """The checked configuration: coerced, validated, defaults filled, `auto` resolved.

    Raises ConfigError listing every problem found (schema, cross-field rules, experiments,
    missing corpus paths) before any job runs.
    """
    from snakemake.utils import validate

    from voxsv.experiments import experiment_errors

    schema = load_schema(schema_path)
    config = coerce(copy.deepcopy(dict(config)), schema)
    errors = schema_errors(config, schema)
    if errors:
        raise ConfigError(_report(errors))
    validate(config, schema=str(schema_path), set_default=True)
    config["trials"] = {name: path for name, path in config["trials"].items() if path}
    resolve_auto(config)
    errors = cross_field_errors(config) + experiment_errors(config, schema) + missing_paths(config)
    if errors:
        raise ConfigError(_report(errors))
    return config


def resolve_auto(config: dict[str, Any]) -> None:
    """Replace `auto` shard counts by the size for the embedded or the real corpus."""
    generated = bool(config["corpus"]["generate"])
    for key, sizes in AUTO_SHARDS.items():
        if config["data"][key] == "auto":
            config["data"][key] = sizes[generated]


def cross_field_errors(config: Mapping[str, Any]) -> list[str]:
    """Rules between keys that a JSON schema cannot say (min <= max and the like)."""
    errors = []
    corpus = config["corpus"]
    for low, high in (("min_seconds", "max_seconds"), ("musan_min_seconds", "musan_max_seconds"),
                      ("vox1_test_speakers", "vox1_speakers")):
        if low in corpus and high in corpus and corpus[low] > corpus[high]:
            errors.append(f"config corpus.{low}: {corpus[low]} is above corpus.{high} "
                          f"({corpus[high]})")
    if corpus["generate"]:
        errors += _generated_path_errors(config)
    return errors


def stage_errors(stage: Mapping[str, Any], where: str) -> list[str]:
    """Schedule order (warm-up <= margin ramp <= epochs) and the batch layout of one stage."""
    errors = []
    warmup, full, epochs = stage["warmup_epochs"], stage["margin_full_epoch"], stage["epochs"]
    constant = stage["constant_until_epoch"]
    if warmup > epochs:
        errors.append(f"config {where}.warmup_epochs: {warmup} is above epochs ({epochs})")
    else:
        if full and not warmup <= full <= epochs:
            errors.append(f"config {where}.margin_full_epoch: {full} must lie between "
                          f"warmup_epochs ({warmup}) and epochs ({epochs})")
        if constant is not None and not warmup <= constant <= epochs:
            errors.append(f"config {where}.constant_until_epoch: {constant} must lie between "
                          f"warmup_epochs ({warmup}) and epochs ({epochs})")
    per_step = stage["batch_per_gpu"] * processes(stage)
    if stage["global_batch"] % per_step:
        errors.append(
            f"config {where}.global_batch: {stage['global_batch']} is not a multiple of "
            f"batch_per_gpu x processes = {stage['batch_per_gpu']} x {processes(stage)}"
        )
    return errors


def processes(stage: Mapping[str, Any]) -> int:
    """Training processes of a stage: GPUs of all its nodes, or its CPU processes."""
    return processes_per_node(stage) * (stage.get("nodes", 1) if stage["gpus"] > 0 else 1)


def processes_per_node(stage: Mapping[str, Any]) -> int:
    """Training processes on each node: its GPUs, or its CPU processes when it has none."""
    return stage["gpus"] if stage["gpus"] > 0 else stage["cpu_processes"]


def missing_paths(config: Mapping[str, Any]) -> list[str]:
    """Every corpus root and trial list that does not exist (real corpora only), at once."""
    if config["corpus"]["generate"]:
        return []
    named = [(f"paths.{k}", v) for k, v in config["paths"].items()]
    named += [(f"trials.{k}", v) for k, v in config["trials"].items()]
    return [f"config {key}: {path} does not exist" for key, path in named
            if not Path(path).exists()]


def output_keys(schema: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """Key paths that the schema marks `x-output: false` (they never change an output)."""
    yield from _marked(schema, schema, ())


def without_run_keys(section: Mapping[str, Any], schema: Mapping[str, Any],
                     root: Mapping[str, Any]) -> dict[str, Any]:
    """A config section without its `x-output: false` keys, keys sorted (a stable rule param)."""
    schema = _deref(schema, root)
    out = {}
    for key in sorted(section):
        sub = _deref(_child(schema, key, section, root), root)
        if sub.get("x-output") is False:
            continue
        value = section[key]
        if isinstance(value, dict):
            value = without_run_keys(value, sub, root)
            if not value and section[key]:
                continue  # every key of it is run-only (e.g. resources)
        out[key] = value
    return out


def _generated_path_errors(config: Mapping[str, Any]) -> list[str]:
    """With `corpus.generate`, `paths` and `trials` must name the generated corpus's files."""
    from voxsv.corpus.layout import generated_paths

    errors = []
    root = config["corpus"]["root"]
    for (section, key), path in generated_paths(root).items():
        given = config[section].get(key)
        if given is not None and Path(given) != Path(path):
            errors.append(
                f"config {section}.{key}: {given!r}, but corpus.generate writes {path!r} "
                f"(corpus.root is {root!r}): set it to that or corpus.generate: false"
            )
    return errors


def _report(errors: list[str]) -> str:
    """The message of a ConfigError: a count line, then one problem per line."""
    return f"{len(errors)} configuration problem(s):\n" + "\n".join(errors)


def _leaves(errors: Iterator[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    """The most specific errors: inside `if/then` and `allOf`, the branch's own errors."""
    for error in errors:
        if error.context:
            yield from _leaves(iter(error.context))
        else:
            yield error


def describe(error: jsonschema.ValidationError, prefix: str = "") -> str:
    """`config <prefix><path>: <message>` without the schema or a long instance dump."""
    path = prefix + ".".join(str(p) for p in error.absolute_path) or "(top level)"
    kind, value = error.validator, error.validator_value
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"config {path}: unknown key(s) {', '.join(map(repr, extra))}{hint}"
    if kind == "enum":
        return f"config {path}: {_short(error.instance)} is not one of {value}"
    if kind == "type":
        return f"config {path}: {_short(error.instance)} is not of type {value}"
    if kind == "required":
        return f"config {path}: {error.message.split(' is a ')[0]} is required"
    if kind == "propertyNames":
        return f"config {path}: key {_short(error.instance)} is not allowed"
    if kind in BOUNDS:
        shown = repr(value) if isinstance(value, str) else value
        return f"config {path}: {_short(error.instance)} {BOUNDS[kind]} {shown}"
    return f"config {path}: {_short(error.instance)} does not satisfy {kind} {_short(value)}"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _deref(schema: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    """A subschema with its local `$ref` followed."""
    if not isinstance(schema, dict):
        return {}
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _child(schema: Mapping[str, Any], key: str, instance: Mapping[str, Any],
           root: Mapping[str, Any]) -> dict[str, Any]:
    """The subschema of `key`: its property, the additionalProperties schema, or an `if/then`
    branch whose condition the instance meets."""
    schema = _deref(schema, root)
    if key in schema.get("properties", {}):
        sub = _deref(schema["properties"][key], root)
        if "x-merged-over" in sub:  # a partial section: typed like the section it overrides
            return _deref({"$ref": sub["x-merged-over"]}, root)
        return sub
    for branch in schema.get("allOf", ()):
        then = branch.get("then", {})
        if key in then.get("properties", {}) and jsonschema.Draft202012Validator(
            branch.get("if", {})
        ).is_valid(instance):
            return _deref(then["properties"][key], root)
    extra = schema.get("additionalProperties")
    return _deref(extra, root) if isinstance(extra, dict) else {}


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None and "enum" in schema:
        return sorted({_type_name(v) for v in schema["enum"]})
    return [kind] if isinstance(kind, str) else list(kind or ())


def _type_name(value: Any) -> str:
    return next(name for name, t in TYPES.items() if _is_type(value, name))


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, TYPES[name])


def _marked(schema: Mapping[str, Any], root: Mapping[str, Any],
            prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    schema = _deref(schema, root)
    if schema.get("x-output") is False:
        yield prefix
        return
    for key, sub in schema.get("properties", {}).items():
        yield from _marked(sub, root, (*prefix, key))
