"""``python -m chatlane``: the command line (same as the ``chatlane`` command)."""

import sys

from chatlane.cli import main

sys.exit(main())
