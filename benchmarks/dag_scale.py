"""Plan the full VoxCeleb recipe (config/config.yaml switched to real corpora by
config/voxceleb.yaml) on a generated skeleton and time it.

The skeleton has empty corpus roots and trial lists with the real line counts (O 37,611,
E 579,818, H 550,894), so snakemake plans every shard, every training stage, export,
embeddings and scoring exactly as on the real corpora. Without --target it plans every
published system of the four tables (40- and 80-bin archives, the VoxCeleb1-dev training set)
and prints the published rows the plan would not produce. Target (issue 7): under 20 s.

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


def plan(configfile: Path, target: str | None, workdir: Path) -> tuple[float, dict[str, int]]:
    """Seconds to dry-run `target` (default: the default target), and the job count per rule."""
    cmd = [sys.executable, "-m", "snakemake", *([target] if target else []), "-n", "--quiet",
           "rules", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
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
    parser.add_argument("--target", help="a result table (default: every published system)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        configfile = write_skeleton(Path(tmp))
        seconds, counts = plan(configfile, args.target, Path(tmp) / "work")
        missing = unmatched_published(configfile) if args.target is None else None
    for rule, count in counts.items():
        print(f"{rule}\t{count}")
    print(f"plan_seconds\t{seconds:.1f}\t(target < 20 s)")
    if missing is not None:
        print(f"published_rows_not_planned\t{len(missing)}\t{' '.join(missing)}")


def unmatched_published(configfile: Path) -> list[str]:
    """The published rows that the default models of the skeleton's config do not produce."""
    from voxsv.configuration import load
    from voxsv.experiments import deep_merge, resolve
    from voxsv.results import unmatched_rows

    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config = deep_merge(base, yaml.safe_load(configfile.read_text()))
    experiments = resolve(load(config, REPO / "config" / "schema.yaml"))
    return unmatched_rows([experiments[a] for a in config["default_models"]])


if __name__ == "__main__":
    main()
