"""Plan the full VoxCeleb recipe (config/voxceleb.yaml) on a generated skeleton and time it.

The skeleton has empty corpus roots and trial lists with the real line counts (O 37,611,
E 579,818, H 550,894), so snakemake plans every shard, both training stages, export,
embeddings and scoring exactly as on the real corpora. Target (issue 7): under 20 s.

    python benchmarks/dag_scale.py [--target results/res2net200_lmft_asnorm.tsv]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TRIAL_LINES = {"O": 37_611, "E": 579_818, "H": 550_894}


def write_skeleton(root: Path) -> Path:
    """Empty corpus roots, full-length trial lists and a config pointing at them."""
    config = yaml.safe_load((REPO / "config" / "voxceleb.yaml").read_text())
    for key in config["paths"]:
        config["paths"][key] = str(root / key)
        (root / key).mkdir(parents=True)
    for name, lines in TRIAL_LINES.items():
        path = root / f"{name}.txt"
        rows = (f"{i % 2} id1{i % 1251:04d}/v/{i:05d}.wav id1{(i + 7) % 1251:04d}/w/{i:05d}.wav\n"
                for i in range(lines))
        path.write_text("".join(rows))
        config["trials"][name] = str(path)
    out = root / "voxceleb.yaml"
    out.write_text(yaml.safe_dump(config))
    return out


def plan(configfile: Path, target: str, workdir: Path) -> tuple[float, dict[str, int]]:
    """Seconds to dry-run `target`, and the planned job count per rule."""
    cmd = [sys.executable, "-m", "snakemake", target, "-n", "--quiet", "rules",
           "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile)]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", result.stdout, re.M)}
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="results/res2net200_lmft_asnorm.tsv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        configfile = write_skeleton(Path(tmp))
        seconds, counts = plan(configfile, args.target, Path(tmp) / "work")
    for rule, count in counts.items():
        print(f"{rule}\t{count}")
    print(f"plan_seconds\t{seconds:.1f}\t(target < 20 s)")


if __name__ == "__main__":
    main()
