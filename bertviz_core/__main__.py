"""``python -m bertviz_core``: the core from a terminal."""

import sys

from bertviz_core.cli import main

sys.exit(main())
