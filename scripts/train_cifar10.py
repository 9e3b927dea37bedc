"""Train on CIFAR-10 from a checkout: `twolayer train cifar10`, same flags (see --help)."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", "cifar10", *sys.argv[1:]]))
