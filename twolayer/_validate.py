"""Input checks shared by the model, the solver and the datasets.

Each check raises ``ValueError`` with a message that says what is wrong and what
to do, so a bad array fails at the boundary instead of as a NaN ten epochs later.
"""

from __future__ import annotations

import numpy as np


def check_finite(X: np.ndarray, name: str = "X") -> None:
    """Raise if ``X`` holds NaN or inf (one cheap reduction in the common case)."""
    if X.dtype.kind not in "fc":
        return
    # One reduction with no temporary: NaN and inf survive into it, so only a
    # non-finite result needs the exact test (a finite array can still overflow the
    # reduction, which the exact test then clears). A BLAS dot product of the values
    # with themselves is faster than NumPy's pairwise sum.
    flat = X.reshape(-1) if X.flags.c_contiguous else None
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is handled just below
        total = (
            np.dot(flat, flat)
            if flat is not None and X.dtype in (np.float32, np.float64)
            else X.sum()
        )
    if not np.isfinite(total) and not np.isfinite(X).all():
        bad = np.count_nonzero(~np.isfinite(X))
        raise ValueError(
            f"{name} contains {bad} NaN or inf values; clean or impute them before training"
        )


def check_labels(y: np.ndarray, num_classes: int, n: int | None = None, name: str = "y") -> None:
    """Raise unless ``y`` is a 1-D integer array of labels in [0, num_classes)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer class labels, got dtype {y.dtype}; "
            f"convert with {name}.astype(int) if the values are whole numbers"
        )
    if n is not None and y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} labels but X has {n} rows; they must match")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{name} has labels in [{y.min()}, {y.max()}] but the model has {num_classes} "
            f"classes; labels must lie in [0, {num_classes})"
        )


def check_targets(y: np.ndarray, num_classes: int, n: int, name: str = "y") -> None:
    """Raise unless ``y`` is labels (see :func:`check_labels`) or (n, num_classes) float
    rows that are distributions over the classes (>= 0, summing to 1), as mixup makes."""
    y = np.asarray(y)
    if y.ndim != 2 or y.dtype.kind != "f":
        check_labels(y, num_classes, n=n, name=name)
        return
    if y.shape != (n, num_classes):
        raise ValueError(
            f"{name} as target distributions must have shape (N, C) = ({n}, {num_classes}), "
            f"got {y.shape}"
        )
    check_finite(y, name)
    if y.size and (y.min() < 0 or np.abs(y.sum(axis=1) - 1).max() > 1e-3):
        raise ValueError(
            f"{name}'s rows must be distributions over the classes: values >= 0 summing to 1"
        )


def check_drop_probability(p: float, name: str) -> None:
    """Raise unless ``p``, a chance of dropping a unit (dropout), lies in [0, 1)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(
            f"{name} is the probability of dropping a unit and must lie in [0, 1), got {p!r}"
        )


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int, raising unless it is a positive whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
