"""Image folders as data sets, laid out as torchvision's ``ImageFolder`` expects.

Two layouts are read:

- one subfolder per class: ``ROOT/cat/*.jpg``, ``ROOT/dog/*.png``, ...; the
  validation rows are split off stratified (``val_fraction``, ``seed``);
- ``ROOT/train/``, ``ROOT/test/`` and optionally ``ROOT/val/``, each of the first
  shape; without ``val/`` the validation rows come from ``train/``. Anything else
  in ROOT (files, other folders) is ignored.

Images may sit at any depth under their class folder; hidden files and folders
(names starting with ".") are ignored, as are files that are not images. Decoding
follows :mod:`twolayer.datasets.images` (centre square, resized to ``image_size``)
and is cached by :mod:`twolayer.datasets.image_cache`.

    data = load_image_folder("photos", image_size=32)
    data["X_train"]        # (N, 32, 32, 3) uint8; preprocess with twolayer.preprocess
    data["class_names"]    # the class folders' names, sorted
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._validate import check_positive_int
from twolayer.datasets.image_cache import decode_cached
from twolayer.datasets.images import IMAGE_EXTENSIONS, is_image_file
from twolayer.datasets.labels import (
    apply_labels,
    check_val_fraction,
    encode_labels,
    train_val_split,
)

SPLITS = ("train", "val", "test")
_KINDS = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)


def split_folders(root: str | os.PathLike) -> dict[str, Path]:
    """The folders of each split: ``{"train": ..., "val": ..., "test": ...}`` as present.

    ROOT with a ``train/`` folder is a split layout; any other folder is one data set
    of class folders (``{"train": ROOT}``).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    if (root / "train").is_dir():
        return {name: root / name for name in SPLITS if (root / name).is_dir()}
    return {"train": root}


def image_paths(folder: str | os.PathLike[str]) -> list[str]:
    """Image files under ``folder`` (any depth, following links), sorted; hidden ones left out.

    Strings, not Paths: listing 60,000 files as Path objects takes seconds.
    """
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(os.path.join(dirpath, f) for f in filenames if is_image_file(f))
    return sorted(found)


def list_class_folder(folder: Path) -> tuple[list[str], list[str]]:
    """The image files of a folder of class folders and each file's class (its folder's name)."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        where = "has images but no class folders" if image_paths(folder) else "is empty"
        raise ValueError(
            f"{folder} {where}: put the images in one subfolder per class, "
            "e.g. cat/1.jpg, dog/2.jpg"
        )
    paths: list[str] = []
    labels: list[str] = []
    for class_folder in classes:
        found = image_paths(class_folder)
        if not found:
            raise ValueError(
                f"class folder {class_folder} has no images ({_KINDS}); add some or remove it"
            )
        paths += found
        labels += [class_folder.name] * len(found)
    return paths, labels


def load_image_folder(
    root: str | os.PathLike,
    image_size: int = 32,
    grayscale: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    skip_bad: bool = False,
    cache: bool = True,
    cache_folder: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Load an image folder (see the module docstring) as a data dict.

    Returns ``X_train``, ``X_val`` (and ``X_test`` with a ``test/`` folder) as
    (N, S, S, C) uint8 images, S = ``image_size``, C = 3 (1 with ``grayscale``);
    int64 labels ``y_train``, ``y_val`` (``y_test``); ``class_names`` (the training
    class folders, sorted: label k is ``class_names[k]``); ``sources_val`` (and
    ``sources_test``), each image's file relative to ``root``; and ``skipped``, the paths
    of unreadable images left out with ``skip_bad`` (without it the first one raises
    ``ValueError`` naming it). Decoded arrays are cached unless ``cache`` is false;
    ``cache_folder`` overrides the cache's location.
    """
    image_size = check_positive_int(image_size, "image_size")
    val_fraction = check_val_fraction(val_fraction)
    folders = split_folders(root)
    listed = {name: list_class_folder(folder) for name, folder in folders.items()}
    _, class_names = encode_labels(listed["train"][1], f"the class folders of {root}")
    data: dict[str, Any] = {"class_names": class_names, "skipped": []}
    for name, (paths, labels) in listed.items():
        y = apply_labels(labels, class_names, f"the class folders of {folders[name]}")
        X, bad = decode_cached(
            paths, image_size, grayscale, skip_bad, cache, cache_folder, workers, progress
        )
        data["skipped"] += [paths[i] for i in bad]
        data[f"X_{name}"], data[f"y_{name}"] = X, np.delete(y, bad)
        data[f"sources_{name}"] = np.delete(
            np.array([os.path.relpath(p, root) for p in paths]), bad
        )
    if "val" not in listed:
        split = train_val_split(
            data["X_train"], data["y_train"], val_fraction=val_fraction, stratify=True, seed=seed,
            rows=True,
        )  # fmt: skip
        data["sources_val"] = data["sources_train"][split.pop("rows_val")]
        split.pop("rows_train")
        data.update(split)
    del data["sources_train"]
    return data
