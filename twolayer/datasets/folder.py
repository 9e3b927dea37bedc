"""Image folders as data sets, laid out as torchvision's ``ImageFolder`` expects.

Two layouts are read:

- one subfolder per class: ``ROOT/cat/*.jpg``, ``ROOT/dog/*.png``, ...; the
  validation rows are split off stratified (``val_fraction``, ``seed``);
- ``ROOT/train/``, ``ROOT/test/`` and optionally ``ROOT/val/``, each of the first
  shape; without ``val/`` the validation rows come from ``train/``. Anything else
  in ROOT (files, other folders) is ignored.

Images may sit at any depth under their class folder; hidden files and folders
(names starting with ".") are ignored, as are files that are not images. Links are
followed, but each real file is counted once, in one class: a link that loops back,
that leads out of its class folder (into another class, or out of the data set), or
to a file already listed is left out, and so is a twolayer run or search folder
inside the data (its plots are not images); each kind left out is reported in one
``warning:`` line on stderr. A class folder may itself be a link. Decoding
follows :mod:`twolayer.datasets.images` (centre square, resized to ``image_size``)
and is cached by :mod:`twolayer.datasets.image_cache`.

    data = load_image_folder("photos", image_size=32)
    data["X_train"]        # (N, 32, 32, 3) uint8; preprocess with twolayer.preprocess
    data["class_names"]    # the class folders' names, sorted
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._lock import LOCK_FILE, RUN_MARKER
from twolayer._memory import check_fits
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


#: What each kind of entry left out of a listing is, for the warning that reports it.
LEFT_OUT = {
    "loop": "links that loop back into a folder already listed",
    "elsewhere": "links that lead out of their class folder into another part of the data "
    "(each image counts in the class folder it is really in)",
    "outside": "links that lead out of the data folder",
    "duplicate": "links to images or folders already listed",
    "run": "twolayer run or search folders (their plots are not training images)",
}


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _is_twolayer_output(folder: str) -> bool:
    """A run or search directory: twolayer's marker or lock, or an older run's files."""
    has = lambda name: os.path.lexists(os.path.join(folder, name))  # noqa: E731
    return has(RUN_MARKER) or has(LOCK_FILE) or (has("config.json") and has("history.json"))


class Listing:
    """The image files of one data set, each real file once; what was left out, by kind.

    ``root`` is the data folder: nothing outside it is listed but what a class folder
    that is itself a link holds.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = os.path.realpath(root)
        self.folders: set[str] = set()  # real paths of the folders listed
        self.files: set[str] = set()  # real paths of the files listed
        self.left_out: dict[str, list[str]] = {kind: [] for kind in LEFT_OUT}

    def images(self, folder: str | os.PathLike) -> list[str]:
        """Image files under ``folder`` (any depth), sorted; hidden ones left out."""
        top = os.path.realpath(folder)
        if top in self.folders:
            raise ValueError(f"{folder} is a link to a folder already read as another class")
        found: list[str] = []
        stack = [(os.fspath(folder), top)]
        while stack:
            path, real = stack.pop()
            self.folders.add(real)
            with os.scandir(path) as entries:
                listed = sorted(entries, key=lambda e: e.name, reverse=True)
            for entry in listed:
                if entry.name.startswith("."):
                    continue
                name = os.path.join(path, entry.name)
                if entry.is_dir():  # following links
                    link = entry.is_symlink()
                    target = os.path.realpath(name) if link else os.path.join(real, entry.name)
                    kind = self._refused_folder(name, target, real, top)
                    if kind:
                        self.left_out[kind].append(name)
                    else:
                        stack.append((name, target))
                elif is_image_file(entry.name):
                    kind = self._refused_file(name, entry, real, top)
                    if kind:
                        self.left_out[kind].append(name)
                    else:
                        found.append(name)
        return sorted(found)

    def _refused_folder(self, name: str, real: str, parent: str, top: str) -> str | None:
        if _inside(parent, real):
            return "loop"
        if real in self.folders:
            return "duplicate"
        if not _inside(real, top):
            return "elsewhere" if _inside(real, self.root) else "outside"
        return "run" if _is_twolayer_output(name) else None

    def _refused_file(self, name: str, entry: os.DirEntry, folder: str, top: str) -> str | None:
        # A broken link, or a FIFO or device named like an image, is listed: decoding
        # says what is wrong with it (and --skip-bad leaves it out). Only links need
        # resolving (slow, per path component): a file's real path is its folder's.
        link = entry.is_symlink()
        real = os.path.realpath(name) if link else os.path.join(folder, entry.name)
        if link and os.path.exists(name) and not _inside(real, top):
            return "elsewhere" if _inside(real, self.root) else "outside"
        if real in self.files:
            return "duplicate"
        self.files.add(real)
        return None

    def warn(self) -> None:
        """One ``warning:`` line on stderr per kind of entry left out."""
        for kind, names in self.left_out.items():
            if names:
                print(
                    f"warning: left out {len(names)} {LEFT_OUT[kind]}; the first: {names[0]}",
                    file=sys.stderr,
                )


def image_paths(folder: str | os.PathLike[str]) -> list[str]:
    """Image files under ``folder`` (any depth, following links within it), sorted, each
    real file once; hidden ones left out, and what :class:`Listing` refuses (reported).

    Strings, not Paths: listing 60,000 files as Path objects takes seconds.
    """
    listing = Listing(folder)
    found = listing.images(folder)
    listing.warn()
    return found


def list_class_folder(folder: Path, listing: Listing | None = None) -> tuple[list[str], list[str]]:
    """The image files of a folder of class folders and each file's class (its folder's name).

    ``listing`` carries what earlier splits listed, so that no file counts twice.
    """
    listing = Listing(folder) if listing is None else listing
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
        if _is_twolayer_output(os.fspath(class_folder)):
            listing.left_out["run"].append(os.fspath(class_folder))
            continue
        runs_before = len(listing.left_out["run"])
        found = listing.images(class_folder)
        if not found and len(listing.left_out["run"]) > runs_before:
            continue  # e.g. the runs/ folder of a command started inside the data
        if not found:
            raise ValueError(
                f"class folder {class_folder} has no images ({_KINDS}); add some or remove it"
            )
        paths += found
        labels += [class_folder.name] * len(found)
    if not paths:
        raise ValueError(f"{folder} holds no images, only twolayer runs")
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
    listing = Listing(root)
    listed = {name: list_class_folder(folder, listing) for name, folder in folders.items()}
    listing.warn()
    count = sum(len(paths) for paths, _ in listed.values())
    # Each image decoded (uint8), then preprocessed (float32): refused before decoding.
    check_fits(count * image_size**2 * (1 if grayscale else 3) * 5,
               f"{count} images at image size {image_size}", hint="lower --image-size",
               parts="the decoded and preprocessed images")  # fmt: skip
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
