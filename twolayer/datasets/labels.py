"""Class labels of any kind mapped to 0..C-1, and the train/validation split.

Users' labels are strings ("cat"), 1-based integers or floats; the model wants
integers 0..C-1. ``encode_labels`` sorts the distinct values (numerically when
every value is a number, else as text) and keeps their names, as scikit-learn's
``LabelEncoder`` does. ``train_val_split`` holds out validation rows either as
CS231n does (the last rows, for CIFAR-10) or stratified and shuffled with a seed,
so class-sorted data still gives every class its share of the validation set.

    y, names = encode_labels(["dog", "cat", "dog"])   # y = [1, 0, 1], names = ["cat", "dog"]
    split = train_val_split(X, y, val_fraction=0.1, stratify=True, seed=0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def _as_label_array(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a 1-D array of numbers or strings (object arrays become strings);
    text that reads as numbers becomes those numbers, and whole numbers integers."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row), got shape {arr.shape}")
    if arr.dtype.kind not in "biufUS":
        arr = arr.astype(str)
    if arr.dtype.kind in "US":
        try:  # numbers written as text are the numbers they write: "1" and "1.0" alike
            arr = arr.astype(np.float64)
        except ValueError:
            return arr
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or inf labels; drop or fix those rows")
    if arr.dtype.kind == "f" and (arr == np.rint(arr)).all() and (np.abs(arr) < 2**53).all():
        arr = arr.astype(np.int64)  # whole numbers as integers: class "1", not "1.0"
    return arr


def _numeric_order(names: np.ndarray) -> np.ndarray | None:
    """The order that sorts text labels as numbers ("2" before "10"), or None if any is text."""
    try:
        values = names.astype(np.float64)
    except ValueError:
        return None
    return np.argsort(values, kind="stable")


def encode_labels(values: ArrayLike, name: str = "labels") -> tuple[np.ndarray, list[str]]:
    """Map labels of any values to classes: ``(y, class_names)``.

    ``values`` (N,) holds strings, integers, floats or booleans. The classes are the
    distinct values, sorted (numerically when every value reads as a number, so 1-based
    labels 1..C become 0..C-1 and "10" sorts after "9"); ``y`` (N,) int64 indexes
    ``class_names``, the values as text. Fewer than two classes raise ``ValueError``:
    a classifier needs something to tell apart.
    """
    arr = _as_label_array(values, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to train on")
    uniques, y = np.unique(arr, return_inverse=True)
    if arr.dtype.kind in "US":
        order = _numeric_order(uniques)
        if order is not None:  # relabel so class k is the k-th smallest number
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            uniques, y = uniques[order], rank[y]
    names = [v.decode() if isinstance(v, bytes) else str(v) for v in uniques.tolist()]
    if len(names) < 2:
        raise ValueError(
            f"{name} has one class only ({names[0]!r}); a classifier needs at least two: "
            "add examples of another class"
        )
    return y.astype(np.int64).reshape(-1), names


def apply_labels(values: ArrayLike, class_names: Sequence[str], name: str = "labels") -> np.ndarray:
    """Map labels to the indices of ``class_names`` (from :func:`encode_labels` on training data).

    Values compare as text, as the names were made. A value that is not one of the
    classes raises ``ValueError`` naming it: the model cannot learn a class it never saw.
    """
    arr = _as_label_array(values, name)
    index = {c: k for k, c in enumerate(class_names)}
    texts = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.tolist()]
    unknown = sorted(set(texts) - index.keys())
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise ValueError(
            f"{name} has labels that are not among the training classes: {shown}; "
            f"the classes are {list(class_names)[:20]}"
        )
    return np.array([index[t] for t in texts], dtype=np.int64)


def check_val_fraction(value: object) -> float:
    """``value`` as a float, raising unless it is strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ValueError(f"val_fraction must be a number between 0 and 1, got {value!r}")
    if not 0 < value < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {value!r}")
    return float(value)


