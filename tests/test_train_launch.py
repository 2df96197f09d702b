"""Launching a training stage: torchrun on one node, srun + c10d rendezvous across nodes."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest
from test_train_support import make_archive, settings

from voxsv.train import checkpoint
from voxsv.train.launch import launch, multi_node_command, single_node_args, slurm_head_node
from voxsv.train.settings import RunSettings

SRC = Path(__file__).parents[1] / "src"


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
    stage = {"gpus": 8, "nodes": 2, "batch_per_gpu": 32, "global_batch": 1024}
    settings = RunSettings.from_dict({
        "alias": "m", "stage": "pretrain", "model": {"arch": "tdnn"}, "num_mel_bins": 80,
        "cmn_window": 300, "dither": 1.0, "train": {"pretrain": stage}, "archives": [],
        "init": None, "run_dir": "exp/m/pretrain", "out": "exp/m/pretrain/model.pt",
    })
    assert settings.world_size == 16
    assert (settings.global_batch, settings.accumulation) == (1024, 2)


def test_run_settings_need_the_feature_dither() -> None:
    """`dither` is required (it is saved with the model as part of `features`)."""
    d = {"alias": "m", "stage": "pretrain", "model": {"arch": "tdnn"}, "num_mel_bins": 40,
         "cmn_window": 300, "train": {}, "archives": [], "init": None, "run_dir": "r",
         "out": "r/model.pt"}
    with pytest.raises(KeyError, match="dither"):
        RunSettings.from_dict(d)
    features = RunSettings.from_dict({**d, "dither": 0.5}).features
    assert features == {"num_mel_bins": 40, "cmn_window": 300, "dither": 0.5}


def test_torchrun_launch_trains_with_two_gloo_processes(tmp_path: Path, monkeypatch) -> None:
    """The real path: launch() -> torchrun --standalone -> 2 x `python -m voxsv.train` (gloo)."""
    archive = make_archive(tmp_path / "fbank" / "shard0.jsonl.gz", per_speaker=4)[0]
    run_settings = settings(tmp_path, archive, epochs=2, steps_per_epoch=2, batch_per_gpu=4,
                            cpu_processes=2)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert launch(1, 2, json.dumps(run_settings)) == 0
    run_dir = tmp_path / "exp/tiny/pretrain"
    final = checkpoint.load(run_dir / "model.pt")
    # 2 ranks x 4 per rank x 1 accumulation; a 1-process run would have refused this stage
    assert (final["step"], final["global_batch"]) == (4, 8)
    with (run_dir / "train_log.tsv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f, delimiter="\t")] == [0, 1, 2, 3]
