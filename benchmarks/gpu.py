"""GPU throughput of the recipe's training step and of embedding extraction (TSV on stdout).

Training: voxsv's own optimizer step (voxsv.train.step: fp16 autocast + dynamic loss scaling,
accumulation, L2 gradient, clipping, SGD momentum) on the recipe's per-GPU batch, 32 x 4
accumulated 200-frame x 80-bin crops, through the extractor and the 5,994-class `sc_cm` head.
Embedding: eval mode, 1,000-frame chunks (SPEC section 5), batches of 32 chunks. Each with
channels-last and torch.compile off and on. The data are fixed random tensors already on the
device, so the figures are the model's ceiling (no loader). The recipe's anchor: about 670
training segments/s for res2net50_w8_s6_c16 on one RTX 4090 (SPEC section 6).

    python benchmarks/gpu.py                      # both models, every variant, on cuda
    python benchmarks/gpu.py --models res2net50_w8_s6_c16 --no-compile --steps 10
    python benchmarks/gpu.py --device cpu --steps 2   # a tiny smoke run, no GPU needed
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial

import torch

from voxsv.heads import build_head
from voxsv.models import ZOO, build_model
from voxsv.train.loop import Classifier
from voxsv.train.step import OptimizerStep

MODELS = ("res2net50_w8_s6_c16", "res2net200_w24_s4_c32_att")
PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
COLUMNS = ("task", "model", "precision", "channels_last", "compile", "batch", "frames",
           "steps", "ms_per_step", "segments_per_s", "skipped_steps", "peak_mem_gib")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; `--device cpu` shrinks everything to a smoke run."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu (smoke run)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names")
    p.add_argument("--batch", type=int, help="crops per micro-batch (default 32; cpu: 2)")
    p.add_argument("--accumulation", type=int, help="micro-batches per step (default 4; cpu: 1)")
    p.add_argument("--frames", type=int, help="training crop length (default 200; cpu: 40)")
    p.add_argument("--bins", type=int, default=80)
    p.add_argument("--classes", type=int, default=5994)
    p.add_argument("--precision", choices=sorted(PRECISIONS),
                   help="training autocast dtype, fp16 with a GradScaler (default fp16; cpu: "
                   "fp32, as CPU fp16 kernels are far too slow even for a smoke run)")
    p.add_argument("--embed-batch", type=int, help="chunks per forward (default 32; cpu: 1)")
    p.add_argument("--embed-frames", type=int, help="chunk length (default 1000; cpu: 200)")
    p.add_argument("--embed-precisions",
                   help="extraction autocast dtypes (default fp32,fp16; cpu: fp32); voxsv's "
                   "extraction runs fp32 today")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    p.add_argument("--compile-backend", help="torch.compile backend (default inductor; "
                   "cpu: aot_eager, which needs no C++ build)")
    p.add_argument("--cudnn-benchmark", action="store_true",
                   help="let cuDNN pick kernels per shape (voxsv's training does not, yet)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation happens here)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    args = p.parse_args(argv)
    smoke = args.device == "cpu"
    for name, full, tiny in (("batch", 32, 2), ("accumulation", 4, 1), ("frames", 200, 40),
                             ("embed_batch", 32, 1), ("embed_frames", 1000, 200),
                             ("precision", "fp16", "fp32"),
                             ("embed_precisions", "fp32,fp16", "fp32")):
        if getattr(args, name) is None:
            setattr(args, name, tiny if smoke else full)
    if args.compile_backend is None:
        args.compile_backend = "aot_eager" if smoke else "inductor"
    if smoke:
        args.warmup = min(args.warmup, 1)
    return args


def check_device(device: str) -> torch.device:
    """The torch device, or exit with a clear message when CUDA was asked for and is absent."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py: no CUDA device is visible (torch.cuda.is_available() is "
                 f"False, torch {torch.__version__}); this benchmark needs a GPU. "
                 "For a smoke run on the CPU: python benchmarks/gpu.py --device cpu --steps 2")
    if dev.type not in ("cuda", "cpu"):
        sys.exit(f"benchmarks/gpu.py: unsupported device {device!r}; use cuda[:N] or cpu")
    return dev


