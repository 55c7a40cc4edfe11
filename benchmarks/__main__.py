"""``python -m benchmarks``: the app's speeds against this machine's limits (see ``benchmarks.cli``)."""

import sys

from benchmarks.cli import main

sys.exit(main())
