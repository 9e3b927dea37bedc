"""The data a RunConfig names, ready for :func:`twolayer.config.build`: the run layer's loading.

    data, prep = load_data(config)     # X_train, y_train, X_val, y_val (+ X_test, y_test)
    data["fingerprint"]                # a hash of each split as loaded (twolayer.fingerprint)

The spiral's points are drawn from ``data_seed`` (else ``seed``). CIFAR-10 images are
split (the first ``num_train`` for training, the last ``num_val`` for validation),
the preprocessing is fitted on the training images (or a fitted one is reused), and
each split is processed into (N, 3, 32, 32) ``store_dtype`` arrays. The user's own
data (``config.data``: an image folder, a CSV or an npz) is loaded by
:func:`twolayer.datasets.load_dataset`, split stratified with ``data_seed`` (else
``seed``) and preprocessed the same way: images (N, C, S, S), table rows (N, D).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from twolayer.config import DATASET_FIELDS, OWN_DATA, RunConfig, preset
from twolayer.datasets import (
    CLASSES,
    detect_format,
    download_cifar10,
    load_cifar10,
    load_dataset,
    spiral_splits,
    train_val_split,
)
from twolayer.fingerprint import data_fingerprint
from twolayer.prepcache import preprocess_splits
from twolayer.preprocess import Preprocessor

BUILT_IN = ("spiral", "cifar10")  # data sources named by a word; any other is a path
_ALL_DATA_FIELDS = {"dataset", "data", *(f for fields in DATASET_FIELDS.values() for f in fields)}
_HINTS_ORDER = tuple(f.name for f in dataclasses.fields(RunConfig))

#: Most features ZCA whitening takes: its D x D covariance in float64 is 134 MB here
#: (32 x 32 RGB images have 3,072).
MAX_ZCA_FEATURES = 4096


def load_data(
    config: RunConfig,
    *,
    prep: Preprocessor | None = None,
    download: bool = False,
    skip_md5: bool = False,
    progress: bool = False,
    test: bool = True,
    cache: bool = True,
) -> tuple[dict[str, Any], Preprocessor | None]:
    """The run's arrays and, but for the spiral, the fitted preprocessing (``prep`` when
    given).

    ``download`` fetches a missing CIFAR-10 (``skip_md5`` accepts a tarball in
    ``data_dir`` that is not the official release); ``test`` adds ``X_test`` and
    ``y_test`` (the user's data: if it has a test set). CIFAR-10 and the user's data
    also hold ``class_names``; every run's data holds ``fingerprint``, the hashes of
    its splits as loaded (:func:`twolayer.fingerprint.data_fingerprint`); ``cache``
    uses the caches of decoded image folders and of preprocessed images (see
    :mod:`twolayer.cache`).
    """
    if config.dataset in OWN_DATA:
        return _own_data(config, prep, progress=progress, test=test, cache=cache)
    # A dataset's own settings are never None (RunConfig checks it).
    if config.dataset == "spiral":
        seed = config.seed if config.data_seed is None else config.data_seed
        n, classes, noise = config.num_per_class, config.classes, config.noise
        assert n is not None and classes is not None and noise is not None
        assert config.val_fraction is not None
        data: dict[str, Any] = spiral_splits(n, classes, noise, config.val_fraction, seed)
        data["fingerprint"] = data_fingerprint(data)
        return data, None
    assert config.data_dir is not None
    root = Path(config.data_dir)
    if download:
        md5: dict[str, Any] = {"md5": None} if skip_md5 else {}
        download_cifar10(root, **md5, progress=progress)
    X_train, y_train, X_test, y_test = load_cifar10(root)
    raw = train_val_split(X_train, y_train, config.num_train, config.num_val)
    if test:
        raw["X_test"], raw["y_test"] = X_test, y_test
    return preprocess_data(config, raw, prep, {"class_names": list(CLASSES)}, cache)


def preprocess_data(
    config: RunConfig,
    raw: dict[str, Any],
    prep: Preprocessor | None,
    data: dict[str, Any],
    cache: bool = True,
) -> tuple[dict[str, Any], Preprocessor]:
    """Fit ``prep`` on raw["X_train"] unless given, and add each processed split to ``data``.

    Images (N, H, W, C) become (N, C, H, W) ``store_dtype`` arrays, uint8 pixels scaled
    to [0, 1]; other rows keep their shape, in ``store_dtype`` (float32 if unset).
    uint8 images of the test split (else validation) stay in ``data["pictures"]``, and
    where its rows are in the user's file (raw["sources_<split>"]) in ``data["sources"]``.
    """
    data["fingerprint"] = data_fingerprint({**raw, **data})  # before anything changes it
    X_train = raw["X_train"]
    images = X_train.ndim == 4
    store = config.store_dtype or "float32"
    shown = "test" if "X_test" in raw else "val"
    if images and raw[f"X_{shown}"].dtype == np.uint8:
        data["pictures"] = raw[f"X_{shown}"]  # as the eye sees them, for the report
    if f"sources_{shown}" in raw:
        data["sources"] = raw[f"sources_{shown}"]
    processed = False  # whether raw's images already come processed (from the cache)
    if prep is None:
        features = int(np.prod(X_train.shape[1:]))
        if config.preprocess == "zca" and features > MAX_ZCA_FEATURES:
            raise ValueError(
                f"ZCA whitening of {features} features needs a {features} x {features} matrix; "
                "use --preprocess mean (or standardize), or a smaller --image-size "
                f"(at most {MAX_ZCA_FEATURES} features, e.g. 32 x 32 x 3)"
            )
        if images and X_train.dtype == np.uint8 and config.preprocess in ("zca", "mean"):
            # Fitted and processed once per data and settings: later runs and search
            # trials read the result from the cache instead of whitening again.
            prep, raw, _ = preprocess_splits(
                raw, config.preprocess, config.zca_epsilon or 0.1, store, cache=cache
            )
            processed = True
        else:
            assert config.preprocess is not None  # every dataset with a prep sets it
            scale = 1 / 255 if X_train.dtype == np.uint8 else 1.0
            prep = Preprocessor(config.preprocess, config.zca_epsilon or 0.1, scale)
            prep.fit(X_train, channels_last=images)
    for split in ("train", "val", "test"):
        if f"X_{split}" in raw:
            # Each raw array is dropped as soon as it is converted, to keep the peak low.
            X = raw.pop(f"X_{split}")
            if not processed:
                X = prep.transform(X, store, channels_last=images)
            data[f"X_{split}"] = X
            data[f"y_{split}"] = raw[f"y_{split}"].copy()
    return data, prep


def _own_data(
    config: RunConfig, prep: Preprocessor | None, *, progress: bool, test: bool, cache: bool
) -> tuple[dict[str, Any], Preprocessor]:
    """The user's folder, CSV or npz (``config.data``), split and preprocessed."""
    if config.data is None:
        raise ValueError(f"this {config.dataset} run names no data: give its PATH")
    assert config.val_fraction is not None  # a setting of every dataset of the user's
    options: dict[str, Any] = {}
    if config.dataset == "images":
        options = {"image_size": config.image_size, "grayscale": config.grayscale,
                   "skip_bad": config.skip_bad, "cache": cache, "progress": progress}  # fmt: skip
    raw = load_dataset(
        config.data,
        label_column=config.label_column,
        val_fraction=config.val_fraction,
        seed=config.seed if config.data_seed is None else config.data_seed,
        **options,
    )
    if raw["X_train"].ndim != 4 and (config.augment, config.tta) != ("none", "none"):
        raise ValueError(
            f"{config.data} holds rows of shape {raw['X_train'].shape[1:]}, not images "
            "(N, H, W, C): --augment and --tta must be none"
        )
    if not test:
        raw.pop("X_test", None)
    info: dict[str, Any] = {
        k: raw[k] for k in ("class_names", "feature_names", "skipped") if k in raw
    }
    return preprocess_data(config, raw, prep, info, cache)


# -- which run a data source, or arrays, make ----------------------------------------------


def source_config(source: str | os.PathLike, preset_name: str = "default") -> RunConfig:
    """The preset run of a data source: "spiral", "cifar10", or the path of an image
    folder, a .csv or an .npz (kept as an absolute path, so the run reruns from anywhere)."""
    source = os.fspath(source)
    if source in BUILT_IN:
        return preset(source, preset_name)
    if not os.path.exists(source):
        raise ValueError(
            f"{source}: no such file or folder; the data is spiral, cifar10, or the path of "
            "a folder of images, a .csv or an .npz"
        )
    return preset(detect_format(source), preset_name).replace(data=os.path.abspath(source))


def array_config(images: bool) -> RunConfig:
    """The run `twolayer train` makes of arrays: the npz preset, or for images the image
    folder's recipe (ZCA, flips and shifts, test-time views)."""
    base = preset("npz")
    if not images:
        return base
    recipe = preset("images")
    npz_fields = DATASET_FIELDS["npz"]
    return base.replace(
        **{
            name: getattr(recipe, name)
            for name in _HINTS_ORDER
            if name not in _ALL_DATA_FIELDS or name in npz_fields
        }
    )


def channels_last(X: np.ndarray) -> bool:
    """Whether images X (N, a, b, c) hold their channels last: c is 1, 3 or 4, else a is."""
    if X.shape[-1] in (1, 3, 4):
        return True
    if X.shape[1] in (1, 3, 4):
        return False
    raise ValueError(
        f"cannot tell the channel axis of images of shape {X.shape}: give (N, H, W, C) or "
        "(N, C, H, W) with C = 1, 3 or 4"
    )
