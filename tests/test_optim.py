"""Tests for the update rules: steps by hand, CS231n's formulas (bit for bit but Adam), dtypes."""

import numpy as np
import pytest

from twolayer import fast
from twolayer.optim import DEFAULTS, adam, get_update_rule, rmsprop, sgd, sgd_momentum

W0 = np.array([[1.0, -2.0], [0.5, 4.0]])
DW = np.array([[0.5, -1.0], [2.0, 0.0]])


def reference(name, w, dw, config):
    """CS231n's formulas, written out literally (new arrays everywhere)."""
    c = config
    if name == "sgd":
        return w - c["learning_rate"] * dw
    if name == "sgd_momentum":
        c["velocity"] = c["momentum"] * c["velocity"] - c["learning_rate"] * dw
        return w + c["velocity"]
    if name == "rmsprop":
        c["cache"] = c["decay_rate"] * c["cache"] + (1 - c["decay_rate"]) * dw**2
        return w - c["learning_rate"] * dw / (np.sqrt(c["cache"]) + c["epsilon"])
    c["t"] += 1
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    mt = c["m"] / (1 - c["beta1"] ** c["t"])
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * (dw**2)
    vt = c["v"] / (1 - c["beta2"] ** c["t"])
    return w - c["learning_rate"] * mt / (np.sqrt(vt) + c["epsilon"])


RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
STATE = {"sgd": [], "sgd_momentum": ["velocity"], "rmsprop": ["cache"], "adam": ["m", "v"]}


def test_sgd_one_step_by_hand():
    w, config = sgd(W0.copy(), DW, {"learning_rate": 0.1})
    np.testing.assert_allclose(w, [[0.95, -1.9], [0.3, 4.0]])


def test_sgd_momentum_one_step_by_hand():
    config = {"learning_rate": 0.1, "momentum": 0.5, "velocity": np.ones((2, 2))}
    w, config = sgd_momentum(W0.copy(), DW, config)
    # v = 0.5 * 1 - 0.1 * dw; w + v
    np.testing.assert_allclose(config["velocity"], [[0.45, 0.6], [0.3, 0.5]])
    np.testing.assert_allclose(w, [[1.45, -1.4], [0.8, 4.5]])


def test_rmsprop_two_steps_by_hand():
    config = {"learning_rate": 0.1, "decay_rate": 0.5, "epsilon": 0.0}
    w = np.array([1.0])
    w, config = rmsprop(w, np.array([2.0]), config)  # cache = 0.5 * 4 = 2
    np.testing.assert_allclose(config["cache"], [2.0])
    np.testing.assert_allclose(w, [1.0 - 0.2 / np.sqrt(2.0)])
    w, config = rmsprop(w, np.array([4.0]), config)  # cache = 1 + 8 = 9
    np.testing.assert_allclose(config["cache"], [9.0])
    np.testing.assert_allclose(w, [1.0 - 0.2 / np.sqrt(2.0) - 0.4 / 3.0])


def test_adam_steps_by_hand():
    config = {"learning_rate": 0.1, "epsilon": 0.0}
    w = np.array([1.0, 1.0])
    # Step 1: the bias-corrected moments are dw and dw**2, so the step is lr * sign(dw).
    w, config = adam(w, np.array([3.0, -0.5]), config)
    assert config["t"] == 1
    np.testing.assert_allclose(w, [0.9, 1.1])
    # Step 2 with the same gradient: the corrected moments are again dw and dw**2.
    w, config = adam(w, np.array([3.0, -0.5]), config)
    assert config["t"] == 2
    np.testing.assert_allclose(w, [0.8, 1.2])
    np.testing.assert_allclose(config["m"], [0.1 * 3 * 1.9, -0.05 * 1.9])


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_cs231n_formulas_bit_for_bit(name, dtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(dtype)
    w_ref = w.copy()
    config = {}
    ref_config = dict(DEFAULTS[name], **{k: np.zeros_like(w) for k in STATE[name]})
    if name == "adam":
        ref_config["t"] = 0
    for _ in range(5):
        dw = rng.standard_normal((4, 3)).astype(dtype)
        dw_before = dw.copy()
        next_w, config = RULES[name](w, dw, config)
        assert next_w is w  # updated in place
        np.testing.assert_array_equal(dw, dw_before)  # the gradient is left alone
        w_ref = reference(name, w_ref, dw, ref_config)
        assert_matches_formulas(name, w, w_ref)
    assert w.dtype == dtype
    for key in STATE[name]:
        assert config[key].dtype == dtype
        assert np.array_equal(config[key], ref_config[key])


def assert_matches_formulas(name, w, w_ref):
    """Bit for bit, but for Adam's folded bias corrections: equal up to rounding."""
    if name != "adam":
        assert np.array_equal(w, w_ref)
        return
    # Rounding in the step (about lr in size) can move w to a neighbouring float.
    step_rounding = 10 * np.finfo(w.dtype).eps * DEFAULTS["adam"]["learning_rate"]
    tol = step_rounding + 2 * np.spacing(np.abs(w_ref))
    assert np.all(np.abs(w - w_ref) <= tol)


@pytest.mark.parametrize("name", RULES)
def test_defaults_filled_into_config(name):
    _, config = RULES[name](np.ones(3), np.ones(3))
    for key, value in DEFAULTS[name].items():
        assert config[key] == value
    assert all(key in config for key in STATE[name])
    if name == "adam":
        assert config["t"] == 1


def test_get_update_rule():
    assert get_update_rule("adam") is adam

    def custom(w, dw, config=None):
        return w, config

    assert get_update_rule(custom) is custom
    with pytest.raises(ValueError, match="sgd, sgd_momentum, rmsprop, adam"):
        get_update_rule("adagrad")


@pytest.mark.parametrize("name", RULES)
def test_threaded_row_blocks_give_the_same_bits(name):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((700, 400)).astype(np.float32)  # above the threading threshold
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]
    default = fast.get_num_threads()
    results = []
    try:
        for threads in (1, 3):
            fast.set_num_threads(threads)
            w, config = w0.copy(), {}
            for dw in grads:
                w, config = RULES[name](w, dw, config)
            results.append(w)
    finally:
        fast.set_num_threads(default)
    assert np.array_equal(results[0], results[1])
    # and the blocks together give the bits of the formulas on the whole array
    w_ref, ref_config = w0.copy(), dict(DEFAULTS[name], **{k: 0.0 for k in STATE[name]})
    ref_config["t"] = 0
    for dw in grads:
        w_ref = reference(name, w_ref, dw, ref_config)
    assert_matches_formulas(name, results[0], w_ref)


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("shape", [(4, 3), (700, 400)])  # whole, and in threaded blocks
def test_weight_decay_steps_on_the_l2_gradient_bit_for_bit(name, shape):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal(shape).astype(np.float32)
    decay = 5e-3
    w, config = w0.copy(), {"weight_decay": decay}
    w_ref, ref_config = w0.copy(), {}
    for _ in range(3):
        dw = rng.standard_normal(shape).astype(np.float32)
        dw_before = dw.copy()
        w, config = RULES[name](w, dw, config)
        np.testing.assert_array_equal(dw, dw_before)  # the gradient is left alone
        # what TwoLayerNet's reg does to its gradient: dw += reg * w
        w_ref, ref_config = RULES[name](w_ref, dw + np.multiply(w_ref, decay), ref_config)
    assert np.array_equal(w, w_ref)  # fails if weight_decay were ignored
