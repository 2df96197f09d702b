"""What every command checks before it starts work: option ranges, inputs, writable outputs."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from voxsv.errors import InputError, OptionError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show every option's default (none for required or unset ones), keep descriptions as
    written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.required:
            return action.help
        return super()._get_help_string(action)


def add_command(
    subparsers: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand parser with the summary, a description and the defaults in its help."""
    return subparsers.add_parser(
        name, help=summary, description=description, formatter_class=HelpFormatter
    )


def at_least(option: str, value: float, minimum: float, why: str = "") -> None:
    """Refuse `option` below `minimum` (why: what the bound comes from)."""
    if value < minimum:
        raise OptionError(f"{option}: {value} is too small, it must be at least {minimum}{why}")


def input_file(path: str | os.PathLike) -> Path:
    """An existing regular file, or an error saying what it is instead."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def distinct(paths: Sequence[str], key: object = None) -> None:
    """Refuse an input given twice (or two inputs with the same `key(path)`)."""
    seen: dict[object, str] = {}
    for path in paths:
        k = key(path) if callable(key) else path
        if k in seen:
            same = "given twice" if seen[k] == path else f"same utterance id as {seen[k]}"
            raise InputError(f"{path}: {same} (each input must appear once)")
        seen[k] = path


def output_file(path: str | os.PathLike) -> Path:
    """A path a file can be written to: its directory exists and takes a new file."""
    path = Path(path)
    if path.is_dir():
        raise OptionError(f"{path}: is a directory, expected a file name")
    parent = path.parent
    if not parent.is_dir():
        raise OptionError(f"{path}: cannot write: {parent} is not an existing directory")
    try:  # os.access says yes to root on a read-only file system: try it
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise OptionError(f"{path}: cannot write in {parent} ({err.strerror})") from err
    return path
