"""``python -m kinefake`` runs the console script."""

import sys

from kinefake.cli import main

sys.exit(main())
