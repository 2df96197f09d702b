"""Training: DDP over 2 gloo processes equals 1 process with accumulation; logs; LMFT."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from test_train_support import ddp_rank, free_port, make_archive, settings

from voxsv.crop_store import write_store
from voxsv.train import checkpoint
from voxsv.train.logs import COLUMNS
from voxsv.train.loop import run
from voxsv.train.settings import RunSettings


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("fbank") / "shard0.jsonl.gz")[0]


def _log(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "train_log.tsv").open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_crop_store_trains_the_same_weights_as_the_lilcom_archive(archive, tmp_path: Path) -> None:
    """Training reads the same crops from the crop store as from the archive it was written
    from, so the trained weights are identical."""
    store = tmp_path / "crops" / "shard0.jsonl.gz"
    write_store(archive, store, store.with_suffix("").with_suffix(".npy"), 300)
    steps = {"epochs": 2, "steps_per_epoch": 2}
    nets = [run(RunSettings.from_dict(settings(tmp_path / name, path, **steps)))
            for name, path in (("lilcom", archive), ("store", store))]
    lilcom, stored = (dict(net.named_parameters()) for net in nets)
    assert all(torch.equal(lilcom[name], stored[name]) for name in lilcom)


def test_two_gloo_ranks_equal_one_process_with_accumulation(archive, tmp_path: Path) -> None:
    """Both ranks end with identical weights, equal (to fp tolerance) to a 1-process run.

    Batch norm uses per-micro-batch statistics, so a 2 x 4 DDP batch only matches a 1-process
    run whose micro-batches are the same 4 samples: 1 process x 2 accumulation steps, whose
    micro-step k draws the samples DDP gives rank k (voxsv.data.Layout). Gradients are then
    the same average of the same two micro-batch gradients. The running BN statistics differ
    by design (each rank updates its own from its micro-batch; DDP broadcasts rank 0's), so
    the comparison is over the trained parameters, which is what the optimizer produces.
    """
    steps = {"epochs": 4, "steps_per_epoch": 2, "batch_per_gpu": 4}
    single = settings(tmp_path / "one", archive, cpu_processes=1, **steps)  # accumulation 2
    one = dict(run(RunSettings.from_dict(single)).named_parameters())

    ddp = settings(tmp_path / "two", archive, cpu_processes=2, **steps)  # 2 x 4: accumulation 1
    out = tmp_path / "ranks"
    out.mkdir()
    mp.spawn(ddp_rank, args=(2, free_port(), ddp, str(out)), nprocs=2, join=True)
    rank0, rank1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))

    assert one.keys() == rank0.keys() == rank1.keys()
    for name, value in one.items():
        assert torch.equal(rank0[name], rank1[name]), name
        torch.testing.assert_close(rank0[name], value.detach(), rtol=1e-4, atol=1e-5)
    # and training did move them: the final weights differ from the previous checkpoint's
    ckpts = sorted((tmp_path / "two/exp/tiny/pretrain/checkpoints").glob("step*.pt"))
    before = checkpoint.load(ckpts[-2])["model"]
    assert any(not torch.equal(before[k.removeprefix("extractor.")], v)
               for k, v in rank0.items() if k.startswith("extractor."))
    # the logged losses agree too (rank 0 logs the mean over ranks)
    for a, b in zip(_log(tmp_path / "one/exp/tiny/pretrain"),
                    _log(tmp_path / "two/exp/tiny/pretrain"), strict=True):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-4)


def test_pretrain_then_lmft_logs_checkpoints_and_schedule(archive, tmp_path: Path) -> None:
    """The log has SPEC's columns; LMFT continues the step count at base/128 and margin 0.4."""
    pre = settings(tmp_path, archive)
    run(RunSettings.from_dict(pre))
    pre_dir = tmp_path / "exp/tiny/pretrain"
    rows = _log(pre_dir)
    assert tuple(rows[0]) == COLUMNS
    assert [int(r["step"]) for r in rows] == list(range(8))
    assert float(rows[0]["lr"]) == 0.0 and float(rows[2]["lr"]) == pytest.approx(0.08 * 8 / 128)
    # E = 2, warm-up 1 epoch, full margin at epoch 3: 0 to step 2, then m/2 (steps 3-4), m
    assert [float(r["margin"]) for r in rows] == [0, 0, 0, 0.1, 0.1, 0.2, 0.2, 0.2]
    final = checkpoint.load(pre_dir / "model.pt")
    for key in ("arch", "num_mel_bins", "model", "head", "head_spec", "step", "optimizer"):
        assert key in final
    assert final["features"] == {"num_mel_bins": 80, "cmn_window": 300, "dither": 1.0}
    assert final["step"] == 8 and final["head_spec"]["kind"] == "sc_cm"
    assert (pre_dir / "tensorboard").is_dir()
    assert len(list((pre_dir / "checkpoints").glob("step*.pt"))) == checkpoint.KEEP

    lmft = settings(tmp_path, archive, "lmft")
    run(RunSettings.from_dict(lmft))
    lrows = _log(tmp_path / "exp/tiny/lmft")
    # one pre-training epoch's samples (2 steps x 8) at LMFT's global batch 4 x 2 = 8: 2 steps
    assert [int(r["step"]) for r in lrows] == [8, 9]
    base = 0.08 * 8 / 128
    assert all(float(r["lr"]) == pytest.approx(base / 128) for r in lrows)
    assert all(float(r["margin"]) == pytest.approx(0.4) for r in lrows)
    assert all(int(r["epoch"]) == 4 for r in lrows)
    end = checkpoint.load(tmp_path / "exp/tiny/lmft/model.pt")
    assert end["step"] == 10 and end["crop_frames"] == 300
    assert end["speakers"] == final["speakers"]


def test_losses_fall(archive, tmp_path: Path) -> None:
    """A short run on separable speakers learns: late losses are well below early ones."""
    s = settings(tmp_path, archive, epochs=23, steps_per_epoch=2, batch_per_gpu=16,
                 global_batch=16)
    s["train"]["checkpoint_every_steps"] = 0
    s["train"]["pretrain"]["lr_per_128"] = 0.8
    run(RunSettings.from_dict(copy.deepcopy(s)))
    losses = [float(r["loss"]) for r in _log(tmp_path / "exp/tiny/pretrain")]
    assert sum(losses[-6:]) / 6 < 0.7 * sum(losses[:6]) / 6


@pytest.mark.parametrize(("precision", "expected"), [("bf16", torch.bfloat16),
                                                    ("fp32", torch.float32)])
def test_precision_setting_reaches_the_forward(archive, tmp_path: Path, monkeypatch,
                                               precision: str, expected: torch.dtype) -> None:
    """The first conv of the extractor runs under the configured autocast (seen via a hook)."""
    import voxsv.train.loop as loop

    seen: list[tuple[bool, torch.dtype]] = []

    def record(module, inputs, output) -> None:
        seen.append((torch.is_autocast_enabled("cpu"), output.dtype))

    def build(spec, bins):
        model = real(spec, bins)
        model.frames[0].register_forward_hook(record)
        return model

    real = loop.build_model
    monkeypatch.setattr(loop, "build_model", build)
    s = settings(tmp_path, archive, epochs=1)
    s["train"]["precision"] = precision
    net = run(RunSettings.from_dict(s))
    assert all(torch.isfinite(p).all() for p in net.parameters())
    assert len(_log(tmp_path / "exp/tiny/pretrain")) == 2
    assert seen == [(expected == torch.bfloat16, expected)] * 2


def test_fp16_on_cpu_is_refused(archive, tmp_path: Path) -> None:
    s = settings(tmp_path, archive)
    s["train"]["precision"] = "fp16"
    with pytest.raises(ValueError, match="fp16 needs CUDA"):
        run(RunSettings.from_dict(s))


class _NaNExtractor(torch.nn.Module):
    """Wraps an extractor so that its embeddings (and gradients) are NaN."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.embedding_dim = inner.embedding_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) * float("nan")


def test_persistent_inf_nan_steps_stop_training(archive, tmp_path: Path, monkeypatch) -> None:
    """Skipped (non-finite) steps are counted; more than max_skipped_steps in a row stop it."""
    import voxsv.train.loop as loop

    real = loop.build_model
    monkeypatch.setattr(loop, "build_model", lambda spec, bins: _NaNExtractor(real(spec, bins)))
    s = settings(tmp_path, archive)
    with pytest.raises(FloatingPointError, match="6 optimizer steps in a row up to step 5"):
        run(RunSettings.from_dict(s))
    rows = _log(tmp_path / "exp/tiny/pretrain")
    assert [int(r["skipped_steps"]) for r in rows] == [1, 2, 3, 4, 5]


def test_resuming_under_changed_settings_is_refused(archive, tmp_path: Path) -> None:
    run(RunSettings.from_dict(settings(tmp_path, archive, epochs=1)))
    changed = settings(tmp_path, archive, epochs=1, batch_per_gpu=4, global_batch=4)
    with pytest.raises(ValueError, match=r"global_batch: 8 -> 4"):
        run(RunSettings.from_dict(changed))
