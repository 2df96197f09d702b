"""The settings of one training run, resolved from the rule's JSON (config + paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunSettings:
    """Everything one stage needs: config sections, inputs and where to write."""

    alias: str
    stage: str  # pretrain | lmft
    model: dict[str, Any]
    num_mel_bins: int
    cmn_window: int
    dither: float  # FBANK dither of the training features (stored with the model)
    train: dict[str, Any]  # the config's whole `train:` section
    archives: list[str]  # CutSet manifests of the stage's data
    init: str | None  # LMFT: the pre-trained model.pt
    run_dir: Path
    out: Path

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSettings:
        """Build from the rule's JSON object; a missing key raises a KeyError naming it."""
        stage = d["stage"]
        if stage not in ("pretrain", "lmft"):
            raise ValueError(f"stage must be pretrain or lmft, got {stage!r}")
        if stage == "lmft" and not d.get("init"):
            raise ValueError("the lmft stage needs `init`, the pre-trained checkpoint")
        return cls(
            alias=d["alias"], stage=stage, model=dict(d["model"]),
            num_mel_bins=int(d["num_mel_bins"]), cmn_window=int(d["cmn_window"]),
            dither=float(d["dither"]),
            train=dict(d["train"]), archives=list(d["archives"]), init=d.get("init"),
            run_dir=Path(d["run_dir"]), out=Path(d["out"]),
        )

    @property
    def features(self) -> dict[str, Any]:
        """The feature settings the model was trained on (saved as model.pt's `features`)."""
        return {"num_mel_bins": self.num_mel_bins, "cmn_window": self.cmn_window,
                "dither": self.dither}

    @property
    def stage_cfg(self) -> dict[str, Any]:
        return self.train[self.stage]

    @property
    def world_size(self) -> int:
        """Processes of this stage: the GPUs of all its nodes, or the CPU processes when gpus
        is 0."""
        cfg = self.stage_cfg
        if cfg["gpus"] > 0:
            return cfg["gpus"] * cfg.get("nodes", 1)
        return cfg.get("cpu_processes", 1)

    @property
    def global_batch(self) -> int:
        """Samples per optimizer step (the stage's `global_batch`; SPEC: 1,024)."""
        return self.stage_cfg["global_batch"]

    @property
    def accumulation(self) -> int:
        """Micro-steps per optimizer step: global batch / (batch per process x processes)."""
        per_step = self.stage_cfg["batch_per_gpu"] * self.world_size
        if self.global_batch % per_step:
            raise ValueError(f"{self.alias} {self.stage}: global_batch {self.global_batch} is not "
                             f"a multiple of batch_per_gpu x processes = {per_step}")
        return self.global_batch // per_step

    @property
    def base_lr(self) -> float:
        """SPEC: base = lr_per_128 x global_batch / 128 (0.64 for 1,024)."""
        return self.stage_cfg["lr_per_128"] * self.global_batch / 128

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def steps_per_epoch(self, num_samples: int, init_epoch_samples: int | None) -> int:
        """E from config, else samples per epoch / global batch (SPEC: 5,460,045 / 1,024).

        A pre-training epoch has `num_samples` (utterances of all copies); an LMFT epoch has as
        many samples as one pre-training epoch (`init_epoch_samples`), as in SPEC's 5,332 steps.
        """
        configured = self.stage_cfg["steps_per_epoch"]
        if configured is not None:
            return int(configured)
        samples = init_epoch_samples if self.stage == "lmft" else num_samples
        if not samples:
            raise ValueError("steps_per_epoch is null but the epoch size is unknown")
        return max(1, samples // self.global_batch)
