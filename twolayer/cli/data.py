"""The data a RunConfig names, ready for :func:`twolayer.config.build`.

    data, prep = load_data(config)     # X_train, y_train, X_val, y_val (+ X_test, y_test)

The spiral's points are drawn from ``data_seed`` (else ``seed``). CIFAR-10 images are
split (the first ``num_train`` for training, the last ``num_val`` for validation),
the preprocessing is fitted on the training images (or a fitted one is reused), and
each split is processed into (N, 3, 32, 32) ``store_dtype`` arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twolayer.config import RunConfig
from twolayer.datasets import (
    CLASSES,
    download_cifar10,
    load_cifar10,
    spiral_splits,
    train_val_split,
)
from twolayer.preprocess import Preprocessor


def load_data(
    config: RunConfig,
    *,
    prep: Preprocessor | None = None,
    download: bool = False,
    skip_md5: bool = False,
    progress: bool = False,
    test: bool = True,
) -> tuple[dict[str, Any], Preprocessor | None]:
    """The run's arrays and, for images, the fitted preprocessing (``prep`` when given).

    ``download`` fetches a missing CIFAR-10 (``skip_md5`` accepts a tarball in
    ``data_dir`` that is not the official release); ``test`` adds ``X_test`` and
    ``y_test``. CIFAR-10 data also holds ``class_names``.
    """
    if config.dataset == "spiral":
        seed = config.seed if config.data_seed is None else config.data_seed
        data = spiral_splits(
            config.num_per_class, config.classes, config.noise, config.val_fraction, seed
        )
        return data, None
    root = Path(config.data_dir)
    if download:
        download_cifar10(root, **({"md5": None} if skip_md5 else {}), progress=progress)
    X_train, y_train, X_test, y_test = load_cifar10(root)
    raw = train_val_split(X_train, y_train, config.num_train, config.num_val)
    if test:
        raw["X_test"], raw["y_test"] = X_test, y_test
    if prep is None:
        prep = Preprocessor(config.preprocess, config.zca_epsilon)
        prep.fit(raw["X_train"], channels_last=True)
    data: dict[str, Any] = {"class_names": list(CLASSES)}
    for split in ("train", "val", "test") if test else ("train", "val"):
        # Each uint8 array is dropped as soon as it is converted, to keep the peak low.
        X = prep.transform(raw.pop(f"X_{split}"), config.store_dtype, channels_last=True)
        data[f"X_{split}"] = X
        data[f"y_{split}"] = raw[f"y_{split}"].copy()
    return data, prep
