"""Search hyperparameters from a checkout: `twolayer tune`, same flags (see --help)."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["tune", *sys.argv[1:]]))
