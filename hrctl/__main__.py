"""``python -m hrctl``: the same as the ``hrctl`` console script."""
import sys

from .cli import main

sys.exit(main())
