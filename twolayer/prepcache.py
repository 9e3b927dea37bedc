"""On-disk cache of the fitted preprocessing and the images it produced.

Fitting ZCA whitening to CIFAR-10 and applying it costs seconds of matrix
products, and every run and every search trial on the same images with the same
settings would redo it bit for bit. :func:`preprocess_splits` does it once, stores
the fitted arrays and the processed images in one ``.npz`` entry, and later calls
load that entry instead.

Where: ``prep-<key>.npz`` in the cache folder of :mod:`twolayer.cache`, which also
caps its size (``$TWOLAYER_CACHE_MAX``), evicting the least recently used entries;
``twolayer cache list`` and ``twolayer cache clear`` show and remove them.

Size: an entry holds the processed images and the fitted mean and matrix; for the
default CIFAR-10 run (60,000 float16 images and a 3072 x 3072 float32 matrix) that is
about 410 MB. An evicted or deleted entry is rebuilt when next needed.

Trust: the entry's name is a blake2b hash of the format version, every preprocessing
setting and each split's name, shape, dtype and bytes. An entry is used only if it
loads without pickle, its stored version and key match, every array has the expected
shape and dtype, and the zip CRCs of its arrays check out. Anything else is rebuilt,
with a one-line warning. Entries are written to a temporary file and renamed into
place, so a reader sees a whole entry or none, and concurrent writers of the same
entry are safe: the last rename wins, with the same content.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from twolayer._io import open_npz
from twolayer.cache import open_cache
from twolayer.preprocess import Preprocessor

#: Bump when the preprocessing math or the entry layout changes: old entries then miss.
VERSION = 1
_FORMAT = "twolayer-prepcache"
_PIECE = 1 << 24  # bytes per hashing task; hashlib releases the GIL, so pieces run in parallel


def _piece_digest(piece: np.ndarray) -> bytes:
    return hashlib.blake2b(piece.data, digest_size=32).digest()


def cache_key(
    images: Mapping[str, np.ndarray],
    prep: Preprocessor,
    store_dtype: DTypeLike,
    channels_last: bool,
) -> str:
    """The entry name for images ``{"X_train": (N, ...), ...}`` under these settings."""
    settings = {
        "format": _FORMAT,
        "version": VERSION,
        "method": prep.method,
        "epsilon": prep.epsilon,
        "scale": prep.scale,
        "store_dtype": np.dtype(store_dtype).str,
        "channels_last": channels_last,
        "splits": [[name, list(X.shape), X.dtype.str] for name, X in images.items()],
    }
    h = hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=20)
    pieces = []  # each split's bytes in C order, cut into pieces hashed in parallel
    for X in images.values():
        data = np.ascontiguousarray(X).reshape(-1).view(np.uint8)
        pieces += [data[i : i + _PIECE] for i in range(0, data.size, _PIECE)]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for digest in pool.map(_piece_digest, pieces):
            h.update(digest)
    return h.hexdigest()


def _warn(message: str) -> None:
    print(f"warning: {' '.join(message.split())}", file=sys.stderr)


def _expected(
    images: Mapping[str, np.ndarray], prep: Preprocessor, store_dtype: np.dtype, channels_last: bool
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array an entry for these images and settings must hold."""
    d = int(np.prod(images["X_train"].shape[1:]))
    expected: dict[str, tuple[tuple[int, ...], np.dtype]] = {
        "prep_mean": ((d,), np.dtype(np.float32))
    }
    if prep.method == "zca":
        expected["prep_matrix"] = ((d, d), np.dtype(np.float32))
    for name, X in images.items():
        shape = (X.shape[0], X.shape[3], X.shape[1], X.shape[2]) if channels_last else X.shape
        expected[name] = (tuple(shape), store_dtype)
    return expected


