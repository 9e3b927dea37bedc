"""Classify new data with a trained run: image files or folders, a CSV, or an npz.

Inputs are read as the run's training data was: images decoded the same way (the
centre square resized to the run's image size, RGB or grayscale; a folder means
every image under it), CSV rows by the run's feature column names (a label column
is ignored), npz files by their array X. They are processed with the run's saved
preprocessing; for images the probabilities are averaged over the run's test-time
views. Each input prints its most likely classes with their probabilities; --out
writes every class's probability to a CSV.

examples:
  twolayer predict runs/cifar10-20261125-160000 cat.jpg truck.png
  twolayer predict runs/images-20261125-160000 photos/ --top-k 5 --out predictions.csv
  twolayer predict runs/csv-20261125-160000 new_flowers.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from pathlib import Path

import numpy as np

from twolayer._io import atomic_write_text, read_npz
from twolayer.classifier import Classifier
from twolayer.cli.args import add_command, positive_int
from twolayer.datasets import decode_images, detect_format
from twolayer.datasets.folder import image_paths
from twolayer.datasets.tabular import read_csv
from twolayer.runs import check_out_file, check_run_dir, partial_note


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "predict",
        run_predict,
        "classify images, CSV rows or npz arrays with a trained run",
        __doc__,
    )
    p.add_argument("run_dir", help="a run directory written by `twolayer train`")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files or folders (image runs), .csv files (table runs), .npz files (X)",
    )
    p.add_argument("--top-k", "--top", type=positive_int, default=3, help="classes shown per input")
    p.add_argument("--out", metavar="CSV", help="also write each input's class probabilities here")


def load_classifier(run_dir: Path) -> Classifier:
    """The classifier of a run directory (any run but the spiral's)."""
    clf = Classifier.load(run_dir)
    if clf.prep_ is None:
        raise ValueError(
            f"{run_dir / 'model.npz'} has no preprocessing or class names: a "
            f"{clf.config_.dataset} run, which predict does not classify"
        )
    return clf


def _images(clf: Classifier) -> bool:
    return len(clf.input_shape_) == 3


def _npz_inputs(path: str, clf: Classifier) -> tuple[list[str], np.ndarray]:
    arrays = read_npz(path, "input file")
    if "X" not in arrays:
        raise ValueError(f"{path} holds {sorted(arrays)}: the inputs must be an array 'X'")
    X = arrays["X"]
    # Images as the run read them, (N, H, W, C); rows of any shape with the right size.
    shape = clf.input_shape_
    want = (*shape[1:], shape[0]) if _images(clf) else shape
    fits = X.shape[1:] == want if _images(clf) else math.prod(X.shape[1:]) == math.prod(want)
    if X.ndim < 2 or not fits or X.dtype.kind not in "biuf":
        raise ValueError(
            f"{path}: X is {X.dtype} {X.shape}, but the run was trained on numeric rows "
            f"of shape {want}"
        )
    return [f"{path}[{i}]" for i in range(len(X))], X


def read_inputs(inputs: list[str], clf: Classifier) -> tuple[list[str], np.ndarray]:
    """Names and raw arrays of every input, in order: images (N, S, S, C), or rows (N, D)."""
    segments: list[tuple[list[str], np.ndarray | None]] = []  # None: image files, below
    files: list[str] = []  # every image file, decoded together (on every core)
    for item in inputs:
        kind = detect_format(item) if Path(item).suffix.lower() in (".csv", ".npz") else None
        if kind == "npz":
            more, X = _npz_inputs(item, clf)
        elif kind == "csv":
            if _images(clf):
                raise ValueError(f"{item}: this run classifies images, not CSV rows")
            features = getattr(clf, "feature_names_in_", None)
            features = None if features is None else [str(n) for n in features]
            table = read_csv(item, clf.config_.label_column, features, need_labels=False)
            more, X = [f"{item} row {i + 1}" for i in range(len(table.X))], table.X
        elif not _images(clf):
            raise ValueError(f"{item}: this run classifies table rows: give a .csv or an .npz")
        else:
            more = image_paths(Path(item)) if Path(item).is_dir() else [item]
            if not more:
                raise ValueError(f"{item} holds no images")
            files += more
            X = None
        segments.append((more, X))
    if files:
        size = clf.config_.image_size or clf.input_shape_[-1]
        gray = bool(clf.config_.grayscale)
        decoded, _ = decode_images(files, size, gray, progress=False)
    names: list[str] = []
    arrays: list[np.ndarray] = []
    for more, X in segments:
        if X is None:
            X, decoded = decoded[: len(more)], decoded[len(more) :]
        names += more
        arrays.append(X.reshape(len(X), -1) if not _images(clf) else X)
    return names, np.concatenate(arrays)


def probabilities_csv(names: list[str], probs: np.ndarray, classes: list[str]) -> str:
    """CSV text: input, predicted class, and one probability column per class."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["input", "prediction", *(f"p_{c}" for c in classes)])
    for name, p in zip(names, probs, strict=True):
        writer.writerow([name, classes[int(p.argmax())], *(f"{v:.6f}" for v in p)])
    return buf.getvalue()


def run_predict(args: argparse.Namespace) -> int:
    run_dir = check_run_dir(args.run_dir)
    if args.out:
        check_out_file(args.out, inputs=[run_dir / "model.npz", *args.inputs])
    note = partial_note(run_dir)
    if note is not None:
        print(note, file=sys.stderr)
    clf = load_classifier(run_dir)
    names, raw = read_inputs(args.inputs, clf)
    probs = clf.predict_proba(raw)  # the run's preprocessing and test-time views
    classes = [str(c) for c in clf.classes_]
    top = min(args.top_k, len(classes))
    for name, p in zip(names, probs, strict=True):
        best = np.argsort(p)[::-1][:top]
        print(f"{name}: " + ", ".join(f"{classes[k]} {p[k]:.3f}" for k in best))
    if args.out:
        atomic_write_text(args.out, probabilities_csv(names, probs, classes))
    return 0
