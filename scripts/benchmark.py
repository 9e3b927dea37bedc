"""Time a training step from a checkout: `twolayer bench`, same flags (see --help)."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
