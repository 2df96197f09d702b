"""Training throughput of the extractors: forward + backward segments per second (TSV).

Each step is what training does: a batch of random 200-frame crops through the extractor and
the 5,994-class `sc_cm` head, cross-entropy, backward. Example (the integrator, on an H100):

    python benchmarks/models.py --device cuda --batch 128 --amp bf16 --channels-last --compile
    OMP_NUM_THREADS=1 python benchmarks/models.py --models tdnn --batch 8 --steps 3
    python benchmarks/models.py --models none --spec 'mini={"arch": "tdnn", "channels": [64]}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

from voxsv.heads import build_head
from voxsv.models import ZOO, build_model
from voxsv.models.params import count_params

AMP = {"none": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(ZOO),
                   help="comma-separated zoo names, or 'none' (default: the whole zoo)")
    p.add_argument("--spec", action="append", default=[], metavar="ALIAS=JSON",
                   help="also time a config spec, e.g. 'mini={\"arch\": \"tdnn\"}' (repeatable)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--bins", type=int, default=80)
    p.add_argument("--classes", type=int, default=5994)
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", choices=sorted(AMP), default="none")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    return p.parse_args(argv)


def specs(args: argparse.Namespace) -> dict[str, dict]:
    """Model name -> spec for the selected zoo models and the extra `--spec` entries."""
    names = [] if args.models == "none" else args.models.split(",")
    unknown = sorted(set(names) - set(ZOO))
    if unknown:
        sys.exit(f"unknown zoo models {unknown}; known: {list(ZOO)}")
    out = {name: {"arch": name} for name in names}
    for item in args.spec:
        alias, _, text = item.partition("=")
        out[alias] = json.loads(text)
    return out


def synchronize(device: torch.device) -> None:
    """Wait for queued accelerator work so that wall-clock timing is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_model(spec: dict, args: argparse.Namespace) -> tuple[int, float]:
    """(parameter count, seconds per training step) of one extractor + head."""
    device = torch.device(args.device)
    memory_format = torch.channels_last if args.channels_last else torch.preserve_format
    model = build_model(spec, args.bins).to(device, memory_format=memory_format).train()
    head = build_head("sc_cm", model.embedding_dim, args.classes).to(device)
    step_model = torch.compile(model) if args.compile else model
    feats = torch.randn(args.batch, args.frames, args.bins, device=device)
    labels = torch.randint(0, args.classes, (args.batch,), device=device)
    dtype = AMP[args.amp]

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(head(step_model(feats), labels), labels)
        loss.backward()

    for _ in range(args.warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    synchronize(device)
    return count_params(model), (time.perf_counter() - start) / args.steps


def main(argv: list[str] | None = None) -> int:
    """Time every selected model and print one TSV row each."""
    args = parse_args(argv)
    print("model\tparams\tdevice\tbatch\tframes\tbins\tamp\tchannels_last\tcompile\t"
          "step_ms\tsegments_per_s", flush=True)
    for name, spec in specs(args).items():
        params, seconds = time_model(spec, args)
        print(f"{name}\t{params}\t{args.device}\t{args.batch}\t{args.frames}\t{args.bins}\t"
              f"{args.amp}\t{args.channels_last}\t{args.compile}\t{1000 * seconds:.1f}\t"
              f"{args.batch / seconds:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
