"""``python -m latentmorph`` runs the command-line interface."""

import sys

from latentmorph.cli import main

sys.exit(main())
