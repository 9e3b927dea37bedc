"""twolayer: train a two-layer net with hand-written backprop, and look at what it learned.

examples:
  twolayer train spiral                        # seconds: the lesson's toy problem
  twolayer train cifar10 --preset best         # the most accurate CIFAR-10 recipe
  twolayer predict runs/cifar10-20261125-160000 cat.jpg
  twolayer export runs/cifar10-20261125-160000 --onnx model.onnx
  twolayer plot runs/spiral-*  --out spiral-runs.png
  twolayer report runs/spiral-A runs/spiral-B --out compare.html
  twolayer tune spiral --trials 20 --out searches/spiral
  twolayer bench --all
  twolayer cache list

`twolayer COMMAND --help` describes each command and all of its flags.
"""

from __future__ import annotations

from collections.abc import Sequence

import twolayer
from twolayer.cli import bench, cache, export, plot, predict, report, train, tune
from twolayer.cli.args import ArgumentParser, make_parser, run_main

COMMANDS = (train, predict, export, plot, report, tune, bench, cache)


def build_parser() -> ArgumentParser:
    """The `twolayer` parser: one subcommand per module of :data:`COMMANDS`."""
    parser = make_parser(__doc__, prog="twolayer")
    parser.add_argument("--version", action="version", version=twolayer.__version__)
    commands = parser.add_subparsers(title="commands", dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (default: the command line); returns the exit code.

    Mistakes a user can make end as one ``error:`` line and exit code 2.
    """
    return run_main(_run, argv)
