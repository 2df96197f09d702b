"""Configuration: `--config` values typed by the schema, one short message per problem naming its
key, cross-field rules, missing paths, unknown targets, and nothing run or written on an error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from voxsv.configuration import ConfigError, coerce, load, load_schema

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    """Plan the default target from `workdir` with the repo's Snakefile; nothing is run."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def problems(result: subprocess.CompletedProcess) -> list[str]:
    """The `config ...` lines of a failed run's output."""
    text = result.stdout + result.stderr
    return [line for line in text.splitlines() if line.startswith("config ")]


def test_default_config_plans(tmp_path: Path) -> None:
    result = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "generate_corpus" in result.stdout


def test_config_strings_become_schema_types() -> None:
    schema = load_schema(SCHEMA)
    given = {"scoring": {"top_k": "300", "device": "300"}, "train": {"retries": "5"},
             "models": {"m": {"train": {"pretrain": {"margin": "0.3"}}, "num_mel_bins": "40"}},
             "corpus": {"generate": "false", "root": "123"}}
    got = coerce(given, schema)
    assert got["scoring"] == {"top_k": 300, "device": "300"}  # device is a string in the schema
    assert got["train"]["retries"] == 5
    assert got["models"]["m"] == {"train": {"pretrain": {"margin": 0.3}}, "num_mel_bins": 40}
    assert got["corpus"] == {"generate": False, "root": "123"}
    assert coerce({"scoring": {"top_k": "many"}}, schema) == {"scoring": {"top_k": "many"}}


@pytest.mark.parametrize("override", ["scoring={top_k: 300}", "train={retries: 5}",
                                      "models={tdnn_mini: {scoring: {top_k: 30}}}"])
def test_numbers_from_the_command_line_are_accepted(tmp_path: Path, override: str) -> None:
    result = dry_run(tmp_path, "--config", override)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('corpus={"num_speakers": "x"}', "config corpus: unknown key(s) 'num_speakers'"),
        ('data={"num_shards": "x"}', "config data.num_shards: 'x' does not match '^auto$'"),
        ('data={"num_shards": 0}', "config data.num_shards: 0 is below the minimum 1"),
        ("data={num_mel_bins: 64}", "config data: unknown key(s) 'num_mel_bins'"),
        ("models={tdnn_mini: {num_mel_bins: 64}}",
         "config models.tdnn_mini.num_mel_bins: 64 is not one of [40, 80]"),
        ('data={"on_bad_audio": "ignore"}',
         "config data.on_bad_audio: 'ignore' is not one of ['error', 'skip']"),
        ('trials={"Q": "q.txt"}', "config trials: unknown key(s) 'Q'"),
        ("corpus={seed: -1}", "config corpus.seed: -1 is below the minimum 0"),
        ("models={tdnn_mini: {model: {arch: tdnn, chanels: [3]}}}",
         "config models.tdnn_mini.model: unknown key(s) 'chanels' (allowed: arch, bn_momentum, "
         "channels, dilations, embedding_dim, kernels)"),
        ("models={res2net_mini: {model: {arch: res2net, blocks: [1, 1, 1, 1], width: 2, "
         "scale: 1, base_channels: 4, embedding_dim: 8}}}",
         "config models.res2net_mini.model.scale: 1 is below the minimum 2"),
        ("models={tdnn_mini: {train: {pretrain: {crop_frames: 0}}}}",
         "config models.tdnn_mini.train.pretrain.crop_frames: 0 is below the minimum 1"),
        ("corpus={min_seconds: 7}", "config corpus.min_seconds: 7 is above corpus.max_seconds"),
        ("models={tdnn_mini: {train: {pretrain: {warmup_epochs: 24}}}}",
         "config models.tdnn_mini.train.pretrain.warmup_epochs: 24 is above epochs (23)"),
        ("models={tdnn_mini: {train: {pretrain: {margin_full_epoch: 2}}}}",
         "config models.tdnn_mini.train.pretrain.margin_full_epoch: 2 must lie between "
         "warmup_epochs (3) and epochs (23)"),
        ("models={tdnn_mini: {train: {lmft: {global_batch: 20}}}}",
         "config models.tdnn_mini.train.lmft.global_batch: 20 is not a multiple of "
         "batch_per_gpu x processes = 16 x 1"),
        ("models={tdnn_mini: {scoring: {top_k: 161}}}",
         "config models.tdnn_mini.scoring.top_k: 161 is above the cohort size "
         "(corpus.vox2_speakers: 160)"),
        ("models={tdnn_voxsrc2020_vox1dev_fb40: {trials: [O, E]}}",
         "config models.tdnn_voxsrc2020_vox1dev_fb40.trials: E contains VoxCeleb1-dev speakers"),
        ("models={tdnn_mini: {stages: [lmft]}}",
         "config models.tdnn_mini.stages: must begin with pretrain"),
        ("default_models=[tdnn_mini, nope]",
         "config default_models: 'nope' is not an alias of models"),
        ("default_models=[]", "config default_models: [] has fewer items than 1"),
    ],
)
def test_bad_value_is_one_line_naming_the_key(tmp_path: Path, override: str, message: str) -> None:
    result = dry_run(tmp_path, "--config", override)
    assert result.returncode != 0
    lines = problems(result)
    assert len(lines) == 1, result.stdout + result.stderr
    assert lines[0].startswith(message)
    text = result.stdout + result.stderr
    assert "Job stats" not in text
    assert len(text.splitlines()) < 10, text  # no schema or config dump


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    config = default_config()
    config["corpus"]["generate"] = False
    config["paths"] = {k: str(tmp_path / "missing" / k) for k in config["paths"]}
    config["trials"] = {k: str(tmp_path / "missing" / f"{k}.txt") for k in config["trials"]}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = dry_run(tmp_path, "--configfile", str(bad))
    assert result.returncode != 0
    expected = [f"config paths.{k}: {v} does not exist" for k, v in config["paths"].items()]
    expected += [f"config trials.{k}: {v} does not exist" for k, v in config["trials"].items()]
    assert sorted(problems(result)) == sorted(expected)


