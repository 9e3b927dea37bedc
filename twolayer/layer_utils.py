"""The course's "sandwich" layers: common chains of layers as one forward/backward pair.

CS231n's ``layer_utils``: an affine layer followed by a ReLU, built from the
layers of :mod:`twolayer.layers` (the same code the net runs).

    out, cache = affine_relu_forward(x, w, b)        # x (N, D), w (D, H), b (H,)
    dx, dw, db = affine_relu_backward(dout, cache)   # dout (N, H)
"""

from __future__ import annotations

import numpy as np

from twolayer.layers import (
    AffineCache,
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
)

AffineReluCache = tuple[AffineCache, np.ndarray]


def affine_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, AffineReluCache]:
    """``max(x @ w + b, 0)``: x (N, d_1, ..., d_k) flattened to (N, D), w (D, M), b (M,).

    Returns out (N, M) and the cache of both layers.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a, inplace=True)  # a is this call's own array
    return out, (fc_cache, relu_cache)


def affine_relu_backward(
    dout: np.ndarray, cache: AffineReluCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`affine_relu_forward`: dout (N, M) -> dx (shaped like x),
    dw (D, M), db (M,)."""
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    assert dx is not None  # compute_dx is on
    return dx, dw, db
