"""One training stage: data, model + head, SGD with accumulation, AMP, DDP, checkpoints, logs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from voxsv.data import (
    CropDataset,
    Layout,
    MicroBatchSampler,
    SampleOrder,
    Utterances,
    load_utterances,
)
from voxsv.heads import build_head
from voxsv.models import build_model
from voxsv.train import checkpoint, distributed
from voxsv.train.logs import TrainLog
from voxsv.train.precision import SkipGuard, autocast_dtype, make_scaler
from voxsv.train.schedules import Schedule
from voxsv.train.settings import RunSettings
from voxsv.train.step import OptimizerStep

log = logging.getLogger(__name__)


class Classifier(nn.Module):
    """Extractor + margin head as one module, so DDP syncs both in one all-reduce."""

    def __init__(self, extractor: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.extractor = extractor
        self.head = head

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.head(self.extractor(feats), labels)


@dataclass
class Progress:
    """Where the stage stands: absolute step count and the stage's frame of reference."""

    step: int  # optimizer steps done (absolute; LMFT continues pre-training's count)
    stage_start: int  # absolute step at which this stage began
    epoch_offset: int  # epochs done before this stage (LMFT: pre-training's)
    skipped: int  # inf/NaN steps skipped in this stage


def run(settings: RunSettings) -> Classifier:
    """Train one stage to its configured step count, resuming from its newest checkpoint.

    Returns this rank's trained extractor + head (the tests compare ranks and runs).
    """
    cfg = settings.train
    stage = settings.stage_cfg
    dist = distributed.setup(stage["gpus"], settings.world_size)
    try:
        torch.manual_seed(cfg["seed"])
        own = checkpoint.latest(settings.checkpoint_dir)
        source = own or settings.init
        start = checkpoint.load(source, dist.device) if source else None
        if source and dist.is_main:
            log.info("%s %s from %s (step %d)", "resuming" if own else "starting",
                     settings.stage, source, start["step"])
        return _train(settings, dist, start, resumed=own is not None)
    finally:
        distributed.teardown()


def _train(
    settings: RunSettings, dist: distributed.Dist, start: dict[str, Any] | None, resumed: bool
) -> Classifier:
    """Build everything from `start` (own checkpoint, LMFT init, or None) and run the steps."""
    cfg, stage = settings.train, settings.stage_cfg
    utts = load_utterances(settings.archives, start["speakers"] if start else None)
    net = _build_net(settings, len(utts.speakers)).to(dist.device)
    # Plain SGD with momentum: weight decay is an L2 loss term whose gradient is clipped with
    # the rest (voxsv.train.step), not SGD's decay added after clipping.
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0, momentum=cfg["momentum"])
    dtype = autocast_dtype(cfg["precision"], dist.device)
    scaler = make_scaler(dtype, dist.device)
    progress = Progress(0, 0, 0, 0)
    if start is not None:
        progress = _restore(start, net, optimizer, scaler, resumed, dist.device)
    init_samples = start["init_epoch_samples"] if resumed else (start or {}).get("epoch_samples")
    steps_per_epoch = settings.steps_per_epoch(len(utts), init_samples)
    end = progress.stage_start + stage["epochs"] * steps_per_epoch
    layout = Layout(stage["batch_per_gpu"], dist.world_size, dist.rank, settings.accumulation)
    meta = {
        "arch": settings.model, "num_mel_bins": settings.num_mel_bins, "speakers": utts.speakers,
        "head_spec": _head_spec(settings, len(utts.speakers)), "stage": settings.stage,
        "epoch_samples": steps_per_epoch * layout.global_batch,
        "init_epoch_samples": init_samples, "steps_per_epoch": steps_per_epoch,
        "epochs": stage["epochs"], "cmn_window": settings.cmn_window,
        "crop_frames": stage["crop_frames"], "seed": cfg["seed"],
        "skip_fraction": cfg["skip_fraction"], "global_batch": layout.global_batch,
        "features": settings.features,
    }
    if resumed:
        _check_compatible(start, meta, settings)
    loader = _loader(settings, utts, layout, progress.step - progress.stage_start,
                     end - progress.stage_start, dist.device)
    model = DistributedDataParallel(net) if dist.world_size > 1 else net
    schedule = _schedule(settings, steps_per_epoch)
    state = _Loop(settings, dist, net, model, optimizer, scaler, dtype, schedule, progress, meta)
    state.run(iter(loader), end)
    return net


