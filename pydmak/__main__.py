"""``python -m pydmak``: the command line of :mod:`pydmak.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
