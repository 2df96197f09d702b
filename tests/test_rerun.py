"""After a finished run of the embedded default, a config edit reruns exactly the jobs whose
outputs it changes: none for a run-only key (enumerated from the schema's `x-output: false`),
the affected jobs for an output key, nothing for the same config with its keys reordered."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from workflow_support import planned_jobs, run_snakemake

from voxsv.configuration import load_schema, output_keys

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "config" / "schema.yaml")
STAGE_LAYOUT = ("gpus", "nodes", "cpu_processes", "batch_per_gpu")  # kept consistent together

pytestmark = pytest.mark.slow


def planned(workdir: Path, config: dict[str, Any], tmp_path: Path) -> dict[str, int]:
    """Jobs per rule that `snakemake -n` plans with `config` as the whole configuration."""
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(workdir, "-n", "--quiet", "rules", "--configfile", str(path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if "Nothing to be done" in result.stdout + result.stderr:
        return {}
    counts = planned_jobs(result.stdout + result.stderr)
    counts.pop("total", None)
    return dict(counts)


def default_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def changed_value(value: Any, schema: dict[str, Any]) -> Any:
    """Another valid value of a run-only key (layout keys are set together, below)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2
    if isinstance(value, str):
        return "cpu" if value != "cpu" else "auto"
    raise AssertionError(f"no change rule for {value!r}")


def layout(merged: dict[str, Any]) -> dict[str, Any]:
    """Another GPU layout of a stage that keeps its global batch: 2 GPUs on each of 2 nodes."""
    return {"gpus": 2, "nodes": 2, "cpu_processes": merged["cpu_processes"] + 1,
            "batch_per_gpu": merged["global_batch"] // 4}


def edit_run_keys(config: dict[str, Any]) -> list[str]:
    """Change every run-only key in the top-level sections and in each alias that sets it."""
    edited = []
    sections = [config] + [
        {k: spec[k] for k in ("train", "scoring") if k in spec}
        for spec in config["models"].values()
    ]
    for path in output_keys(SCHEMA):
        if path[:2] in (("train", "pretrain"), ("train", "lmft")) and path[-1] in STAGE_LAYOUT:
            continue  # set together below
        for section in sections:
            node: Any = section
            for key in path[:-1]:
                node = node.get(key, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict) and path[-1] in node:
                node[path[-1]] = changed_value(node[path[-1]], SCHEMA)
                edited.append(".".join(path))
    for stage in ("pretrain", "lmft"):
        top = config["train"][stage]
        for spec in config["models"].values():
            own = spec.get("train", {}).get(stage)
            if own is not None and set(STAGE_LAYOUT) & set(own):  # an alias with its own layout
                own.update(layout({**top, **own}))
        top.update(layout(top))
        edited += [f"train.{stage}.{key}" for key in STAGE_LAYOUT]
    return sorted(set(edited))


def test_run_only_keys_rerun_nothing(default_run: Path, tmp_path: Path) -> None:
    config = default_config()
    edited = edit_run_keys(config)
    assert len(edited) >= 20  # every x-output: false key of the schema
    assert planned(default_run, config, tmp_path) == {}


def test_reordered_config_reruns_nothing(default_run: Path, tmp_path: Path) -> None:
    reordered = yaml.safe_load(yaml.safe_dump(default_config(), sort_keys=True))
    for spec in reordered["models"].values():
        spec_items = list(spec.items())[::-1]
        spec.clear()
        spec.update(spec_items)
    assert planned(default_run, reordered, tmp_path) == {}


def _top_k(config: dict[str, Any]) -> None:
    config["models"]["tdnn_mini"]["scoring"] = {
        **config["models"]["tdnn_mini"]["scoring"], "top_k": 19}


def _music_snrs(config: dict[str, Any]) -> None:
    config["data"]["augment"]["music"]["snrs"] = [15, 10, 8]


def _one_override(config: dict[str, Any]) -> None:
    config["models"]["res2net_mini"]["train"]["lmft"]["margin"] = 0.3


def _new_alias(config: dict[str, Any]) -> None:
    config["models"]["tdnn_mini2"] = copy.deepcopy(config["models"]["tdnn_mini"])
    config["default_models"].append("tdnn_mini2")


DOWNSTREAM_OF_ONE_STAGE = {"train": 1, "export_onnx": 1, "embed": 2, "cohort": 1,
                           "asnorm_stats": 1, "score": 6, "result_table": 2, "det_plot": 1,
                           "summary": 1, "all": 1}


@pytest.mark.parametrize(("edit", "expected"), [
    (_top_k, {"asnorm_stats": 2, "score": 6, "result_table": 2, "det_plot": 1, "summary": 1,
              "all": 1}),
    (_one_override, DOWNSTREAM_OF_ONE_STAGE),
    (_music_snrs, {"augment_plan": 2, "fbank": 2, "crop_store": 2, "train": 4, "export_onnx": 4,
                   "embed": 8, "cohort": 4, "asnorm_stats": 4, "score": 24, "result_table": 8,
                   "det_plot": 2, "summary": 1, "all": 1}),
    (_new_alias, {"train": 2, "export_onnx": 2, "embed": 4, "cohort": 2, "asnorm_stats": 2,
                  "score": 12, "result_table": 4, "det_plot": 1, "summary": 1, "all": 1}),
])
def test_output_keys_rerun_exactly_what_they_change(
    default_run: Path, tmp_path: Path, edit: Callable[[dict], None], expected: dict[str, int]
) -> None:
    config = default_config()
    edit(config)
    assert planned(default_run, config, tmp_path) == expected