def _load(
    path: Path, key: str, prep: Preprocessor, expected: Mapping[str, tuple]
) -> tuple[Preprocessor, dict[str, np.ndarray]]:
    """The preprocessor and images of a cache entry; raises if anything does not match."""
    with open_npz(path, "preprocessing cache entry") as f:
        if str(f["format"]) != _FORMAT or int(f["version"]) != VERSION:
            raise ValueError(f"format {f['format']} version {f['version']}, not version {VERSION}")
        if str(f["key"]) != key:
            raise ValueError("its stored key does not match its name")
        arrays = {}
        for name, (shape, dtype) in expected.items():
            a = f[name]  # reading the whole array checks its zip CRC
            if a.shape != shape or a.dtype != dtype:
                raise ValueError(f"{name} is {a.dtype} {a.shape}, expected {dtype} {shape}")
            arrays[name] = a
        settings = {k: f[k] for k in ("prep_method", "prep_epsilon", "prep_scale")}
        cached = Preprocessor.from_state({**settings, **arrays})
    if (cached.method, cached.epsilon, cached.scale) != (prep.method, prep.epsilon, prep.scale):
        raise ValueError("its preprocessing settings differ from the ones asked for")
    return cached, {name: arrays[name] for name in expected if name.startswith("X_")}


def _about(prep: Preprocessor, processed: Mapping[str, np.ndarray]) -> str:
    """What an entry holds, for ``twolayer cache list``: "zca (epsilon 0.1) of ..."."""
    how = f"zca (epsilon {prep.epsilon:g})" if prep.method == "zca" else prep.method
    X = processed["X_train"]
    counts = ", ".join(f"{len(v)} {k[2:]}" for k, v in processed.items())
    return f"{how} of {counts} images {'x'.join(map(str, X.shape[1:]))} {X.dtype}"


def preprocess_splits(
    raw: Mapping[str, np.ndarray],
    method: str = "zca",
    epsilon: float = 0.1,
    store_dtype: DTypeLike = np.float16,
    *,
    cache: bool | str | os.PathLike = True,
    channels_last: bool = True,
) -> tuple[Preprocessor, dict[str, np.ndarray], bool]:
    """Fit the preprocessing on ``raw["X_train"]`` and apply it to every ``X_*`` split.

    raw: images ``X_train`` and optionally ``X_val``, ``X_test`` (N, H, W, C) uint8
    (channels-first (N, C, H, W) with ``channels_last=False``), and any other arrays
    (labels), which are passed through unchanged. Returns the fitted
    :class:`Preprocessor`, the dict with every ``X_*`` replaced by its processed
    images (N, C, H, W) in ``store_dtype``, and whether they came from the cache.

    cache: True for :func:`twolayer.cache.cache_dir`, a folder to use that one, False
    to neither read nor write a cache.
    """
    if "X_train" not in raw:
        raise ValueError(f"preprocess_splits needs raw['X_train']; got keys {sorted(raw)}")
    store_dtype = np.dtype(store_dtype)
    if store_dtype.kind != "f":
        raise ValueError(f"store_dtype must be a float dtype such as float16, got {store_dtype}")
    prep = Preprocessor(method, epsilon)
    images = {"X_train": raw["X_train"]}
    images.update((k, v) for k, v in raw.items() if k.startswith("X_") and k != "X_train")

    disk = None if cache is False else open_cache(None if cache is True else cache)
    if disk is not None:
        key = cache_key(images, prep, store_dtype, channels_last)
        path = disk.entry("prep", key)
        if disk.hit(path):
            expected = _expected(images, prep, store_dtype, channels_last)
            try:
                cached, processed = _load(path, key, prep, expected)
                return cached, {**raw, **processed}, True
            except FileNotFoundError:  # evicted by another process since: a miss
                pass
            except Exception as e:  # a damaged file fails in many ways; each means rebuild
                _warn(f"unusable preprocessing cache entry {path} ({e}); rebuilding it")

    prep.fit(images["X_train"], channels_last=channels_last)
    processed = {k: prep.transform(X, store_dtype, channels_last) for k, X in images.items()}
    if disk is not None:
        arrays = {
            "format": np.array(_FORMAT),
            "version": np.array(VERSION, np.int64),
            "key": np.array(key),
        }
        try:
            disk.store(path, {**arrays, **prep.state(), **processed}, _about(prep, processed))
        except OSError as e:  # the cache only saves time: a run goes on without it
            _warn(f"could not write the preprocessing cache entry {path} ({e})")
    return prep, {**raw, **processed}, False
