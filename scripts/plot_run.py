"""Redraw a run's training curves, or overlay several runs in one figure.

With one run directory, rewrites its loss.png, accuracy.png and lr.png from its
history.json. With several, draws their training losses and validation
accuracies together into one figure (--out).

examples:
  python scripts/plot_run.py runs/spiral-20250101-120000
  python scripts/plot_run.py runs/spiral-* --out spiral-runs.png --show
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from twolayer.cli.args import make_parser, run_main
from twolayer.cli.runs import load_history
from twolayer.plots import compare_runs, save_run_plots, show_pngs

DEFAULT_COMPARE = "compare.png"


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    parser.add_argument(
        "--out",
        help=f"comparison figure, when several runs are given (default: ./{DEFAULT_COMPARE})",
    )
    parser.add_argument("--show", action="store_true", help="open the figures in windows")
    args = parser.parse_args(argv)
    if len(args.run_dirs) == 1 and args.out is not None:
        parser.error("--out is for comparing several runs; one run's plots go into its directory")

    # Load every history first, so a bad path fails before anything is written.
    histories = {run_dir: load_history(run_dir) for run_dir in args.run_dirs}
    if len(histories) == 1:
        [(run_dir, history)] = histories.items()
        pngs = save_run_plots(run_dir, history)
    else:
        pngs = [compare_runs(histories, args.out or DEFAULT_COMPARE)]
    for png in pngs:
        print(f"wrote {png}")
    if args.show:
        show_pngs(pngs)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