def _loader(
    settings: RunSettings, utts: Utterances, layout: Layout, first: int, stop: int,
    device: torch.device,
) -> DataLoader:
    """This rank's micro-batches for stage steps [first, stop), read by worker processes."""
    cfg = settings.train
    order = SampleOrder(len(utts), cfg["seed"], cfg["skip_fraction"])
    dataset = CropDataset(utts, settings.stage_cfg["crop_frames"], settings.cmn_window, cfg["seed"])
    return DataLoader(
        dataset, sampler=MicroBatchSampler(order, layout, first, stop), batch_size=None,
        num_workers=cfg["num_workers"], pin_memory=device.type == "cuda",
    )


RESUME_KEYS = ("arch", "steps_per_epoch", "epochs", "global_batch", "seed", "skip_fraction",
               "crop_frames", "cmn_window")


def _check_compatible(start: dict[str, Any], meta: dict[str, Any], settings: RunSettings) -> None:
    """Refuse to resume a checkpoint written under settings that change the run."""
    changed = [k for k in RESUME_KEYS if start.get(k) != meta[k]]
    if changed:
        diffs = ", ".join(f"{k}: {start.get(k)!r} -> {meta[k]!r}" for k in changed)
        raise ValueError(
            f"{settings.checkpoint_dir}: the newest checkpoint was written with other settings "
            f"({diffs}); restore them, or delete the directory to start this stage afresh"
        )


def _build_net(settings: RunSettings, num_classes: int) -> Classifier:
    """The extractor of the model spec and the configured head for `num_classes` speakers."""
    extractor = build_model(settings.model, settings.num_mel_bins)
    spec = _head_spec(settings, num_classes)
    head = build_head(
        spec["kind"], extractor.embedding_dim, num_classes, scale=spec["scale"],
        margin=spec["margin"], subcenters=spec["subcenters"],
    )
    return Classifier(extractor, head)


def _head_spec(settings: RunSettings, num_classes: int) -> dict[str, Any]:
    """The head as saved in checkpoints (enough to rebuild it)."""
    head = settings.train["head"]
    return {
        "kind": head["type"], "scale": float(head["scale"]), "subcenters": head["subcenters"],
        "margin": float(settings.stage_cfg["margin"]), "num_classes": num_classes,
    }


def _schedule(settings: RunSettings, steps_per_epoch: int) -> Schedule:
    stage = settings.stage_cfg
    return Schedule(
        base_lr=settings.base_lr, steps_per_epoch=steps_per_epoch,
        warmup_epochs=stage["warmup_epochs"], constant_until_epoch=stage["constant_until_epoch"],
        margin=stage["margin"], margin_full_epoch=stage["margin_full_epoch"],
        lr_divisor=stage["lr_divisor"],
    )


def _restore(
    start: dict[str, Any], net: Classifier, optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler, resumed: bool, device: torch.device,
) -> Progress:
    """Load weights, optimizer and scaler; continue this stage, or begin one after `start`."""
    net.extractor.load_state_dict(start["model"])
    net.head.load_state_dict(start["head"])
    optimizer.load_state_dict(start["optimizer"])
    if start.get("scaler"):
        scaler.load_state_dict(start["scaler"])
    if resumed:
        checkpoint.set_rng_state(start["rng"], device)
        return Progress(
            start["step"], start["stage_start"], start["epoch_offset"], start["skipped"]
        )
    return Progress(start["step"], start["step"], start["epoch_offset"] + start["epochs"], 0)


