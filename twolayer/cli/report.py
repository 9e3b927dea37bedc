"""Write an HTML page comparing training runs, or the report of a search directory.

With run directories, one page (--out) overlays their curves and tables their
results and settings, the settings that differ highlighted. With one search
directory, its report (trials table, lr/reg scatter, best trials' curves) goes to
SEARCH_DIR/report.html unless --out says otherwise. The pages are self-contained:
open them in any browser, from the file system.

examples:
  twolayer report runs/cifar10-A runs/cifar10-B --out compare.html
  twolayer report searches/spiral
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twolayer.cli.args import add_command
from twolayer.runs import check_out_file, check_run_dir
from twolayer.search.trials import SEARCH_JSON

DEFAULT_COMPARE = "compare.html"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "report", run_report, "compare runs, or report a search, in HTML", __doc__
    )
    p.add_argument(
        "dirs", nargs="+", metavar="DIR", help="run directories, or one search directory"
    )
    p.add_argument(
        "--out",
        help=f"the page to write (default: ./{DEFAULT_COMPARE} for runs, "
        "SEARCH_DIR/report.html for a search)",
    )


def run_report(args: argparse.Namespace) -> int:
    # matplotlib (colours, images) loads only when a page is drawn, as in `plot`.
    from twolayer.report import compare_runs_html, write_search_report

    if args.out:
        check_out_file(args.out, inputs=args.dirs, suffixes=(".html", ".htm"))
    searches = [d for d in args.dirs if (Path(d) / SEARCH_JSON).is_file()]
    if searches:
        if len(args.dirs) > 1:
            raise ValueError("give one search directory on its own, or only run directories")
        path = write_search_report(searches[0], args.out)
    else:
        for d in args.dirs:  # every directory checked before anything is written
            check_run_dir(d)
        path = compare_runs_html(args.dirs, args.out or DEFAULT_COMPARE)
    print(f"wrote {path}")
    return 0
