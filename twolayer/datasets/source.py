"""One entry point for the user's own data: the format is told from the path.

A folder is an image folder (:mod:`twolayer.datasets.folder`), a ``.csv`` file a
table and an ``.npz`` file arrays (:mod:`twolayer.datasets.tabular`).

    data = load_dataset("photos", image_size=32, seed=0)
    data = load_dataset("iris.csv", label_column="species")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from twolayer.datasets.folder import load_image_folder
from twolayer.datasets.tabular import load_csv, load_npz

FORMATS = ("images", "csv", "npz")


def detect_format(path: str | os.PathLike) -> str:
    """``"images"`` for a folder, ``"csv"`` or ``"npz"`` by the file's ending."""
    path = Path(path)
    if path.is_dir():
        return "images"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".npz"):
        if not path.is_file():
            raise FileNotFoundError(f"data file not found: {path}")
        return suffix[1:]
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    raise ValueError(
        f"cannot tell the format of {path}: give a folder of images, a .csv or an .npz file"
    )


def load_dataset(
    path: str | os.PathLike,
    *,
    label_column: str | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    **image_options: Any,
) -> dict[str, Any]:
    """Load ``path`` as a data dict (``X_train``, ``y_train``, ``X_val``, ``y_val``, optional
    ``X_test``, ``y_test``, and ``class_names``), whichever format it is.

    ``val_fraction`` and ``seed`` make the stratified validation split when the data
    has no validation set of its own; ``label_column`` applies to CSV files, and
    ``image_options`` (``image_size``, ``grayscale``, ``skip_bad``, ``cache``,
    ``progress``, ...) to folders: see :func:`load_image_folder`.
    """
    kind = detect_format(path)
    if kind == "images":
        return load_image_folder(path, val_fraction=val_fraction, seed=seed, **image_options)
    if image_options:
        raise ValueError(f"{sorted(image_options)} apply to image folders, not to {path}")
    if kind == "csv":
        return load_csv(path, label_column, val_fraction, seed)
    return load_npz(path, val_fraction, seed)
