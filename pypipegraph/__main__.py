"""`python -m pypipegraph` is the `ppg` command."""

import sys

from .cli import main

sys.exit(main())
