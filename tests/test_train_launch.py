"""Launching a training stage: torchrun on one node, srun + c10d rendezvous across nodes."""

from __future__ import annotations

import sys

import pytest

from voxsv.train.launch import multi_node_command, single_node_args, slurm_head_node
from voxsv.train.settings import RunSettings


def test_single_node_runs_torchrun_standalone() -> None:
    assert single_node_args(4, "{}") == [
        "--standalone", "--nproc_per_node=4", "-m", "voxsv.train", "--settings", "{}"
    ]


def test_multi_node_runs_one_torchrun_agent_per_node_with_c10d() -> None:
    cmd = multi_node_command(3, 8, '{"a": 1}', "gpu017", "4242")
    assert cmd[:5] == ["srun", "--overlap", "--nodes=3", "--ntasks=3", "--ntasks-per-node=1"]
    assert cmd[5:8] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nnodes=3" in cmd and "--nproc_per_node=8" in cmd
    assert "--rdzv_backend=c10d" in cmd and "--rdzv_endpoint=gpu017:29500" in cmd
    assert "--rdzv_id=4242" in cmd
    assert cmd[-4:] == ["-m", "voxsv.train", "--settings", '{"a": 1}']


def test_multi_node_outside_slurm_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_JOB_NODELIST", raising=False)
    with pytest.raises(RuntimeError, match="SLURM_JOB_NODELIST"):
        slurm_head_node()


def test_world_size_counts_every_node_and_sets_the_global_batch() -> None:
    stage = {"gpus": 8, "nodes": 2, "batch_per_gpu": 32, "accumulation": 2}
    settings = RunSettings.from_dict({
        "alias": "m", "stage": "pretrain", "model": {"arch": "tdnn"}, "num_mel_bins": 80,
        "cmn_window": 300, "dither": 1.0, "train": {"pretrain": stage}, "archives": [],
        "init": None, "run_dir": "exp/m/pretrain", "out": "exp/m/pretrain/model.pt",
    })
    assert settings.world_size == 16
    assert settings.global_batch == 32 * 16 * 2


def test_run_settings_need_the_feature_dither() -> None:
    """`dither` is required (it is saved with the model as part of `features`)."""
    d = {"alias": "m", "stage": "pretrain", "model": {"arch": "tdnn"}, "num_mel_bins": 40,
         "cmn_window": 300, "train": {}, "archives": [], "init": None, "run_dir": "r",
         "out": "r/model.pt"}
    with pytest.raises(KeyError, match="dither"):
        RunSettings.from_dict(d)
    features = RunSettings.from_dict({**d, "dither": 0.5}).features
    assert features == {"num_mel_bins": 40, "cmn_window": 300, "dither": 0.5}
