"""Export a trained run as an ONNX model that runs on raw inputs (twolayer.export).

The model takes what `twolayer predict` reads, before any processing (images as
(N, H, W, C) uint8, table rows as (N, D) float32), does the run's preprocessing and
test-time views as graph ops, and outputs each class's probability; the class names
are in its metadata. Needs the onnx package: pip install 'twolayer[onnx]'.

examples:
  twolayer export runs/images-20261125-160000 --onnx model.onnx
  twolayer export runs/csv-20261125-160000 --onnx flowers.onnx
"""

from __future__ import annotations

import argparse

from twolayer.cli.args import add_command
from twolayer.export import export_onnx


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "export", run_export, "write a trained run as an ONNX model", __doc__
    )
    p.add_argument("run_dir", help="a finished run directory written by `twolayer train`")
    p.add_argument(
        "--onnx",
        required=True,
        metavar="OUT",
        help="the .onnx file to write (replaced if it exists)",
    )


def run_export(args: argparse.Namespace) -> int:
    path = export_onnx(args.run_dir, args.onnx)
    print(f"wrote {path}: probabilities of raw inputs, class names in its metadata")
    return 0