def test_unknown_top_level_key_in_configfile(tmp_path: Path) -> None:
    config = default_config()
    config["scorring"] = {"top_k": 10}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = dry_run(tmp_path, "--configfile", str(bad))
    assert result.returncode != 0
    assert problems(result) == ["config (top level): unknown key(s) 'scorring' (allowed: corpus, "
                                "data, default_models, models, paths, scoring, train, trials)"]


def test_key_order_does_not_matter() -> None:
    config = default_config()
    reordered = yaml.safe_load(yaml.safe_dump(config, sort_keys=True))
    assert load(config, SCHEMA) == load(reordered, SCHEMA)


def test_load_raises_with_every_problem() -> None:
    config = default_config()
    config["corpus"]["seed"] = -1
    config["data"]["dither"] = "lots"
    with pytest.raises(ConfigError) as error:
        load(config, SCHEMA)
    assert str(error.value).splitlines() == [
        "2 configuration problem(s):",
        "config corpus.seed: -1 is below the minimum 0",
        "config data.dither: 'lots' is not of type number",
    ]


def test_unknown_target_is_one_line_listing_valid_ones(tmp_path: Path) -> None:
    for target in ("results/nope_lmft_asnorm.tsv", "results/dpn68_voxsrc2020_fb40_lmft_cosine.tsv"):
        result = dry_run(tmp_path, target)
        assert result.returncode != 0
        line = next(x for x in result.stderr.splitlines() if x.startswith("voxsv: "))
        assert line.startswith(f"voxsv: {target}: no configured experiment makes this table")
        assert "results/res2net200_{pretrain,lmft}_{cosine,asnorm}.tsv" in line
        assert "results/dpn68_voxsrc2020_fb40_pretrain_{cosine,asnorm}.tsv" in line


def test_published_target_plans_with_the_default_config(tmp_path: Path) -> None:
    result = dry_run(tmp_path, "results/res2net200_lmft_asnorm.tsv", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train" in result.stdout


def test_bad_value_runs_no_job(tmp_path: Path) -> None:
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "1",
           "--config", 'corpus={"seed": -1}']
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "config corpus.seed: -1 is below the minimum 0" in result.stdout + result.stderr
    produced = [p for p in tmp_path.iterdir() if p.name != ".snakemake"]
    assert produced == []
    shutil.rmtree(tmp_path / ".snakemake", ignore_errors=True)
