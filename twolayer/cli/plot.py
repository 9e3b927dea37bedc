"""Redraw a run's training curves, or overlay several runs in one figure.

With one run directory, rewrites its loss.png, accuracy.png and lr.png from its
history.json. With several, draws their training losses and validation
accuracies together into one figure (--out).

examples:
  twolayer plot runs/spiral-20250101-120000
  twolayer plot runs/spiral-* --out spiral-runs.png --show
"""

from __future__ import annotations

import argparse
import sys

from twolayer.cli.args import add_command
from twolayer.runs import check_out_file, load_history, partial_note

DEFAULT_COMPARE = "compare.png"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "plot", run_plot, "redraw a run's curves, or compare several runs", __doc__
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    p.add_argument(
        "--out",
        help=f"comparison figure, when several runs are given (default: ./{DEFAULT_COMPARE})",
    )
    p.add_argument("--show", action="store_true", help="open the figures in windows")


def run_plot(args: argparse.Namespace) -> int:
    if len(args.run_dirs) == 1 and args.out is not None:
        raise ValueError(
            "--out is for comparing several runs; one run's plots go into its directory"
        )
    if args.out is not None:
        check_out_file(args.out, inputs=args.run_dirs, suffixes=(".png",))
    # Load every history first, so a bad path fails before anything is written.
    histories = {run_dir: load_history(run_dir) for run_dir in args.run_dirs}
    for run_dir in histories:
        note = partial_note(run_dir)
        if note is not None:
            print(note, file=sys.stderr)
    from twolayer.plots import compare_runs, save_run_plots, show_pngs  # slow: only when needed

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
