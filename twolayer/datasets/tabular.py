"""Tabular data sets: a CSV file with a header, or arrays in an ``.npz`` file.

CSV: every column but the label column is a numeric feature; the label column is
``label_column``, by default the one named "label", else the last one. Labels may
be any text or numbers (see :mod:`twolayer.datasets.labels`). A cell that is not a
finite number, or a row with the wrong number of cells, is an error naming its
line and column: missing values must be filled in or dropped first. A first line of
numbers only is a data row, not a header: an error. Features beyond 1e150 in size
(whose squares overflow when standardized) are refused, in CSV and npz alike.

NPZ: ``X`` (N, ...) and ``y`` (N,), optionally ``X_val``/``y_val``,
``X_test``/``y_test`` and ``class_names`` (C,) text, in which case ``y`` holds
class indices 0..C-1. It is read with ``allow_pickle=False``: no code in the file
can run.

    data = load_csv("iris.csv")                 # X_train (N, 4) float64, class_names, ...
    data = load_npz("digits.npz", seed=1)
"""

from __future__ import annotations

import csv
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._io import open_npz
from twolayer._validate import check_finite, check_labels
from twolayer.datasets.labels import (
    apply_labels,
    check_val_fraction,
    encode_labels,
    train_val_split,
)

DEFAULT_LABEL_COLUMN = "label"
#: The largest feature magnitude taken: squares of larger ones overflow float64.
MAX_FEATURE = 1e150
NPZ_SPLITS = ("val", "test")  # optional (X_<split>, y_<split>) pairs beside X, y


