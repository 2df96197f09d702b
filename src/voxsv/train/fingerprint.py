"""Checkpoints are resumed only under the settings that wrote them: a stage's checkpoint folder
records the settings its model depends on (the rule's params); when a rerun comes with other
settings, the old checkpoints are set aside (never deleted) and the stage starts afresh."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voxsv.atomic import write_text

RECORD = "settings.json"


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths whose values differ between two settings trees."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


def prepare(directory: str | os.PathLike, settings: Mapping[str, Any]) -> str | None:
    """Make `directory` hold only checkpoints written under `settings`; say what was set aside.

    Returns None when the checkpoints (if any) may be resumed, else a message naming the
    changed keys and where the old checkpoints went.
    """
    directory = Path(directory)
    record = directory / RECORD
    message = None
    if directory.is_dir() and any(directory.iterdir()):
        old = json.loads(record.read_text()) if record.exists() else None
        changed = ["(no record of its settings)"] if old is None else changed_keys(old, settings)
        if changed:
            aside = directory.with_name(f"{directory.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
            directory.rename(aside)
            message = (f"{directory}: checkpoints written with other settings "
                       f"({', '.join(changed)}) moved to {aside}; this stage starts afresh")
    directory.mkdir(parents=True, exist_ok=True)
    write_text(record, json.dumps(settings, sort_keys=True, indent=1) + "\n")
    return message
