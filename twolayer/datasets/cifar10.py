"""CIFAR-10 in the official "python version" format: safe loading, validation, and the
CS231n train/val/test split with mean subtraction.

The batch files are Python 2 pickles. They are read through
:mod:`twolayer.datasets.safe_pickle` (bounded work, numpy arrays and plain data only),
so a tampered file can neither run code nor exhaust memory, and everything read is
checked (types, shapes, dtypes, label range, number of files) before it is used.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from twolayer._validate import check_labels, check_positive_int
from twolayer.datasets.download import (
    FOLDER_NAME,
    TARBALL_NAME,
    download_cifar10,
    where_to_put,
)
from twolayer.datasets.labels import train_val_split  # noqa: F401  (its old home)
from twolayer.datasets.safe_pickle import UnsafePickleError, load_pickle

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
NUM_TRAIN = 50_000
NUM_TEST = 10_000

_PIXELS = 32 * 32
_ROW = 3 * _PIXELS  # a row is 1024 red, then 1024 green, then 1024 blue values
_CHUNK = 2048  # images per preprocessing step: bounds float64 temporaries to ~50 MB


def _fix_hint(folder: Path) -> str:
    return f"delete {folder} and run again to re-download it, or re-extract it from {TARBALL_NAME}"


def _load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file as ``data`` (n, 3072) uint8 and ``labels`` (n,) int64, checked."""
    fix = _fix_hint(path.parent)
    try:
        batch = load_pickle(path)
    except UnsafePickleError:
        raise
    except ValueError as exc:
        raise ValueError(f"{exc}; {fix}") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"{path} holds a {type(batch).__name__}, not a CIFAR-10 batch; {fix}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(
            f"{path} has keys {sorted(map(str, batch))}, but a CIFAR-10 batch needs "
            f"'data' and 'labels'; {fix}"
        )
    data = batch["data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape[1:] == (_ROW,)):
        raise ValueError(
            f"{path}: 'data' must be a uint8 array of shape (n, {_ROW}), got "
            f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}; {fix}"
        )
    labels = _flat_labels(batch["labels"], path, fix)
    try:
        check_labels(labels, len(CLASSES), data.shape[0], name=f"'labels' in {path}")
    except ValueError as exc:
        raise ValueError(f"{exc}; {fix}") from exc
    return data, labels.astype(np.int64)


def _flat_labels(labels: object, path: Path, fix: str) -> np.ndarray:
    """``labels`` as a 1-D integer array, checked to be one before NumPy converts it.

    NumPy would turn a list of lists into an array of as many dimensions as it nests,
    expanding every shared sublist; a list is accepted only if it holds plain ints.
    """
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        return labels
    if isinstance(labels, list):
        bad = next((v for v in labels if type(v) is not int or not -(2**63) <= v < 2**63), None)
        if bad is None:
            return np.array(labels, dtype=np.int64)
        got = f"a list holding {type(bad).__name__} {bad!r:.40}"
    else:
        dtype, shape = getattr(labels, "dtype", ""), getattr(labels, "shape", "")
        got = f"{type(labels).__name__} {dtype} {shape}"
    raise ValueError(f"{path}: 'labels' must be a list of integers, got {got.strip()}; {fix}")