@dataclass(frozen=True)
class Table:
    """A CSV file read as features ``X`` (N, D) float64 and labels (N,) text, or None;
    ``lines`` (N,) is each row's line number in the file."""

    X: np.ndarray
    labels: np.ndarray | None
    feature_names: list[str]
    label_column: str | None
    lines: np.ndarray | None = None


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows and each row's line number; blank lines are skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            try:
                header = [name.strip() for name in next(reader, [])]
                rows, lines = [], []
                for row in reader:
                    if not row:
                        continue
                    if len(row) != len(header):
                        raise ValueError(
                            f"{path}, line {reader.line_num}: {len(row)} cells, but the header "
                            f"has {len(header)} columns; every row needs one cell per column"
                        )
                    rows.append(row)
                    lines.append(reader.line_num)
            except csv.Error as e:
                raise ValueError(f"{path}, line {reader.line_num}: not valid CSV ({e})") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"CSV file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text ({e}); save it as UTF-8 CSV") from None
    if not header:
        raise ValueError(f"{path} is empty: a CSV needs a header line and data rows")
    if all(_is_number(name) for name in header):
        raise ValueError(
            f"{path}: its first line ({','.join(header[:6])}{',...' if len(header) > 6 else ''}) "
            "is all numbers, a data row rather than a header; add a first line naming the "
            "columns (e.g. x1,x2,...,label)"
        )
    duplicates = sorted({n for n in header if header.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: the header names {duplicates} more than once; rename them")
    if not rows:
        raise ValueError(f"{path} has a header but no data rows")
    return header, rows, lines


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_magnitude(X: np.ndarray, name: str) -> None:
    """Refuse features so large (beyond :data:`MAX_FEATURE`) that standardizing them
    overflows: finite values that would otherwise be reported as NaN or inf."""
    if X.dtype.kind != "f" or float(np.finfo(X.dtype).max) <= MAX_FEATURE:
        return  # float32's largest value is far below it
    if X.size and np.abs(X).max() > MAX_FEATURE:
        where = np.unravel_index(np.argmax(np.abs(X)), X.shape)
        raise ValueError(
            f"{name} holds {X[where]:g} (at {tuple(int(i) for i in where)}), beyond "
            f"{MAX_FEATURE:g} in size: too large to standardize without overflow; rescale "
            "that feature (e.g. its logarithm, or other units)"
        )


def _to_numbers(cells: np.ndarray, names: list[str], lines: list[int], path: Path) -> np.ndarray:
    """Text cells (N, D) as float64, or a ValueError naming the first bad cell's line and column."""
    try:
        X = cells.astype(np.float64)
    except ValueError:
        X = None
    if X is not None and np.isfinite(X).all():
        check_magnitude(X, f"{path}")
        return X
    for j, name in enumerate(names):  # find the first bad cell to name it
        for i, cell in enumerate(cells[:, j].tolist()):
            try:
                ok = np.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{path}, line {lines[i]}, column {name!r}: {cell!r} is not a finite "
                    "number; every feature must be numeric (fill in or drop missing values)"
                )
    raise AssertionError("unreachable: some cell failed to convert")


def read_csv(
    path: str | os.PathLike,
    label_column: str | None = None,
    features: list[str] | None = None,
    need_labels: bool = True,
) -> Table:
    """Read a CSV with a header as features and labels.

    ``features=None``: every column but the label column is a feature; with
    ``need_labels`` (training) the label column must exist (``label_column``, default
    "label", else the last column). ``features`` given: those columns in that order.
    For prediction (``need_labels=False``) no labels are read (``labels`` is None) and
    a label column present (default "label") is left out of the features.
    """
    path = Path(path)
    header, rows, lines = _read_rows(path)
    cells = np.array(rows, dtype=str)
    if label_column is None and need_labels:
        label_column = DEFAULT_LABEL_COLUMN if DEFAULT_LABEL_COLUMN in header else header[-1]
    elif label_column is None:
        label_column = DEFAULT_LABEL_COLUMN
    if features is None:
        if need_labels and label_column not in header:
            raise ValueError(
                f"{path} has no label column {label_column!r}; its columns are {header}. "
                "Name the label column (label_column=..., --label-column)"
            )
        features = [name for name in header if name != label_column]
        if not features:
            raise ValueError(f"{path} has only the label column {label_column!r}, no features")
    else:
        missing = [name for name in features if name not in header]
        if missing:
            raise ValueError(
                f"{path} lacks the feature columns {missing}; its columns are {header}"
            )
    X = _to_numbers(cells[:, [header.index(n) for n in features]], features, lines, path)
    labels = None
    if need_labels:
        labels = np.char.strip(cells[:, header.index(label_column)])
        empty = np.flatnonzero(labels == "")
        if empty.size:
            raise ValueError(
                f"{path}, line {lines[empty[0]]}: the label ({label_column!r}) is empty; "
                "fill it in or drop the row"
            )
    label_column = label_column if labels is not None else None
    return Table(X, labels, list(features), label_column, np.asarray(lines))


def load_csv(
    path: str | os.PathLike,
    label_column: str | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """A CSV (see the module docstring) as a data dict, split stratified with ``seed``.

    Returns ``X_train``, ``X_val`` (N, D) float64, int64 labels ``y_train``, ``y_val``,
    ``sources_val`` (each val row's line in the file, "line 17"), ``class_names``
    (label k is ``class_names[k]``), ``feature_names`` (D,) and ``label_column``.
    Features are raw: standardize them before training.
    """
    val_fraction = check_val_fraction(val_fraction)
    table = read_csv(path, label_column)
    assert table.labels is not None and table.lines is not None  # read with its labels
    y, class_names = encode_labels(table.labels, f"the label column {table.label_column!r}")
    data: dict[str, Any] = train_val_split(
        table.X, y, val_fraction=val_fraction, stratify=True, seed=seed, rows=True
    )
    data.pop("rows_train")
    data["sources_val"] = [f"line {n}" for n in table.lines[data.pop("rows_val")]]
    data.update(
        class_names=class_names, feature_names=table.feature_names, label_column=table.label_column
    )
    return data


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """The known arrays of an npz data file, checked for presence and pairing."""
    try:
        arrays = _read_npz(path)
    except (zipfile.BadZipFile, EOFError) as e:  # open_npz catches neither
        raise ValueError(f"{path} is not a readable .npz data file ({e})") from None
    for split in NPZ_SPLITS:
        if (f"X_{split}" in arrays) != (f"y_{split}" in arrays):
            raise ValueError(
                f"{path} has only one of X_{split} and y_{split}; give both or neither"
            )
    return arrays


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    known = ("X", "y", *(f"{a}_{s}" for s in NPZ_SPLITS for a in "Xy"), "class_names")
    with open_npz(path, "data file") as f:
        if not {"X", "y"} <= set(f.files):
            raise ValueError(
                f"{path} holds {sorted(f.files)}, but a data file needs arrays 'X' and 'y' "
                "(optionally X_val, y_val, X_test, y_test, class_names)"
            )
        arrays = {}
        for key in known:
            if key in f.files:
                try:
                    arrays[key] = f[key]
                except ValueError as e:
                    if "allow_pickle" not in str(e):
                        raise ValueError(f"{path}: {key!r} is damaged ({e})") from None
                    raise ValueError(
                        f"{path}: {key!r} holds Python objects, which are never unpickled; "
                        "save it as a numeric (or, for labels, text) array"
                    ) from None
    return arrays


def _check_npz_features(arrays: dict[str, np.ndarray], path: Path) -> None:
    for key in ("X", *(f"X_{s}" for s in NPZ_SPLITS)):
        if key not in arrays:
            continue
        X, y = arrays[key], arrays["y" + key[1:]]
        if X.dtype.kind not in "biuf" or X.ndim < 2:
            raise ValueError(
                f"{path}: {key} must be a numeric array (N, ...) of at least 2 dimensions, "
                f"got {X.dtype} {X.shape}"
            )
        if X.ndim == 4 and X.shape[-1] not in (1, 3):
            raise ValueError(
                f"{path}: {key} holds images (N, H, W, C) of {X.shape[-1]} channels, but "
                "images have 1 (grayscale) or 3 (RGB): keep those, or reshape X to rows "
                "(N, H*W*C) to learn from them as numbers"
            )
        if X.shape[1:] != arrays["X"].shape[1:]:
            raise ValueError(
                f"{path}: rows of {key} have shape {X.shape[1:]} but rows of X "
                f"{arrays['X'].shape[1:]}; they must match"
            )
        if len(X) != len(y):
            raise ValueError(
                f"{path}: {key} has {len(X)} rows but y{key[1:]} has {len(y)} labels; "
                "they must match"
            )
        check_finite(X, f"{path}: {key}")
        check_magnitude(X, f"{path}: {key}")


def _npz_labels(arrays: dict[str, np.ndarray], path: Path) -> list[str]:
    """Turn every y array into class indices in place; return the class names."""
    names = arrays.get("class_names")
    if names is None:
        arrays["y"], class_names = encode_labels(arrays["y"], f"{path}: y")
        for split in NPZ_SPLITS:
            if f"y_{split}" in arrays:
                arrays[f"y_{split}"] = apply_labels(arrays[f"y_{split}"], class_names, f"y_{split}")
        return class_names
    if names.ndim != 1 or names.dtype.kind not in "US" or len(set(names.tolist())) != names.size:
        raise ValueError(f"{path}: class_names must be 1-D distinct text, got {names!r}")
    if names.size < 2:
        raise ValueError(f"{path}: class_names has {names.size} class; a classifier needs two")
    for key in ("y", *(f"y_{s}" for s in NPZ_SPLITS)):
        if key in arrays:
            check_labels(arrays[key], names.size, name=f"{path}: {key} (indices into class_names)")
            arrays[key] = arrays[key].astype(np.int64)
    return [str(n) for n in names.tolist()]


def load_npz(path: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """An ``.npz`` data file (see the module docstring) as a data dict.

    Returns ``X_train`` (from ``X``, dtype kept), ``y_train`` int64, ``X_val``/``y_val``
    (the file's, else split from X stratified with ``seed``), ``X_test``/``y_test`` if
    the file has them, ``sources_val`` and ``sources_test`` (where each row is in the
    file: "X[17]", "X_test[3]") and ``class_names``.
    """
    path = Path(path)
    val_fraction = check_val_fraction(val_fraction)
    arrays = _npz_arrays(path)
    _check_npz_features(arrays, path)
    class_names = _npz_labels(arrays, path)
    data: dict[str, Any] = {"X_train": arrays["X"], "y_train": arrays["y"]}
    for split in NPZ_SPLITS:
        if f"X_{split}" in arrays:
            data[f"X_{split}"], data[f"y_{split}"] = arrays[f"X_{split}"], arrays[f"y_{split}"]
    for split in NPZ_SPLITS:
        if f"X_{split}" in data:
            data[f"sources_{split}"] = [f"X_{split}[{i}]" for i in range(len(data[f"X_{split}"]))]
    if "X_val" not in data:
        X, y = data["X_train"], data["y_train"]
        parts = train_val_split(
            X, y, val_fraction=val_fraction, stratify=True, seed=seed, rows=True
        )
        parts.pop("rows_train")
        data["sources_val"] = [f"X[{i}]" for i in parts.pop("rows_val")]
        data.update(parts)
    data["class_names"] = class_names
    return data
