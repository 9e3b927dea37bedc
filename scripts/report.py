"""Write an HTML page comparing training runs, or a search directory's report.

examples:
  python scripts/report.py runs/spiral-A runs/spiral-B --out compare.html
  python scripts/report.py searches/spiral

Same as ``twolayer report``; see twolayer/report/cli.py.
"""

from __future__ import annotations

import sys

from twolayer.cli.args import run_main
from twolayer.report.cli import main

if __name__ == "__main__":
    sys.exit(run_main(main))
