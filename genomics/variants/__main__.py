"""``python -m genomics.variants``: see cli.py."""

import sys

from .cli import main

sys.exit(main())
