"""Numerical gradients by centered differences, to check the hand-derived backprop.

Same semantics as CS231n's ``gradient_check.py``: the functions perturb ``x`` in
place, one element at a time, and restore it. Use float64: in float32 the
rounding error of a difference quotient swamps the quantity being checked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True, h: float = 1e-5
) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x``: (f(x + h) - f(x - h)) / 2h per element."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * df)`` at ``x``: backprop of ``df`` through an array function."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int | None = None,
) -> list[float]:
    """Compare ``analytic_grad`` with numerical values at ``num_checks`` random elements.

    Prints one line per element, as CS231n's helper does, and returns the relative errors.
    """
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        numeric = (fxph - fxmh) / (2 * h)
        analytic = analytic_grad[ix]
        err = abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic))
        errors.append(float(err))
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {err:e}")
    return errors
