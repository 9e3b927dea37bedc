"""Train on the spiral from a checkout: `twolayer train spiral`, same flags (see --help)."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", "spiral", *sys.argv[1:]]))
