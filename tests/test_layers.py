"""Gradient checks of every layer in float64, and the stability of the softmax loss."""

import numpy as np
import pytest

from twolayer import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
    relu_backward,
    relu_forward,
    softmax_loss,
)

TOL = 1e-7


def test_affine_backward_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    dx_num = eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx, dx_num) < TOL
    assert rel_error(dw, dw_num) < TOL
    assert rel_error(db, db_num) < TOL
    dx_skipped, dw2, db2 = affine_backward(dout, cache, compute_dx=False)
    assert dx_skipped is None and np.array_equal(dw, dw2) and np.array_equal(db, db2)


def test_relu_backward_gradcheck():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10, 10))
    x[np.abs(x) < 1e-3] = 0.5  # keep every input a step h away from the kink
    dout = rng.standard_normal(x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    assert rel_error(dx, dx_num) < TOL
    assert rel_error(relu_backward(dout.copy(), cache, inplace=True), dx) == 0


def test_relu_inplace_overwrites_and_agrees():
    x = np.array([[-1.0, 2.0], [0.0, -3.0]])
    out, _ = relu_forward(x.copy())
    out_inplace, _ = relu_forward(x, inplace=True)
    assert out_inplace is x
    assert np.array_equal(out, out_inplace)


def test_dropout_backward_gradcheck():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 8))
    dout = rng.standard_normal(x.shape)

    def forward(x):  # a fresh generator of one seed: the same mask at every call
        return dropout_forward(x, 0.4, np.random.default_rng(7))[0]

    dx_num = eval_numerical_gradient_array(forward, x, dout)
    out, mask = dropout_forward(x, 0.4, np.random.default_rng(7))
    assert 0 < np.count_nonzero(mask) < mask.size
    assert rel_error(dropout_backward(dout, mask), dx_num) < TOL
    assert np.array_equal(out, forward(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keeps_the_expectation_and_the_dtype(dtype):
    p = 0.3
    x = np.full((1000, 1000), 2.0, dtype=dtype)
    out, mask = dropout_forward(x, p, np.random.default_rng(0))
    assert out.dtype == mask.dtype == dtype and out.shape == x.shape
    assert np.count_nonzero(out == 0) / out.size == pytest.approx(p, abs=3e-3)
    assert np.allclose(out[out != 0], 2.0 / (1 - p))
    assert out.mean() == pytest.approx(2.0, rel=5e-3)
    assert np.all(x == 2.0)  # the input is left alone


def test_dropout_is_the_identity_when_off_or_evaluating():
    x = np.arange(12.0).reshape(3, 4)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    for p, generator in ((0.0, rng), (0.5, None)):
        out, cache = dropout_forward(x, p, generator)
        assert out is x and cache is None
    assert rng.bit_generator.state == state  # nothing drawn
    dout = np.ones_like(x)
    assert dropout_backward(dout, None) is dout


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan")])
def test_dropout_rejects_a_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=r"dropout p is the probability .* \[0, 1\)"):
        dropout_forward(np.ones((2, 2)), p, np.random.default_rng(0))


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_loss_gradcheck(smoothing, soft):
    rng = np.random.default_rng(2)
    num_classes, num_inputs = 10, 50
    x = 0.001 * rng.standard_normal((num_inputs, num_classes))
    y = rng.integers(num_classes, size=num_inputs)
    if soft:  # target distributions, as mixup makes
        y = rng.dirichlet(np.ones(num_classes), size=num_inputs)
    dx_num = eval_numerical_gradient(
        lambda x: softmax_loss(x, y, label_smoothing=smoothing)[0], x, verbose=False
    )
    loss, dx = softmax_loss(x, y, label_smoothing=smoothing)
    assert abs(loss - np.log(num_classes)) < 1e-2  # near-uniform scores
    # Soft targets put entries of (p - t) / N near 0 (1e-5), where the numeric
    # gradient's rounding shows in the relative error.
    assert rel_error(dx, dx_num) < (1e-5 if soft else TOL)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_one_hot_target_distributions_give_what_their_labels_give(smoothing):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 5))
    y = rng.integers(5, size=20)
    loss, dx = softmax_loss(x, y, label_smoothing=smoothing)
    soft_loss, soft_dx = softmax_loss(x, np.eye(5)[y], label_smoothing=smoothing)
    assert soft_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(soft_dx, dx, rtol=0, atol=1e-15)
    # A blend of two one-hots: the same blend of their losses and gradients.
    perm = rng.permutation(20)
    mixed = softmax_loss(x, 0.3 * np.eye(5)[y] + 0.7 * np.eye(5)[y[perm]])
    parts = [softmax_loss(x, labels) for labels in (y, y[perm])]
    assert mixed[0] == pytest.approx(0.3 * parts[0][0] + 0.7 * parts[1][0], rel=1e-12)
    np.testing.assert_allclose(mixed[1], 0.3 * parts[0][1] + 0.7 * parts[1][1], atol=1e-15)


def test_softmax_loss_is_stable_for_huge_scores():
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]])
    y = np.array([1, 0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss, dx = softmax_loss(x, y)
    assert np.isfinite(loss) and np.isfinite(dx).all()
    # Row 0 puts all mass on class 0, so -log p[1] = 1e4; row 1 splits it, -log p[0] = 2e4 + ln 2.
    assert loss == pytest.approx((1e4 + 2e4 + np.log(2)) / 2, rel=1e-12)
    assert np.allclose(dx, np.array([[1.0, -1.0, 0.0], [-1.0, 0.5, 0.5]]) / 2)


def test_softmax_loss_float32_stays_float32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    loss, dx = softmax_loss(x, np.array([0, 1, 2, 0]))
    assert dx.dtype == np.float32 and isinstance(loss, float)


def test_grad_check_sparse_and_rel_error():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 6))
    errors = grad_check_sparse(lambda x: float(np.sum(x**3)), x, 3 * x**2, num_checks=5, seed=0)
    assert len(errors) == 5 and max(errors) < 1e-7
    wrong = grad_check_sparse(lambda x: float(np.sum(x**3)), x, 2 * x**2, num_checks=5, seed=0)
    assert min(wrong) > 0.1  # a wrong gradient is caught
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == 0.5  # |1 - 3| / (1 + 3)
