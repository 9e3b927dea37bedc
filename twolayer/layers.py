"""Layers as pure forward/backward pairs, with CS231n's names and signatures.

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient and that cache and returns the gradients of its inputs; each
``*_loss(x, y)`` returns the loss and its gradient with respect to the scores.
Shapes use N (batch), D (input features), H (hidden units) and C (classes).
All functions keep the dtype of their inputs (float32 or float64).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

import numpy as np

from twolayer._validate import check_drop_probability

AffineCache = tuple[np.ndarray, np.ndarray, np.ndarray]


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """Fully connected layer ``out = x @ w + b``.

    x: (N, d_1, ..., d_k), flattened to (N, D) with D = d_1 * ... * d_k.
    w: (D, M); b: (M,). Returns out (N, M) and the cache ``(x, w, b)``.
    """
    out = x.reshape(x.shape[0], -1) @ w
    out += b  # in place: one (N, M) array instead of two
    return out, (x, w, b)


# Two signatures for the type checker: dx is an array unless compute_dx=False.
@overload
def affine_backward(
    dout: np.ndarray, cache: AffineCache, *, compute_dx: Literal[True] = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
@overload
def affine_backward(
    dout: np.ndarray, cache: AffineCache, *, compute_dx: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]: ...
def affine_backward(
    dout: np.ndarray, cache: AffineCache, *, compute_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Backward pass of :func:`affine_forward`.

    dout: (N, M). Returns dx (shaped like x), dw (D, M), db (M,).
    With ``compute_dx=False`` dx is None: the first layer of a network has no use
    for the gradient of its input, and skipping it saves a third of the work.
    """
    x, w, _ = cache
    x2d = x.reshape(x.shape[0], -1)
    dw = x2d.T @ dout
    db = dout.sum(axis=0)
    dx = (dout @ w.T).reshape(x.shape) if compute_dx else None
    return dx, dw, db


