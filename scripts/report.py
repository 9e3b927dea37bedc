"""Compare runs, or report on a search, in an HTML page from a checkout: `twolayer report`."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
