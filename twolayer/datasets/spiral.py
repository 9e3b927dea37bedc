"""The interleaved-spiral toy problem from the CS231n notes, and a train/val split of it.

Each class is one arm of a spiral: a small 2-D set that a linear classifier cannot
separate but a two-layer net can, which makes it the standard first check that
backprop and the solver work.
"""

from __future__ import annotations

import math

import numpy as np

from twolayer._memory import check_fits
from twolayer._validate import check_positive_int


def _check_noise(noise: float) -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)):
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")
    if not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _spiral(
    num_per_class: int, num_classes: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    points = num_per_class * num_classes
    # About a dozen float64 values per point at the peak: the arms, their split copies.
    check_fits(points * 12 * 8, f"{points} spiral points", hint="lower --num-per-class",
               parts="the points and their splits")  # fmt: skip
    # Arm k: radius 0 -> 1 while the angle runs over [4k, 4k + 4] radians, as in the notes.
    radius = np.tile(np.linspace(0.0, 1.0, num_per_class), num_classes)
    angle = np.linspace(
        4.0 * np.arange(num_classes), 4.0 * np.arange(1, num_classes + 1), num_per_class, axis=1
    ).ravel()
    angle += rng.standard_normal(angle.size) * noise
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    y = np.repeat(np.arange(num_classes, dtype=np.int64), num_per_class)
    return X, y


def make_spiral(
    num_per_class: int = 100,
    num_classes: int = 3,
    noise: float = 0.2,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the CS231n spiral: ``num_classes`` interleaved arms of ``num_per_class`` points.

    Returns ``X`` float64 of shape (N, 2) with N = num_per_class * num_classes, every point
    within radius ~1 of the origin, and ``y`` int64 of shape (N,), sorted by class.
    ``noise`` is the std of the Gaussian jitter on the angle (radians). The same ``seed``
    always gives the same points.
    """
    num_per_class = check_positive_int(num_per_class, "num_per_class")
    num_classes = check_positive_int(num_classes, "num_classes")
    noise = _check_noise(noise)
    return _spiral(num_per_class, num_classes, noise, np.random.default_rng(seed))


def spiral_splits(
    num_per_class: int = 100,
    num_classes: int = 3,
    noise: float = 0.2,
    val_fraction: float = 0.2,
    seed: int | np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Sample a spiral and split it, stratified by class, into training and validation sets.

    Returns a dict with ``X_train`` (N_train, 2) float64, ``y_train`` (N_train,) int64,
    ``X_val`` and ``y_val`` likewise; each class puts ``round(val_fraction *
    num_per_class)`` points in validation, and both sets are shuffled. Deterministic for
    a given ``seed``.
    """
    num_per_class = check_positive_int(num_per_class, "num_per_class")
    num_classes = check_positive_int(num_classes, "num_classes")
    noise = _check_noise(noise)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}")
    num_val = round(val_fraction * num_per_class)
    if not 0 < num_val < num_per_class:
        raise ValueError(
            f"val_fraction={val_fraction} of {num_per_class} points per class leaves "
            f"{num_val} for validation and {num_per_class - num_val} for training; "
            "both need at least one, so raise num_per_class or change val_fraction"
        )
    rng = np.random.default_rng(seed)
    X, y = _spiral(num_per_class, num_classes, noise, rng)
    # Rows are grouped by class, so shuffling within each block of num_per_class stratifies.
    order = rng.permuted(np.arange(X.shape[0]).reshape(num_classes, num_per_class), axis=1)
    val = rng.permutation(order[:, :num_val].ravel())
    train = rng.permutation(order[:, num_val:].ravel())
    return {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}
