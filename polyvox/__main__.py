"""``python -m polyvox`` = the ``polyvox`` command (used where a recipe runs another recipe as a command)."""

import sys

from polyvox.cli import main

sys.exit(main())
