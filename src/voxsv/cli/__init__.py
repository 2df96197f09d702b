"""The `voxsv` command line: one module per subcommand, the top-level parser in `main`."""

from voxsv.cli.main import main

__all__ = ["main"]
