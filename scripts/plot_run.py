"""Redraw or compare runs' curves from a checkout: `twolayer plot` (see --help)."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["plot", *sys.argv[1:]]))
