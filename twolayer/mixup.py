"""Mixup: train on blends of pairs of examples, against the same blends of their targets.

Each training batch is mixed with a shuffled copy of itself, with one weight
``lam ~ Beta(alpha, alpha)`` for the whole batch (Zhang et al., "mixup: Beyond Empirical
Risk Minimization", 2018):

    X_mixed = lam * X + (1 - lam) * X[perm]
    targets = lam * onehot(y) + (1 - lam) * onehot(y[perm])

and the softmax loss is taken against those soft targets
(:func:`twolayer.layers.softmax_loss` with (N, C) targets). A small alpha draws lam
near 0 or 1 (mostly one example of each pair); alpha = 1 draws it uniformly.

    X_mixed, targets = mixup(X_batch, y_batch, alpha=0.2, num_classes=10, rng=rng)
    loss, grads = model.loss(X_mixed, targets)
"""

from __future__ import annotations

import math

import numpy as np


def mixup(
    X: np.ndarray, y: np.ndarray, alpha: float, num_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The batch mixed with a shuffled copy of itself, and the mixed one-hot targets.

    X: (N, ...) any dtype; y: (N,) integer labels in [0, num_classes). Draws lam from
    Beta(alpha, alpha), then a permutation of the batch, from ``rng``. Returns X_mixed
    shaped like X and targets (N, C), both in X's dtype if it is a float, else float32.
    X and y are left alone.
    """
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"mixup's alpha must be a finite number > 0, got {alpha!r}")
    dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(X.shape[0])
    X_mixed = np.multiply(X, lam, dtype=dtype)
    X_mixed += np.multiply(X[perm], 1.0 - lam, dtype=dtype)
    targets = np.zeros((X.shape[0], num_classes), dtype=dtype)
    rows = np.arange(X.shape[0])
    targets[rows, y] = lam
    targets[rows, y[perm]] += 1.0 - lam  # a pair of one class gets lam + (1 - lam)
    return X_mixed, targets
