"""The log of a rule's job: every workflow script writes its messages, and its failure with the
traceback, to the rule's declared `log[0]`, where cluster users look (not snakemake's stderr)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def rule_log(smk: Any) -> Iterator[logging.Logger]:
    """Log to the job's log file; an exception is written there with its traceback, then raised
    again so the job fails."""
    logging.basicConfig(
        filename=smk.log[0], level=logging.INFO, force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logger = logging.getLogger(f"voxsv.rule.{smk.rule}")
    try:
        yield logger
    except BaseException as error:
        logger.exception("%s failed: %s: %s", smk.rule, type(error).__name__, error)
        logging.shutdown()
        raise