def _allocate(
    counts: np.ndarray, total: int, caps: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``counts`` (C,), at most ``caps`` each.

    Largest remainders get the leftover units (ties broken at random), so the result
    sums to ``total`` and no class is more than one unit from its exact share unless
    its cap binds.
    """
    share = total * counts / counts.sum()
    take = np.minimum(np.floor(share).astype(np.int64), caps)
    tiebreak = rng.random(counts.size)
    while (left := total - int(take.sum())) > 0:
        room = np.flatnonzero(take < caps)
        if room.size == 0:  # callers check total <= caps.sum(); this keeps the loop finite
            raise ValueError(f"cannot place {total} rows in classes of sizes {counts.tolist()}")
        order = room[np.lexsort((tiebreak[room], -(share[room] - take[room])))]
        take[order[:left]] += 1
    return take


def _split_sizes(
    n: int, num_train: int | None, num_val: int | None, val_fraction: float | None
) -> tuple[int, int]:
    if num_val is None:
        if val_fraction is None:
            raise ValueError("give num_val or val_fraction")
        num_val = max(1, round(check_val_fraction(val_fraction) * n))
    elif val_fraction is not None:
        raise ValueError("give num_val or val_fraction, not both")
    if num_train is None:
        num_train = n - num_val
    for value, what in ((num_train, "num_train"), (num_val, "num_val")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    if num_train < 1 or num_train + num_val > n:
        raise ValueError(
            f"cannot take {num_train} training and {num_val} validation rows from {n}; "
            "lower num_train, num_val or val_fraction"
        )
    return int(num_train), int(num_val)


def _stratified(
    y: np.ndarray, num_train: int, num_val: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, val), each class in proportion, every class kept in training."""
    classes, y_idx = np.unique(y, return_inverse=True)
    counts = np.bincount(y_idx.reshape(-1))
    if num_val > y.size - classes.size:
        raise ValueError(
            f"num_val {num_val} leaves some of the {classes.size} classes no training rows; "
            "lower num_val or val_fraction"
        )
    val_counts = _allocate(counts, num_val, counts - 1, rng)
    train_counts = _allocate(counts - val_counts, num_train, counts - val_counts, rng)
    train, val = [], []
    for k in range(classes.size):
        rows = rng.permutation(np.flatnonzero(y_idx == k))
        val.append(rows[: val_counts[k]])
        train.append(rows[val_counts[k] : val_counts[k] + train_counts[k]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(val))


def train_val_split(
    X: np.ndarray,
    y: np.ndarray,
    num_train: int | None = None,
    num_val: int | None = None,
    *,
    val_fraction: float | None = None,
    stratify: bool = False,
    seed: int | None = None,
    rows: bool = False,
) -> dict[str, np.ndarray]:
    """Split X (N, ...) and y (N,) into ``X_train``, ``y_train``, ``X_val``, ``y_val``
    (with ``rows``, also ``rows_train`` and ``rows_val``: the row indices they came from).

    With neither ``stratify`` nor ``seed`` (CS231n's CIFAR-10 split): the first
    ``num_train`` rows train and the last ``num_val`` validate, as views, so the
    validation images stay the same whatever ``num_train`` is.

    Otherwise the rows are shuffled with ``seed``; with ``stratify`` each class gets
    its share of the validation rows (largest remainders, every class keeping at
    least one training row), which matters for data sorted by class. ``num_val``
    defaults to ``round(val_fraction * N)`` and ``num_train`` to the rest. Returns
    copies, in shuffled order.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)} labels; they must match")
    if not stratify and seed is None:
        if num_train is None or num_val is None:
            raise ValueError("give num_train and num_val, or pass stratify=True or a seed")
        if num_train + num_val > n:
            raise ValueError(
                f"num_train {num_train} plus num_val {num_val} exceeds the {n} training "
                "images; lower them"
            )
        train, val = np.arange(num_train), np.arange(n - num_val, n)
        split = {
            "X_train": X[:num_train],
            "y_train": y[:num_train],
            "X_val": X[n - num_val :],
            "y_val": y[n - num_val :],
        }
        return {**split, "rows_train": train, "rows_val": val} if rows else split
    num_train, num_val = _split_sizes(n, num_train, num_val, val_fraction)
    rng = np.random.default_rng(seed)
    if stratify:
        y_arr = _as_label_array(y, "y")
        train, val = _stratified(y_arr, num_train, num_val, rng)
    else:
        perm = rng.permutation(n)
        train, val = perm[num_val : num_val + num_train], perm[:num_val]
    split = {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}
    return {**split, "rows_train": train, "rows_val": val} if rows else split