class _Loop:
    """The optimizer-step loop of one stage (keeps the many pieces out of argument lists)."""

    def __init__(self, settings, dist, net, model, optimizer, scaler, dtype, schedule, progress,
                 meta) -> None:
        self.s, self.dist, self.net, self.model = settings, dist, net, model
        self.optimizer, self.scaler, self.dtype = optimizer, scaler, dtype
        self.schedule, self.progress, self.meta = schedule, progress, meta
        self.cfg, self.accumulation = settings.train, settings.accumulation
        self.guard = SkipGuard(self.cfg["max_skipped_steps"], progress.skipped)
        self.stepper = OptimizerStep(
            net, model, optimizer, scaler, dtype, dist.device, self.accumulation,
            self.cfg["clip_grad_norm"], self.cfg["weight_decay"],
        )

    def run(self, batches, end: int) -> None:
        """Take optimizer steps until `end`, logging and checkpointing on rank 0."""
        p = self.progress
        board = None
        if self.dist.is_main:
            board = TrainLog(self.s.run_dir, p.step, end - p.stage_start, p.step - p.stage_start)
        tick, since = time.perf_counter(), p.step
        try:
            while p.step < end:
                loss, acc = self._step(batches)
                p.step += 1
                if board is not None:
                    board.advance()
                if p.step % self.cfg["log_every_steps"] == 0 or p.step == end:
                    values = self._row(loss, acc, since, time.perf_counter() - tick)
                    tick, since = time.perf_counter(), p.step
                    if board is not None:
                        board.row(values)
                self._maybe_checkpoint(end)
            if self.dist.is_main:
                checkpoint.save(self._state(), self.s.out)
        finally:
            if board is not None:
                board.close()

    def _step(self, batches) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step at this step's rate and margin; returns mean loss, accuracy."""
        rel = self.progress.step - self.progress.stage_start
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.lr(rel)
        self.net.head.margin = self.schedule.margin_at(rel)
        loss, accuracy, applied = self.stepper(batches)
        self.guard.record(not applied, self.progress.step)
        self.progress.skipped = self.guard.total
        return loss, accuracy

    def _row(self, loss, acc, since: int, seconds: float) -> dict[str, float]:
        """A train_log row for the step just taken (loss/accuracy averaged over ranks)."""
        p = self.progress
        rel = p.step - 1 - p.stage_start
        mean = distributed.mean_over_ranks(torch.stack([loss, acc])).tolist()
        return {
            "step": p.step - 1, "epoch": p.epoch_offset + rel // self.schedule.steps_per_epoch,
            "lr": self.schedule.lr(rel), "margin": self.schedule.margin_at(rel),
            "loss": mean[0], "accuracy": mean[1],
            "segments_per_s": (p.step - since) * self.meta["global_batch"] / max(seconds, 1e-9),
            "skipped_steps": p.skipped,
        }

    def _maybe_checkpoint(self, end: int) -> None:
        """Checkpoint every N steps, at every epoch end and at the end of the stage."""
        p = self.progress
        rel = p.step - p.stage_start
        every = self.cfg["checkpoint_every_steps"]
        due = rel % self.schedule.steps_per_epoch == 0 or (every and p.step % every == 0)
        if not self.dist.is_main or not (due or p.step == end):
            return
        state = self._state()
        directory = self.s.checkpoint_dir
        checkpoint.save(state, checkpoint.step_path(directory, p.step))
        checkpoint.prune(directory)

    def _state(self) -> dict[str, Any]:
        """Everything needed to resume exactly, and to export or fine-tune the model."""
        p = self.progress
        return {
            **self.meta,
            "model": self.net.extractor.state_dict(), "head": self.net.head.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
            "step": p.step, "stage_start": p.stage_start, "epoch_offset": p.epoch_offset,
            "skipped": p.skipped, "rng": checkpoint.rng_state(self.dist.device),
            "sampler_position": (p.step - p.stage_start) * self.meta["global_batch"],
        }
