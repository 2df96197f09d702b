"""Experiments resolved from the configuration: per-alias settings, the published systems of
all four tables, rule params without run-only keys, and the artifacts each experiment needs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from voxsv import artifacts
from voxsv.configuration import load, load_schema, output_keys, processes
from voxsv.experiments import deep_merge, resolve, train_params
from voxsv.results import load_reference, unmatched_rows

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema.yaml"
# Table -> alias of config/config.yaml, as the README lists them.
PUBLISHED = {
    "1": ["tdnn_voxsrc2020_vox1dev_fb40", "dpn68_voxsrc2020_vox1dev_fb40"],
    "2": ["dpn68_voxsrc2020_fb40", "res2net50_c64_voxsrc2020_fb40"],
    "3": ["dpn68_fb40", "res2net50_c64_fb40"],
    "4": ["res2net50_c64", "res2net50_c32", "res2net50_c16", "res2net101", "res2net152",
          "res2net200"],
}


def accumulation(stage: dict) -> int:
    return stage["global_batch"] // (stage["batch_per_gpu"] * processes(stage))


@pytest.fixture(scope="module")
def config() -> dict:
    return load(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), SCHEMA)


@pytest.fixture(scope="module")
def experiments(config: dict) -> dict:
    return resolve(config)


def test_every_published_row_has_an_experiment(experiments: dict) -> None:
    published = [experiments[a] for aliases in PUBLISHED.values() for a in aliases]
    assert unmatched_rows(published) == []
    assert len(unmatched_rows([experiments["tdnn_mini"]])) == len(load_reference())


@pytest.mark.parametrize(("table", "train_set", "bins", "head", "crop", "stages"), [
    ("1", "vox1_dev", 40, "cm_voxsrc2020", 320, ("pretrain",)),
    ("2", "vox2_dev", 40, "cm_voxsrc2020", 320, ("pretrain",)),
    ("3", "vox2_dev", 40, "sc_cm", 200, ("pretrain", "lmft")),
    ("4", "vox2_dev", 80, "sc_cm", 200, ("pretrain", "lmft")),
])
def test_published_systems_have_their_tables_settings(
    experiments: dict, table: str, train_set: str, bins: int, head: str, crop: int,
    stages: tuple,
) -> None:
    for alias in PUBLISHED[table]:
        exp = experiments[alias]
        assert (exp.train_set, exp.num_mel_bins, exp.train["head"]["type"], exp.stages) == (
            train_set, bins, head, stages)
        assert exp.train["pretrain"]["crop_frames"] == crop
        assert exp.train["pretrain"]["global_batch"] == 1024
        assert exp.train["pretrain"]["margin"] == 0.2
        if "lmft" in stages:
            lmft = exp.train["lmft"]
            assert (lmft["crop_frames"], lmft["margin"], lmft["lr_divisor"]) == (600, 0.4, 128)
            assert (lmft["batch_per_gpu"], accumulation(lmft)) == (16, 8)


def test_batch_layouts_of_the_run_scripts(experiments: dict) -> None:
    tdnn = experiments["tdnn_voxsrc2020_vox1dev_fb40"].train["pretrain"]
    dpn = experiments["dpn68_fb40"].train["pretrain"]
    assert (tdnn["batch_per_gpu"], tdnn["gpus"], accumulation(tdnn)) == (128, 8, 1)
    assert (dpn["batch_per_gpu"], dpn["gpus"], accumulation(dpn)) == (32, 8, 4)


def test_vox1_dev_experiments_are_evaluated_on_o_only(experiments: dict) -> None:
    assert experiments["dpn68_voxsrc2020_vox1dev_fb40"].trials == ("O",)
    assert experiments["dpn68_voxsrc2020_fb40"].trials == ("O", "E", "H")


def test_alias_keys_deep_merge_over_the_sections(experiments: dict, config: dict) -> None:
    res2net = experiments["res2net_mini"]
    own = config["models"]["res2net_mini"]["train"]["pretrain"]["steps_per_epoch"]
    assert own != experiments["tdnn_mini"].train["pretrain"]["steps_per_epoch"]
    assert res2net.train["pretrain"]["steps_per_epoch"] == own
    assert res2net.train["pretrain"]["lr_per_128"] == 0.4
    assert res2net.train["pretrain"]["epochs"] == config["train"]["pretrain"]["epochs"]
    assert res2net.scoring["top_k"] == 20 and res2net.scoring["chunk_frames"] == 1000
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}


def test_a_stage_the_experiment_lacks_is_an_error(experiments: dict) -> None:
    with pytest.raises(ValueError, match="has no lmft stage"):
        experiments["dpn68_voxsrc2020_fb40"].stage("lmft")


def test_train_params_hold_no_run_only_key(config: dict, experiments: dict) -> None:
    schema = load_schema(SCHEMA)
    params = train_params(config, schema, experiments["tdnn_mini"], "pretrain")
    flat = yaml.safe_dump(params)
    for key in ("gpus", "batch_per_gpu", "nodes", "cpu_processes", "resources", "retries",
                "num_workers", "log_every_steps", "checkpoint_every_steps", "max_skipped_steps"):
        assert f"{key}:" not in flat
    assert params["train"]["pretrain"]["global_batch"] == 32
    assert "lmft" not in params["train"]
    changed = copy.deepcopy(config)
    for stage in ("pretrain", "lmft"):
        changed["models"]["tdnn_mini"]["train"][stage].update(
            gpus=1, nodes=2, batch_per_gpu=8, resources={"cpus": 9, "mem_mb": 9, "runtime": 9})
    changed["train"]["retries"] = 7
    assert train_params(changed, schema, resolve(changed)["tdnn_mini"], "pretrain") == params


def test_output_keys_are_enumerated_from_the_schema() -> None:
    keys = set(output_keys(load_schema(SCHEMA)))
    assert ("train", "pretrain", "batch_per_gpu") in keys
    assert ("scoring", "resources", "mem_mb") in keys
    assert ("data", "probe_workers") in keys
    assert ("scoring", "top_k") not in keys and ("train", "seed") not in keys


def test_crop_stores_are_keyed_by_bins(config: dict, experiments: dict) -> None:
    fb40 = artifacts.train_archives(config["data"], experiments["dpn68_fb40"], "pretrain")
    fb80 = artifacts.train_archives(config["data"], experiments["res2net50_c64"], "pretrain")
    assert fb40[:2] == ["data/crops/40/vox2dev/clean/shard0.jsonl.gz",
                        "data/crops/40/vox2dev/clean/shard0.npy"]
    assert fb80[0] == "data/crops/80/vox2dev/clean/shard0.jsonl.gz"
    vox1 = artifacts.train_archives(
        config["data"], experiments["tdnn_voxsrc2020_vox1dev_fb40"], "pretrain")
    assert vox1[:2] == ["data/crops/40/vox1dev/clean/shard0.jsonl.gz",
                        "data/crops/40/vox1dev/clean/shard0.npy"]
    assert len(vox1) == 2 * 5 * config["data"]["eval_shards"]


def test_lilcom_training_reads_the_fbank_archives(config: dict, experiments: dict) -> None:
    """data.crop_store: lilcom trains on the FBANK archives (VoxCeleb1 dev: the speaker subsets
    with the VoxCeleb1 archives they point into), as the crop stores are written from."""
    data = {**config["data"], "crop_store": "lilcom"}
    fb40 = artifacts.train_archives(data, experiments["dpn68_fb40"], "pretrain")
    assert fb40[:2] == ["data/fbank/40/vox2dev/clean/shard0.jsonl.gz",
                        "data/fbank/40/vox2dev/clean/shard0.lca"]
    vox1 = artifacts.train_archives(data, experiments["tdnn_voxsrc2020_vox1dev_fb40"], "pretrain")
    assert vox1[:2] == ["data/fbank/40/vox1dev/clean/shard0.jsonl.gz",
                        "data/fbank/40/vox1/clean/shard0.lca"]
    assert vox1[:2] == artifacts.training_fbank(40, "vox1dev", "clean", 0)


def test_cohort_embedding_jobs_cover_every_shard(config: dict, experiments: dict) -> None:
    data = {**config["data"], "num_shards": 7, "eval_shards": 3}
    exp = experiments["res2net200"]
    jobs = [artifacts.embed_features(data, exp, "cohort", job) for job in range(3)]
    shards = sorted(int(p.split("shard")[1].split(".")[0]) for job in jobs for p in job)
    assert shards == list(range(7))
    assert artifacts.embed_features(data, exp, "vox1", 2) == [
        "data/fbank/80/vox1/clean/shard2.jsonl.gz"]


def test_baseline_reads_every_clean_vox1_shard_the_embeddings_read(
    config: dict, experiments: dict
) -> None:
    data = {**config["data"], "eval_shards": 3}
    exp = experiments["dpn68_fb40"]
    assert artifacts.baseline_features(data, exp.num_mel_bins) == [
        path for job in range(3) for path in artifacts.embed_features(data, exp, "vox1", job)]
    assert artifacts.baseline_features(data, 40)[0] == "data/fbank/40/vox1/clean/shard0.jsonl.gz"


def test_checkpoints_of_other_settings_are_set_aside(tmp_path: Path) -> None:
    from voxsv.train import fingerprint

    ckpt = tmp_path / "checkpoints"
    settings = {"train": {"seed": 1, "pretrain": {"margin": 0.2}}, "num_mel_bins": 80}
    assert fingerprint.prepare(ckpt, settings) is None
    (ckpt / "step000000030.pt").write_bytes(b"weights")
    assert fingerprint.prepare(ckpt, copy.deepcopy(settings)) is None  # same settings: resume
    assert (ckpt / "step000000030.pt").exists()
    changed = deep_merge(settings, {"train": {"pretrain": {"margin": 0.3}}})
    message = fingerprint.prepare(ckpt, changed)
    assert "(train.pretrain.margin)" in message and "starts afresh" in message
    assert [p.name for p in ckpt.iterdir()] == ["settings.json"]
    (aside,) = tmp_path.glob("checkpoints.stale-*")
    assert (aside / "step000000030.pt").read_bytes() == b"weights"  # kept, not deleted


def test_schema_methods_are_the_registry() -> None:
    from voxsv.scoring_methods import METHODS

    methods = load_schema(SCHEMA)["properties"]["scoring"]["properties"]["methods"]
    assert methods["items"]["enum"] == list(METHODS)