def _load_files(folder: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Load and stack batches as images (N, 32, 32, 3) uint8 and labels (N,) int64."""
    batches = [_load_batch(folder / name) for name in names]
    X = np.empty((sum(d.shape[0] for d, _ in batches), 32, 32, 3), dtype=np.uint8)
    start = 0
    for data, _ in batches:
        n = data.shape[0]
        X[start : start + n] = data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
        start += n
    return X, np.concatenate([labels for _, labels in batches])


def _find_folder(root: Path) -> Path | None:
    """The batches folder for ``root``: ``root/cifar-10-batches-py`` or ``root`` itself."""
    if (root / FOLDER_NAME).is_dir():
        return root / FOLDER_NAME
    if any((root / name).is_file() for name in (*TRAIN_FILES, TEST_FILE)):
        return root
    return None


def load_cifar10(
    root: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load CIFAR-10 from ``root`` (the folder holding ``cifar-10-batches-py/``, or that folder).

    Returns ``X_train`` (50000, 32, 32, 3) uint8, ``y_train`` (50000,) int64, ``X_test``
    (10000, 32, 32, 3) uint8 and ``y_test`` (10000,) int64; pixel (r, g, b) of image i at
    row h, column w is ``X[i, h, w]``. Smaller batches (as in test fixtures) load too.
    Raises ``FileNotFoundError`` for missing files, ``UnsafePickleError`` for a file
    that tries to load anything but numpy arrays, ``ValueError`` for corrupt contents.
    """
    root = Path(root)
    folder = _find_folder(root)
    if folder is None:
        raise FileNotFoundError(f"no CIFAR-10 data in {root}: {where_to_put(root)}")
    found = [name for name in TRAIN_FILES if (folder / name).is_file()]
    if len(found) < len(TRAIN_FILES):
        missing = ", ".join(sorted(set(TRAIN_FILES) - set(found)))
        raise FileNotFoundError(
            f"found {len(found)} of {len(TRAIN_FILES)} training batches in {folder} "
            f"(missing {missing}); {_fix_hint(folder)}"
        )
    if not (folder / TEST_FILE).is_file():
        raise FileNotFoundError(f"{folder / TEST_FILE} is missing; {_fix_hint(folder)}")
    X_train, y_train = _load_files(folder, TRAIN_FILES)
    X_test, y_test = _load_files(folder, (TEST_FILE,))
    return X_train, y_train, X_test, y_test


def _check_count(value: object, name: str) -> int:
    """``value`` as an int, raising unless it is a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _to_float(
    images: np.ndarray, dtype: np.dtype, channels_first: bool, mean: np.ndarray | None
) -> np.ndarray:
    """(n, 32, 32, 3) uint8 -> float ``dtype`` minus ``mean``, converted a chunk at a time."""
    n = images.shape[0]
    if channels_first:
        images = images.transpose(0, 3, 1, 2)
    out = np.empty(images.shape, dtype=dtype)
    for start in range(0, n, _CHUNK):
        block = out[start : start + _CHUNK]
        block[...] = images[start : start + _CHUNK]
        if mean is not None:
            block -= mean
    return out


def get_cifar10_data(
    root: str | os.PathLike = "data",
    num_training: int = 49_000,
    num_validation: int = 1_000,
    num_test: int = 10_000,
    subtract_mean: bool = True,
    dtype: DTypeLike = np.float32,
    download: bool = True,
    standardize: bool = False,
    channels_first: bool = True,
) -> dict[str, np.ndarray]:
    """Load CIFAR-10 and split it as CS231n does, ready for training.

    Returns a dict with ``X_train`` (num_training, 3, 32, 32), ``X_val``
    (num_validation, ...) and ``X_test`` (num_test, ...) in ``dtype``, and int64 labels
    ``y_train``, ``y_val``, ``y_test``. Validation is training images
    num_training .. num_training + num_validation; test is the first num_test test images.
    With ``subtract_mean`` the mean image of the training split (and only that split) is
    subtracted everywhere and returned as ``mean_image`` (3, 32, 32); ``standardize``
    then also divides by the per-channel std of the centred training split, returned as
    ``std`` (3, 1, 1), so each channel of X_train has unit variance. With
    ``channels_first=False`` images are (N, 32, 32, 3), ``mean_image`` (32, 32, 3) and
    ``std`` (1, 1, 3).

    Data missing from ``root`` is fetched with ``download_cifar10(root)`` when
    ``download`` is true; otherwise ``FileNotFoundError`` says where to put it. Float32
    preprocessing of the full set peaks near 1 GiB.
    """
    num_training = check_positive_int(num_training, "num_training")
    num_validation = _check_count(num_validation, "num_validation")
    num_test = _check_count(num_test, "num_test")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type such as np.float32, got {dtype}")
    if standardize and not subtract_mean:
        raise ValueError("standardize=True scales the centred data: it needs subtract_mean=True")
    if num_training + num_validation > NUM_TRAIN:
        raise ValueError(
            f"num_training + num_validation = {num_training + num_validation}, but CIFAR-10 "
            f"has {NUM_TRAIN} training images"
        )
    if num_test > NUM_TEST:
        raise ValueError(f"num_test = {num_test}, but CIFAR-10 has {NUM_TEST} test images")

    root = Path(root)
    if download and _find_folder(root) is None:
        download_cifar10(root)
    X_train_all, y_train_all, X_test_all, y_test_all = load_cifar10(root)
    if num_training + num_validation > X_train_all.shape[0] or num_test > X_test_all.shape[0]:
        raise ValueError(
            f"asked for {num_training} + {num_validation} training/validation and {num_test} "
            f"test images, but {root} has only {X_train_all.shape[0]} and "
            f"{X_test_all.shape[0]}"
        )
    train = slice(0, num_training)
    val = slice(num_training, num_training + num_validation)

    mean = None
    if subtract_mean:
        total = np.zeros((32, 32, 3))
        for start in range(0, num_training, _CHUNK):
            stop = min(start + _CHUNK, num_training)
            total += X_train_all[start:stop].sum(axis=0, dtype=np.float64)
        mean = total / num_training
        if channels_first:
            mean = mean.transpose(2, 0, 1)
        mean = mean.astype(dtype)
    data = {
        "X_train": _to_float(X_train_all[train], dtype, channels_first, mean),
        "y_train": y_train_all[train].copy(),
        "X_val": _to_float(X_train_all[val], dtype, channels_first, mean),
        "y_val": y_train_all[val].copy(),
        "X_test": _to_float(X_test_all[:num_test], dtype, channels_first, mean),
        "y_test": y_test_all[:num_test].copy(),
    }
    del X_train_all, X_test_all  # free the uint8 copies before any further pass
    if mean is not None:
        data["mean_image"] = mean
    if standardize:
        X = data["X_train"]
        axes = (0, 2, 3) if channels_first else (0, 1, 2)
        sq = sum(
            np.square(X[s : s + _CHUNK], dtype=np.float64).sum(axis=axes)
            for s in range(0, num_training, _CHUNK)
        )
        std = np.sqrt(sq / (X.size // 3))
        std[std == 0] = 1.0  # a constant channel is already centred to 0; leave it be
        std = std.reshape((3, 1, 1) if channels_first else (1, 1, 3)).astype(dtype)
        for name in ("X_train", "X_val", "X_test"):
            data[name] /= std
        data["std"] = std
    return data


# -- the course's names and signatures (CS231n's data_utils) ------------------------------


def load_CIFAR10(ROOT: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CS231n's ``load_CIFAR10``: ``Xtr, Ytr, Xte, Yte`` from the batches folder ``ROOT``.

    As the course returns them: images (N, 32, 32, 3) float64 with values 0..255 and
    labels (N,) int64; ``ROOT`` may also be the folder holding ``cifar-10-batches-py``.
    The full set takes 1.4 GiB in float64; :func:`load_cifar10` returns uint8 instead.
    """
    Xtr, Ytr, Xte, Yte = load_cifar10(ROOT)
    return Xtr.astype(np.float64), Ytr, Xte.astype(np.float64), Yte


#: Where the course's notebooks keep CIFAR-10, relative to the current directory: the
#: assignment's own folder, then this package's default.
COURSE_FOLDERS = (Path("cs231n") / "datasets" / FOLDER_NAME, Path("data"))


def find_course_cifar10(cifar10_dir: str | os.PathLike | None = None) -> Path:
    """The folder to load CIFAR-10 from: ``cifar10_dir`` if given, else the first of
    :data:`COURSE_FOLDERS` that holds the data.

    Raises ``FileNotFoundError`` saying where the data may go when none holds it.
    """
    if cifar10_dir is not None:
        return Path(cifar10_dir)
    for folder in COURSE_FOLDERS:
        if folder.is_dir() and _find_folder(folder) is not None:
            return folder
    looked = " or ".join(str(Path.cwd() / f) for f in COURSE_FOLDERS)
    raise FileNotFoundError(
        f"no CIFAR-10 data in {looked}: run the course's cs231n/datasets/get_datasets.sh, "
        f"or {where_to_put('data')}, or pass cifar10_dir="
    )


def get_CIFAR10_data(
    num_training: int = 49_000,
    num_validation: int = 1_000,
    num_test: int = 1_000,
    subtract_mean: bool = True,
    *,
    cifar10_dir: str | os.PathLike | None = None,
    download: bool = False,
) -> dict[str, np.ndarray]:
    """CS231n's ``get_CIFAR10_data``: the course's split, float64, channels first.

    Returns ``X_train`` (num_training, 3, 32, 32), ``y_train``, ``X_val``, ``y_val``,
    ``X_test``, ``y_test``: validation is the training images after the first
    num_training, test the first num_test test images, and with ``subtract_mean``
    the training mean image is subtracted from all three. ``cifar10_dir`` is where
    the data is (the batches folder or the folder holding it); by default the
    course's ``cs231n/datasets/cifar-10-batches-py``, then ``data/``, under the
    current directory. Nothing is downloaded unless ``download`` is true (into
    ``data/`` when cifar10_dir is not given). :func:`get_cifar10_data` offers
    float32 and more options.
    """
    if download and cifar10_dir is None:
        try:
            root = find_course_cifar10()
        except FileNotFoundError:
            root = COURSE_FOLDERS[-1]
    else:
        root = find_course_cifar10(cifar10_dir)
    data = get_cifar10_data(
        root,
        num_training,
        num_validation,
        num_test,
        subtract_mean,
        dtype=np.float64,
        download=download,
    )
    data.pop("mean_image", None)  # the course's dict holds the six splits only
    return data
