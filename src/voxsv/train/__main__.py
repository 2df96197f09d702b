"""`python -m voxsv.train --settings JSON`: run one training stage (also under torchrun)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from voxsv.train.loop import run
from voxsv.train.settings import RunSettings


def main(argv: list[str] | None = None) -> int:
    """Parse the rule's settings and train."""
    parser = argparse.ArgumentParser(prog="python -m voxsv.train", description=__doc__)
    parser.add_argument("--settings", required=True, help="JSON object (see RunSettings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    run(RunSettings.from_dict(json.loads(args.settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