def describe(device: torch.device) -> str:
    """One comment line naming the hardware and software the figures come from."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        hw = (f"{props.name}, {props.total_memory / 2**30:.0f} GiB, "
              f"cuDNN {torch.backends.cudnn.version()}")
    else:
        hw = f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
             f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    return f"# {hw}; torch {torch.__version__}; python {platform.python_version()}"


def synchronize(device: torch.device) -> None:
    """Wait for queued accelerator work so that wall-clock timing is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step: Callable[[], object], warmup: int, steps: int, device: torch.device) -> float:
    """Seconds per call of `step` after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def repeat(batch: tuple[torch.Tensor, torch.Tensor]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The same device-resident micro-batch forever (no loader in the measurement)."""
    while True:
        yield batch


def prepare(model: torch.nn.Module, channels_last: bool, compiled: bool,
            args: argparse.Namespace) -> torch.nn.Module:
    """The module as a variant runs it: channels-last weights and/or torch.compile."""
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model, backend=args.compile_backend) if compiled else model


def train_row(name: str, channels_last: bool, compiled: bool, args: argparse.Namespace,
              device: torch.device) -> dict[str, object]:
    """Time the recipe's optimizer step for one model variant."""
    torch.manual_seed(0)
    extractor = build_model({"arch": name}, args.bins)
    net = Classifier(extractor, build_head("sc_cm", extractor.embedding_dim, args.classes,
                                           margin=0.2)).to(device).train()
    model = prepare(net, channels_last, compiled, args)
    dtype = PRECISIONS[args.precision]
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    stepper = OptimizerStep(net, model, optimizer, scaler, dtype, device, args.accumulation,
                            clip_norm=1.0, weight_decay=1e-3)
    feats = torch.randn(args.batch, args.frames, args.bins, device=device)
    labels = torch.randint(0, args.classes, (args.batch,), device=device)
    batches = repeat((feats, labels))
    skipped = [0]

    def step() -> None:
        skipped[0] += not stepper(batches)[2]

    seconds = timed(step, args.warmup, args.steps, device)
    segments = args.batch * args.accumulation
    return {"task": "train", "precision": args.precision, "channels_last": channels_last,
            "compile": compiled, "batch": segments,
            "frames": args.frames, "seconds": seconds, "segments": segments,
            "skipped_steps": skipped[0]}


def embed_row(name: str, precision: str, channels_last: bool, compiled: bool,
              args: argparse.Namespace, device: torch.device) -> dict[str, object]:
    """Time eval-mode extraction of equal chunks (1,000 frames as voxsv cuts them)."""
    torch.manual_seed(0)
    model = prepare(build_model({"arch": name}, args.bins).to(device).eval(), channels_last,
                    compiled, args)
    dtype = PRECISIONS[precision]
    chunks = torch.randn(args.embed_batch, args.embed_frames, args.bins, device=device)

    def step() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype, enabled=bool(dtype)):
            model(chunks)

    seconds = timed(step, args.warmup, args.steps, device)
    return {"task": "embed", "precision": precision, "channels_last": channels_last,
            "compile": compiled, "batch": args.embed_batch, "frames": args.embed_frames,
            "seconds": seconds, "segments": args.embed_batch, "skipped_steps": 0}


def main(argv: list[str] | None = None) -> int:
    """Run every selected model x variant and print one TSV row each."""
    args = parse_args(argv)
    device = check_device(args.device)
    names = args.models.split(",")
    unknown = sorted(set(names) - set(ZOO))
    if unknown:
        sys.exit(f"benchmarks/gpu.py: unknown zoo models {unknown}; known: {list(ZOO)}")
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    print(describe(device), flush=True)
    print("\t".join(COLUMNS), flush=True)
    compiles = (False,) if args.no_compile else (False, True)
    variants = list(itertools.product((False, True), compiles))
    for name in names:
        jobs = [partial(train_row, name, cl, co, args, device) for cl, co in variants]
        jobs += [partial(embed_row, name, p, cl, co, args, device)
                 for p in args.embed_precisions.split(",") for cl, co in variants]
        for job in jobs:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            torch._dynamo.reset()
            row = job()
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0
            print_row(name, row, args, peak)
    return 0


def print_row(name: str, row: dict[str, object], args: argparse.Namespace, peak: float) -> None:
    """One TSV line of COLUMNS."""
    seconds = float(row["seconds"])
    values = {**row, "model": name, "steps": args.steps, "ms_per_step": f"{1000 * seconds:.1f}",
              "segments_per_s": f"{float(row['segments']) / seconds:.1f}",
              "peak_mem_gib": f"{peak:.2f}"}
    print("\t".join(str(values[c]) for c in COLUMNS), flush=True)


if __name__ == "__main__":
    sys.exit(main())
