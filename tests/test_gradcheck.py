"""twolayer.gradcheck: the numerical gradients warn once when given float32 arrays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from twolayer import (
    TwoLayerNet,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def _checks(dtype):
    """Each checker called once on arrays of ``dtype``."""
    x = np.linspace(-1, 1, 6, dtype=dtype).reshape(2, 3)
    return {
        "eval_numerical_gradient": lambda: eval_numerical_gradient(
            lambda v: float(np.sum(v**2)), x, verbose=False
        ),
        "eval_numerical_gradient_array": lambda: eval_numerical_gradient_array(
            lambda v: v * 2, x, np.ones_like(x)
        ),
        "grad_check_sparse": lambda: grad_check_sparse(
            lambda v: float(np.sum(v**2)), x, 2 * x, num_checks=4, seed=0
        ),
    }


@pytest.mark.parametrize("name", list(_checks(np.float64)))
def test_float32_warns_once_per_call(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _checks(np.float32)[name]()
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert name in message and "float32" in message and "dtype=np.float64" in message
    assert caught[0].filename == __file__  # points at the caller's line


@pytest.mark.parametrize("name", list(_checks(np.float64)))
def test_float64_is_silent(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _checks(np.float64)[name]()


def _check_W2(dtype):
    """The course's check of a fresh net's W2 gradient: (relative error, warnings)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 5)), rng.integers(0, 3, 4)
    model = TwoLayerNet(5, 6, 3, weight_scale=0.5, reg=0.1, seed=0, dtype=dtype)
    _, grads = model.loss(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params["W2"], False)
    return rel_error(num, grads["W2"]), caught


def test_course_gradient_check_passes_in_float64_and_warns_in_float32():
    error, caught = _check_W2(np.float64)
    assert error < 1e-6 and not caught
    _, caught = _check_W2(np.float32)
    assert len(caught) == 1
