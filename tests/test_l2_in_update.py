"""The model's L2 penalty moved into the built-in update rules (twolayer/fast/l2.py).

A Solver with a built-in rule asks the model for its loss without the L2 term and
lets the kernel add ``reg * w``; these tests hold it to the plain path (the model's
own L2 in its loss and gradients) bit for bit, and check when it must not move.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from twolayer import optim
from twolayer.fast import UPDATE_RULES
from twolayer.fast.l2 import l2_in_update, sum_of_squares
from twolayer.model import TwoLayerNet
from twolayer.solver import DivergenceError, Solver

RULES = sorted(UPDATE_RULES)
_rng = np.random.default_rng(0)
DATA = {
    "X_train": _rng.standard_normal((40, 6)),
    "y_train": _rng.integers(0, 3, 40),
    "X_val": _rng.standard_normal((10, 6)),
    "y_val": _rng.integers(0, 3, 10),
}
STEPS = 12  # over two epochs of 5 batches


class RegSpy(TwoLayerNet):
    """A TwoLayerNet that records the ``reg`` each training loss call sees, and can
    raise KeyboardInterrupt or return NaN at its ``fail_at``-th call."""

    def __init__(self, fail_at=None, effect="interrupt", **kwargs):
        super().__init__(**kwargs)
        self.seen, self.fail_at, self.effect = [], fail_at, effect

    def loss(self, X, y=None, *, rng=None):
        if y is not None:
            self.seen.append(self.reg)
            if len(self.seen) == self.fail_at:
                if self.effect == "nan":
                    return float("nan"), {}
                raise KeyboardInterrupt
        return super().loss(X, y, rng=rng)


def make(
    rule="adam", dtype=np.float64, reg=0.1, plain=False, optim_config=None, fail_at=None,
    effect="interrupt", dropout=0.0, **solver_kwargs,
):  # fmt: skip
    """A Solver on DATA; ``plain`` keeps the L2 term in the model (``l2_params = ()``)."""
    model = RegSpy(
        fail_at, effect, input_dim=6, hidden_dim=9, num_classes=3, weight_scale="he", reg=reg,
        dtype=dtype, seed=0, dropout=dropout,
    )  # fmt: skip
    if plain:
        model.l2_params = ()
    config = {"learning_rate": 1e-2, **(optim_config or {})}
    settings = {"batch_size": 8, "verbose": False, "seed": 0, **solver_kwargs}
    return Solver(model, DATA, update_rule=rule, optim_config=config, **settings)


def steps(solver, n=STEPS, regs=None):
    for i in range(n):
        if regs is not None:
            solver.model.reg = regs[i]
        solver.step()
    return solver


def assert_same_run(a, b, rel=None):
    """Same weights and optimizer state bit for bit; losses equal, or within ``rel``."""
    for name, w in a.model.params.items():
        assert w.dtype == b.model.params[name].dtype
        assert np.array_equal(w, b.model.params[name]), name
    assert a.optim_configs.keys() == b.optim_configs.keys()
    for name, config in a.optim_configs.items():
        other = b.optim_configs[name]
        assert config.keys() == other.keys(), name
        for key, value in config.items():
            assert np.array_equal(value, other[key]), (name, key)
    if rel is None:
        assert a.loss_history == b.loss_history
    else:
        assert len(a.loss_history) == len(b.loss_history)
        for x, y in zip(a.loss_history, b.loss_history, strict=True):
            assert math.isclose(x, y, rel_tol=rel)


REL = {np.float32: 1e-6, np.float64: 1e-13}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", RULES)
def test_moved_l2_gives_the_weights_of_the_plain_path_bit_for_bit(rule, dtype):
    moved, plain = steps(make(rule, dtype)), steps(make(rule, dtype, plain=True))
    assert moved.model.seen == [0.0] * STEPS  # the model's loss left the L2 term out
    assert plain.model.seen == [0.1] * STEPS
    assert moved.model.reg == 0.1
    # loss_history keeps meaning the loss with the L2 term, equal up to rounding
    assert_same_run(moved, plain, rel=REL[dtype])
    assert moved.optim_configs["W1"]["weight_decay"] == 0.0  # nothing baked into the state
    # and the L2 term counts: without it the weights differ
    assert not np.array_equal(
        moved.model.params["W1"], steps(make(rule, dtype, reg=0)).model.params["W1"]
    )


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop"])
def test_moved_l2_gives_the_weights_of_the_reference_rule(rule):
    """The reference rules, passed as callables, keep the plain path; their kernels
    are their arithmetic bit for bit (Adam's only up to rounding), so the weights match."""
    moved = steps(make(rule, np.float32))
    reference = steps(make(optim.UPDATE_RULES[rule], np.float32))
    assert reference.model.seen == [0.1] * STEPS
    for name, w in moved.model.params.items():
        assert np.array_equal(w, reference.model.params[name]), name


def test_a_callable_rule_keeps_the_l2_term_in_the_model():
    solver = steps(make(UPDATE_RULES["adam"]), n=3)  # the fast kernel itself, as a callable
    assert solver.model.seen == [0.1] * 3
    assert_same_run(solver, steps(make("adam", plain=True), n=3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reg_changed_between_steps_is_followed(dtype):
    regs = [0.1, 0.1, 0.0, 0.3, 1e-3, 0.0, 0.0, 0.2, 0.05, 0.05, 1.0, 0.1]
    moved = steps(make("sgd_momentum", dtype), regs=regs)
    plain = steps(make("sgd_momentum", dtype, plain=True), regs=regs)
    assert moved.model.seen == [0.0] * STEPS
    assert plain.model.seen == regs
    assert_same_run(moved, plain, rel=REL[dtype])


def test_moved_l2_with_dropout_mixup_and_weight_averaging_is_still_the_plain_path():
    levers = {"dropout": 0.3, "mixup_alpha": 0.4, "ema_decay": 0.9}
    moved, plain = steps(make(**levers)), steps(make(plain=True, **levers))
    assert moved.model.seen == [0.0] * STEPS
    assert_same_run(moved, plain, rel=REL[np.float64])
    for name, avg in moved.weight_average.averages.items():
        assert np.array_equal(avg, plain.weight_average.averages[name]), name


def test_reg_zero_changes_nothing():
    moved, plain = steps(make(reg=0.0)), steps(make(reg=0.0, plain=True))
    assert_same_run(moved, plain)  # losses too, exactly


def test_weight_decay_of_the_user_and_reg_both_apply_as_written():
    """optim_config's weight_decay and the model's reg: the model keeps its L2 term and
    the update adds the decay, as on the plain path."""
    both = {"optim_config": {"weight_decay": 0.03}}
    solver, plain = steps(make(**both)), steps(make(plain=True, **both))
    assert solver.model.seen == [0.1] * STEPS
    assert_same_run(solver, plain)
    assert solver.optim_configs["W1"]["weight_decay"] == 0.03
    assert solver.optim_configs["b1"]["weight_decay"] == 0.0


@pytest.mark.parametrize(
    "reg, moved",
    [(np.float64(0.1), False), (np.float32(0.1), True), (np.array(0.1), False), (1, True)],
)
def test_reg_that_would_widen_float32_weights_stays_in_the_model(reg, moved):
    """reg * w must be computed in w's dtype for the kernel's sum to be the model's."""
    solver = steps(make("adam", np.float32, reg=0.1), n=2, regs=[reg, reg])
    plain = steps(make("adam", np.float32, reg=0.1, plain=True), n=2, regs=[reg, reg])
    assert solver.model.seen == ([0.0, 0.0] if moved else [reg, reg])
    assert solver.model.reg is reg
    assert_same_run(solver, plain, rel=1e-6)


def test_ctrl_c_inside_the_loss_leaves_reg_and_configs_as_they_were():
    solver = steps(make(fail_at=3), n=2)
    params = {k: w.copy() for k, w in solver.model.params.items()}
    with pytest.raises(KeyboardInterrupt):
        solver.step()
    assert solver.model.seen[-1] == 0.0  # the step was on the moved path
    assert solver.model.reg == 0.1
    assert all(c["weight_decay"] == 0.0 for c in solver.optim_configs.values())
    assert all(np.array_equal(w, params[k]) for k, w in solver.model.params.items())
    steps(solver, n=STEPS - 2)  # training goes on as if the step had not been started
    assert_same_run(solver, steps(make(plain=True)), rel=REL[np.float64])


def test_divergence_leaves_reg_and_configs_as_they_were():
    solver = steps(make(fail_at=3, effect="nan"), n=2)
    with pytest.raises(DivergenceError):
        solver.step()
    assert solver.model.reg == 0.1
    assert all(c["weight_decay"] == 0.0 for c in solver.optim_configs.values())


def test_an_error_in_the_update_leaves_reg_and_configs_as_they_were():
    model = SimpleNamespace(reg=0.5, l2_params=("W",), params={"W": np.ones((2, 2))})
    configs = {"W": {}}
    with pytest.raises(RuntimeError), l2_in_update(model, "sgd", configs) as l2:
        assert l2 == 0.5 * 0.5 * 4
        assert (model.reg, configs["W"]["weight_decay"]) == (0.0, 0.5)
        raise RuntimeError
    assert model.reg == 0.5 and configs == {"W": {"weight_decay": 0.0}}


def test_a_model_without_l2_params_keeps_its_penalty():
    model = SimpleNamespace(reg=0.5, params={"W": np.ones((2, 2))})
    with l2_in_update(model, "sgd", {"W": {}}) as l2:
        assert l2 == 0.0 and model.reg == 0.5


def test_resume_from_a_checkpoint_of_the_moved_path_is_bit_exact(tmp_path):
    settings = {"num_epochs": 3, "num_train_samples": 20}
    full = make("adam", np.float32, checkpoint_name=tmp_path / "run", **settings)
    full.train()
    state = full.state_dict()
    assert all(c["weight_decay"] == 0.0 for c in state["optim"].values())  # reg not baked in
    model = RegSpy(input_dim=6, hidden_dim=9, num_classes=3, reg=0.1, dtype=np.float32)
    resumed = Solver.resume(tmp_path / "run_epoch_1.npz", model, DATA)
    resumed.train()
    assert model.seen == [0.0] * (2 * resumed.iterations_per_epoch)
    assert_same_run(full, resumed)
    # and the plain path trains the same weights
    plain = make("adam", np.float32, plain=True, **settings)
    plain.train()
    for name, w in plain.model.params.items():
        assert np.array_equal(w, full.model.params[name]), name


def test_sum_of_squares_is_the_sum_up_to_rounding():
    w = np.random.default_rng(1).standard_normal((300, 7)).astype(np.float32)
    assert math.isclose(sum_of_squares(w), float(np.sum(w * w)), rel_tol=1e-6)
    assert sum_of_squares(w[:, ::2]) == pytest.approx(float(np.sum(w[:, ::2] ** 2)), rel=1e-6)
