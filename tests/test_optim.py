"""Tests for the reference update rules: steps by hand, no input changed, defaults, Solver.

That the fast kernels of twolayer.fast equal these rules is tested in test_kernels.py.
"""

import numpy as np
import pytest

from twolayer import Solver, TwoLayerNet, fast, optim
from twolayer.optim import DEFAULTS, adam, get_update_rule, rmsprop, sgd, sgd_momentum

W0 = np.array([[1.0, -2.0], [0.5, 4.0]])
DW = np.array([[0.5, -1.0], [2.0, 0.0]])
RULES = optim.UPDATE_RULES
STATE = {"sgd": [], "sgd_momentum": ["velocity"], "rmsprop": ["cache"], "adam": ["m", "v"]}


def test_sgd_one_step_by_hand():
    w, config = sgd(W0, DW, {"learning_rate": 0.1})
    np.testing.assert_allclose(w, [[0.95, -1.9], [0.3, 4.0]])


def test_sgd_momentum_one_step_by_hand():
    config = {"learning_rate": 0.1, "momentum": 0.5, "velocity": np.ones((2, 2))}
    w, config = sgd_momentum(W0, DW, config)
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


def test_weight_decay_by_hand():
    # dw + 0.5 * w = [[1, -2], [2.25, 2]]
    w, _ = sgd(W0, DW, {"learning_rate": 0.1, "weight_decay": 0.5})
    np.testing.assert_allclose(w, [[0.9, -1.8], [0.275, 3.8]])


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rules_return_new_arrays_and_change_no_input(name, dtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(dtype)
    config = {"weight_decay": 0.1}
    for _ in range(3):
        dw = rng.standard_normal((4, 3)).astype(dtype)
        before = [w.copy(), dw.copy()] + [config[k].copy() for k in STATE[name] if k in config]
        state = [config[k] for k in STATE[name] if k in config]
        next_w, config = RULES[name](w, dw, config)
        assert next_w is not w and not np.array_equal(next_w, w)
        for array, copy in zip([w, dw, *state], before, strict=True):
            assert np.array_equal(array, copy)
        w = next_w
    assert w.dtype == dtype  # Python-float hyperparameters do not upcast float32
    assert all(config[k].dtype == dtype for k in STATE[name])


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("rules", [optim.UPDATE_RULES, fast.UPDATE_RULES])
def test_defaults_filled_into_config(name, rules):
    _, config = rules[name](np.ones(3), np.ones(3))
    assert {k: config[k] for k in DEFAULTS[name]} == DEFAULTS[name]
    assert set(config) == set(DEFAULTS[name]) | set(STATE[name]) | (
        {"t"} if name == "adam" else set()
    )
    if name == "adam":
        assert config["t"] == 1


def test_defaults_are_cs231ns():
    assert DEFAULTS["sgd"] == {"learning_rate": 1e-2, "weight_decay": 0.0}
    assert DEFAULTS["sgd_momentum"]["momentum"] == 0.9
    assert DEFAULTS["rmsprop"] == {
        "learning_rate": 1e-2,
        "decay_rate": 0.99,
        "epsilon": 1e-8,
        "weight_decay": 0.0,
    }
    assert DEFAULTS["adam"] == {
        "learning_rate": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "weight_decay": 0.0,
    }


def test_get_update_rule():
    assert get_update_rule("adam") is adam
    assert fast.get_update_rule("adam") is fast.UPDATE_RULES["adam"] is not adam
    assert list(fast.UPDATE_RULES) == list(optim.UPDATE_RULES)

    def custom(w, dw, config=None):
        return w, config

    for lookup in (get_update_rule, fast.get_update_rule):
        assert lookup(custom) is custom
        with pytest.raises(ValueError, match="unknown update rule 'adagrad'.*sgd, sgd_momentum"):
            lookup("adagrad")


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("rules", [optim.UPDATE_RULES, fast.UPDATE_RULES])
def test_weight_decay_gives_the_bits_of_the_models_reg(name, rules):
    """The model adds reg * W to dW; the reference steps on dw + wd * w and the fast
    kernel on w * wd + dw. IEEE addition and multiplication are commutative and round
    once each, so all three are the same sum, bit for bit."""
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((10, 6)), rng.integers(3, size=10)
    steps = []
    for reg, decay in ((0.05, 0.0), (0.0, 0.05), (0.0, 0.0)):
        model = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, reg=reg, seed=0)
        w, config = model.params["W1"].copy(), {"weight_decay": decay}
        for _ in range(3):
            model.params["W1"] = w
            _, grads = model.loss(X, y)
            w, config = rules[name](w.copy(), grads["W1"], config)
        steps.append(w)
    assert np.array_equal(steps[0], steps[1])
    assert not np.array_equal(steps[0], steps[2])  # the decay counts


def blobs(n=90, seed=0):
    """Three Gaussian blobs in 2-D, split 2/3 train, 1/3 val."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = 3.0 * np.eye(3)[y, :2] + 0.6 * rng.standard_normal((n, 2))
    k = 2 * n // 3
    return {"X_train": X[:k], "y_train": y[:k], "X_val": X[k:], "y_val": y[k:]}


@pytest.mark.parametrize("name", ["sgd_momentum", "adam"])
def test_solver_trains_with_a_reference_rule_as_with_its_name(name):
    """A reference rule passed as a callable trains like the fast kernel of that name:
    the same weights bit for bit for momentum, up to Adam's rounding for Adam."""
    data, weights = blobs(), []
    for rule in (name, RULES[name]):
        model = TwoLayerNet(input_dim=2, hidden_dim=8, num_classes=3, weight_scale="he", seed=0)
        before = model.params["W1"].copy()
        solver = Solver(
            model,
            data,
            update_rule=rule,
            optim_config={"learning_rate": 1e-2, "weight_decay": 1e-3},
            batch_size=10,
            num_epochs=3,
            verbose=False,
            seed=0,
        )
        for _ in range(3 * solver.iterations_per_epoch):
            solver.step()
        assert not np.allclose(model.params["W1"], before)  # it trained
        weights.append(model.params)
    for key in weights[0]:
        if name == "adam":
            # float32 weights of size ~1 after 18 steps of size ~lr: a few float32 roundings.
            np.testing.assert_allclose(weights[1][key], weights[0][key], rtol=0, atol=1e-6)
        else:
            assert np.array_equal(weights[1][key], weights[0][key]), key
