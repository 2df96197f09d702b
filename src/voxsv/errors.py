"""voxsv's one error family: bad input whose message starts with the file, line or option at fault.

`voxsv` prints any of these as `voxsv CMD: <message>` and exits 1. They subclass ValueError so
that callers which catch ValueError for bad input keep working.
"""

from __future__ import annotations

SHOW_MISSING = 5  # how many of the missing, extra or bad items an error message lists


class VoxsvError(ValueError):
    """Bad input; the message names the file (and line or key) or the option first."""


class OptionError(VoxsvError):
    """A command-line option with a value that cannot work (range, unwritable output, ...)."""


class InputError(VoxsvError):
    """An input file that cannot be read or does not fit the other inputs."""


class ModelError(InputError):
    """A model file that cannot be loaded, or that does not fit the data given to it."""
