"""Pictures as arrays: first-layer weights in a mosaic, a model's class regions, class colours.

    mosaic = weight_grid(W1, (3, 32, 32))          # (G, G', 3) floats in [0, 1]
    grid = visualize_grid(W1.T.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # CS231n's
    xs, ys, regions = decision_regions(model, X)   # the predicted class over a grid

The report inlines them (:mod:`twolayer.report.results`) and :mod:`twolayer.plots`
writes the same arrays to PNG files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.colors import TABLEAU_COLORS, to_rgb


def class_colors(num_classes: int) -> list[tuple[float, float, float]]:
    """One colour per class (tab10, repeated past ten), as RGB in [0, 1]."""
    tab10 = [to_rgb(c) for c in TABLEAU_COLORS.values()]  # the tab10 colormap's colours
    return [tab10[i % len(tab10)] for i in range(num_classes)]


def decision_regions(
    model: Any, X: np.ndarray, resolution: int = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's predicted class over a grid covering the points ``X`` (N, 2), 10% padded.

    Returns the grid's x coordinates (R,), y coordinates (R,) and labels (R, R), row i
    at y[i]; ``model`` needs ``predict`` (e.g. a TwoLayerNet).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"a decision boundary needs 2-D points, X of shape (N, 2); got {X.shape}")
    pad = 0.1 * max(np.ptp(X, axis=0).max(), 1e-6)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    regions = model.predict(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    return xs, ys, regions


def _rescale_each(images: np.ndarray, top: float) -> np.ndarray:
    """Each image (along axis 0) min-max scaled to [0, top] on its own; constant ones to 0."""
    images = np.asarray(images, dtype=float)
    axes = tuple(range(1, images.ndim))
    lo = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - lo
    return (images - lo) * (top / np.where(span > 0, span, np.inf))


def _tile(images: np.ndarray, cols: int, pad: int, fill: float) -> np.ndarray:
    """Images (N, H, W[, C]) in a mosaic of ``cols`` columns, ``pad`` pixels of ``fill`` apart."""
    n, h, w = images.shape[:3]
    rows = math.ceil(n / cols)
    mosaic = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *images.shape[3:]), fill)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        mosaic[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return mosaic


def weight_grid(
    W1: np.ndarray, image_shape: Sequence[int], max_units: int = 64, pad: int = 1
) -> np.ndarray:
    """Tile the first ``max_units`` columns of ``W1`` as images in one mosaic.

    Each unit is rescaled to [0, 1] on its own (their scales differ widely);
    ``image_shape`` is (C, H, W) or (H, W), the layout of one input row.
    """
    W1 = np.asarray(W1)
    if W1.ndim != 2 or W1.shape[0] != math.prod(image_shape):
        raise ValueError(
            f"W1 of shape {W1.shape} does not match image_shape {tuple(image_shape)}: "
            f"expected ({math.prod(image_shape)}, hidden_dim)"
        )
    units = W1[:, :max_units].T.reshape(-1, *image_shape)
    if units.ndim == 4:  # (N, C, H, W) -> (N, H, W, C) for imshow
        units = units.transpose(0, 2, 3, 1)
    return _tile(_rescale_each(units, 1.0), math.ceil(math.sqrt(len(units))), pad, fill=1.0)


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """CS231n's ``visualize_grid``: images (N, H, W, C) in a square grid, (G, G', C) float.

    Each image is min-max scaled to [0, ubound] on its own; the grid has
    ceil(sqrt(N)) rows and columns, ``padding`` pixels of 0 between images. Show
    it with ``plt.imshow(grid.astype("uint8"))``. For first-layer weights of a
    CIFAR-10 net (rows in (C, H, W) order):
    ``visualize_grid(W1.T.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))``.
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4:
        raise ValueError(f"visualize_grid needs images of shape (N, H, W, C), got {Xs.shape}")
    if Xs.shape[0] == 0:
        raise ValueError("visualize_grid needs at least one image")
    side = math.ceil(math.sqrt(Xs.shape[0]))
    # A square grid even when its last rows are empty, as the course draws it.
    grid = _tile(_rescale_each(Xs, ubound), side, padding, fill=0.0)
    h, w = Xs.shape[1:3]
    full = side * (h + padding) - padding, side * (w + padding) - padding
    out = np.zeros((*full, Xs.shape[3]))
    out[: grid.shape[0], : grid.shape[1]] = grid
    return out
