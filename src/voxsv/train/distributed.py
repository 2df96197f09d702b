"""Process group set-up: NCCL across GPUs, gloo across CPU processes (launched by torchrun)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """This process's place in the job."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(gpus: int, world_size: int) -> Dist:
    """Join the process group torchrun started (if any) and pick this rank's device."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != world_size:
        raise RuntimeError(
            f"the stage is configured for {world_size} processes but {launched} were launched"
        )
    if gpus > 0:
        if torch.cuda.device_count() < 1:
            raise RuntimeError(f"train: gpus is {gpus} but no CUDA device is visible")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world_size > 1:
        dist.init_process_group("nccl" if gpus > 0 else "gloo")
    rank = dist.get_rank() if world_size > 1 else 0
    return Dist(rank=rank, world_size=world_size, device=device)


def teardown() -> None:
    """Leave the process group (if one was joined)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """Average a small tensor over all ranks (identity in a single process)."""
    if dist.is_initialized():
        values = values.clone()
        dist.all_reduce(values)
        values /= dist.get_world_size()
    return values
