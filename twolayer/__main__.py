"""`python -m twolayer`: the `twolayer` command, where it is not installed on the PATH."""

import sys

from twolayer.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
