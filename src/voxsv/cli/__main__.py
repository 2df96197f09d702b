"""`python -m voxsv.cli`: the `voxsv` command."""

import sys

from voxsv.cli.main import main

sys.exit(main())
