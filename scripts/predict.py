"""Classify images with a CIFAR-10 run from a checkout: `twolayer predict` (see --help)."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
