"""Numerical gradients by centered differences, to check the hand-derived backprop.

Same semantics as CS231n's ``gradient_check.py``: the functions perturb ``x`` in
place, one element at a time, and restore it. Use float64: in float32 the
rounding error of a difference quotient swamps the quantity being checked, so
each function warns (once per call) when given arrays of lower precision.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np


def _warn_low_precision(function: str, **arrays: np.ndarray) -> None:
    """Warn once if any of ``arrays`` is a float type narrower than float64."""
    low = [
        f"{name} is {a.dtype}"
        for name, a in arrays.items()
        if a.dtype.kind == "f" and a.dtype.itemsize < 8
    ]
    if low:
        warnings.warn(
            f"{function}: {', '.join(low)}; in single precision the rounding error of a "
            "centered difference is as large as the gradient itself, so relative errors "
            "near 1 mean nothing. Build the model and data with dtype=np.float64 "
            "(e.g. TwoLayerNet(..., dtype=np.float64)) before checking gradients",
            UserWarning,
            stacklevel=3,
        )


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _plus_minus(
    f: Callable[[np.ndarray], object], x: np.ndarray, ix: tuple, h: float
) -> tuple[np.ndarray, np.ndarray]:
    """``f`` at x with ``x[ix]`` moved by +h and by -h (copied), leaving x as it was."""
    old = x[ix]
    x[ix] = old + h
    plus = np.array(f(x), copy=True)  # f may return a view of x or a reused buffer
    x[ix] = old - h
    minus = np.array(f(x), copy=True)
    x[ix] = old
    return plus, minus


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True, h: float = 1e-5
) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x``: (f(x + h) - f(x - h)) / 2h per element."""
    _warn_low_precision("eval_numerical_gradient", x=x)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        plus, minus = _plus_minus(f, x, ix, h)
        grad[ix] = (plus - minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * df)`` at ``x``: backprop of ``df`` through an array function."""
    _warn_low_precision("eval_numerical_gradient_array", x=x, df=np.asarray(df))
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        plus, minus = _plus_minus(f, x, ix, h)
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
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
    _warn_low_precision("grad_check_sparse", x=x, analytic_grad=np.asarray(analytic_grad))
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        plus, minus = _plus_minus(f, x, ix, h)
        numeric = float(plus - minus) / (2 * h)
        analytic = analytic_grad[ix]
        err = abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic))
        errors.append(float(err))
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {err:e}")
    return errors
