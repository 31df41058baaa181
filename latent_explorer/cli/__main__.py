"""``python -m latent_explorer.cli``: the same as the ``latent-explorer`` script."""
import sys

from . import main

sys.exit(main())