def relu_forward(x: np.ndarray, *, inplace: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit ``max(x, 0)``.

    Returns out (shaped like x) and the cache ``out``: ``out > 0`` exactly where
    ``x > 0``, so the output alone drives the backward pass. ``inplace=True``
    overwrites x, which is safe when nothing else holds it (an affine output).
    """
    # Against a row of zeros rather than the scalar 0: NumPy vectorizes maximum over
    # two arrays but runs array-against-scalar element by element, which is slower.
    zeros = np.zeros(x.shape[-1:], x.dtype)
    out = np.maximum(x, zeros, out=x if inplace else None)
    return out, out


def relu_backward(dout: np.ndarray, cache: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Backward pass of :func:`relu_forward`: pass ``dout`` where the unit was active.

    ``inplace=True`` overwrites dout (safe when the caller owns it).
    """
    # Multiplying by the boolean mask is one vectorized pass, much faster than
    # masked assignment (dx[cache <= 0] = 0).
    return np.multiply(dout, cache > 0, out=dout if inplace else None)


def dropout_forward(
    x: np.ndarray,
    p: float | Mapping[str, Any],
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout: drop each unit with probability ``p`` while training.

    x: any shape, e.g. (N, D) inputs or (N, H) hidden units. With ``rng`` a
    Generator and p > 0, returns ``out = x * mask`` and the cache ``mask`` (shaped
    and typed like x), where each entry of mask is 0 with probability p and
    1 / (1 - p) otherwise: a kept unit is scaled up so that ``E[out] = x``, and the
    net needs no rescaling at test time. With p = 0 or ``rng`` None (evaluation),
    returns x itself and the cache None, drawing nothing.

    The course's form, ``dropout_forward(x, dropout_param)``, takes instead a dict
    with ``mode`` ("train" or "test"), ``p`` and optionally ``seed``, where ``p`` is
    the probability of *keeping* a unit, as in CS231n since 2018 (the 2017 notebooks
    took p as the probability of dropping it); see :func:`course_dropout_args`.
    """
    if isinstance(p, Mapping):
        if rng is not None:
            raise TypeError("dropout_forward(x, dropout_param) takes no rng: put a seed in it")
        p, rng = course_dropout_args(p)
    check_drop_probability(p, "dropout p")
    if not p or rng is None:
        return x, None
    # Uniform draws in float32 whatever x's dtype: half the random bits of float64, and
    # p's resolution of 2**-24 is far finer than any rate worth setting.
    mask = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def course_dropout_args(
    dropout_param: Mapping[str, Any],
) -> tuple[float, np.random.Generator | None]:
    """The course's ``dropout_param`` as this module's (drop probability, generator).

    ``mode`` "test" gives no generator (nothing dropped); "train" gives one seeded
    with ``seed``, or without a seed with a draw from NumPy's global generator, so
    that ``np.random.seed`` makes the masks repeat as it does in the course.
    ``p``, the probability of keeping a unit, must lie in (0, 1].
    """
    mode = dropout_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f'dropout_param["mode"] must be "train" or "test", got {mode!r}')
    if "p" not in dropout_param:
        raise ValueError('dropout_param needs "p", the probability of keeping each unit')
    keep = float(dropout_param["p"])
    if not 0.0 < keep <= 1.0:
        raise ValueError(
            f'dropout_param["p"] is the probability of keeping a unit (the course since 2018) '
            f"and must lie in (0, 1], got {keep!r}"
        )
    if mode == "test":
        return 1.0 - keep, None
    seed = dropout_param.get("seed")
    return 1.0 - keep, np.random.default_rng(np.random.randint(2**31) if seed is None else seed)


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None) -> np.ndarray:
    """Backward pass of :func:`dropout_forward` (either form): ``dx = dout * mask``
    (dout itself when nothing was dropped)."""
    return dout if cache is None else dout * cache


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean multiclass hinge (SVM) loss with margin 1, and its gradient.

    x: (N, C) scores; y: (N,) integer labels in [0, C). The loss is
    ``mean_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1)``. Each positive margin adds
    1 / N to dx at its class j and takes 1 / N from the label's column, so
    dx (N, C) has in row i: 1/N at each violating class, minus their count / N at y_i.
    """
    n = x.shape[0]
    rows = np.arange(n)
    margins = x - x[rows, y][:, None] + 1.0
    np.maximum(margins, 0.0, out=margins)
    margins[rows, y] = 0.0  # the label's own term (always exactly 1) is not a violation
    loss = margins.sum() / n
    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] -= dx.sum(axis=1)
    dx /= n
    return float(loss), dx


def softmax_loss(
    x: np.ndarray, y: np.ndarray, *, label_smoothing: float = 0.0
) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy loss and its gradient with respect to the scores.

    x: (N, C) scores, any magnitude; y: (N,) integer labels in [0, C), or (N, C) target
    distributions (rows >= 0 summing to 1, e.g. mixup's blends of two one-hots).
    Returns the loss (a float, averaged over N) and dx (N, C) = (p - t) / N, where
    p is the softmax of each row and t the target distribution: one-hot (or y's row),
    or with ``label_smoothing`` = e, (1 - e) * one-hot + e / C. The loss is the mean of
    the cross-entropies ``-sum(t * log p)``.

    Stable for any scores: each row is shifted by its maximum (softmax does not
    change), so exp never overflows, and the log-probability is taken as
    ``shifted - log(sum(exp(shifted)))``, which never takes the log of zero.
    """
    n, c = x.shape
    rows = np.arange(n)
    shifted = x - x.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    log_norm = np.log(probs.sum(axis=1, keepdims=True))
    probs /= np.exp(log_norm)  # probs now holds the softmax; the sum is >= 1, no 0/0
    shifted -= log_norm  # shifted now holds the log-probabilities
    if np.ndim(y) == 2:  # target distributions
        t = (1.0 - label_smoothing) * y + label_smoothing / c if label_smoothing else y
        loss = -np.vdot(t, shifted) / n
        probs -= t
    else:
        nll = -shifted[rows, y]
        if label_smoothing:
            loss = (1.0 - label_smoothing) * nll.mean() - label_smoothing * shifted.mean(1).mean()
            probs -= label_smoothing / c
            probs[rows, y] -= 1.0 - label_smoothing
        else:
            loss = nll.mean()
            probs[rows, y] -= 1.0
    probs /= n
    return float(loss), probs
