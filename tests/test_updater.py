"""What the Solver runs for an update rule (twolayer/fast/updater.py), and that it says so.

Given a rule's name, the compiled kernel runs and the model's L2 term is passed to it
as weight decay, openly: ``model.loss(X, y, l2=False)``, never a changed ``model.reg``.
These tests hold that path to the plain one (the model's L2 in its loss and gradients,
the reference rule) and to the scripts' one (reg as weight decay), and check the line
that says what runs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import fast, optim
from twolayer.model import TwoLayerNet
from twolayer.solver import DivergenceError, Solver

RULES = sorted(optim.UPDATE_RULES)
_rng = np.random.default_rng(0)
DATA = {
    "X_train": _rng.standard_normal((40, 6)),
    "y_train": _rng.integers(0, 3, 40),
    "X_val": _rng.standard_normal((10, 6)),
    "y_val": _rng.integers(0, 3, 10),
}
STEPS = 12  # over two epochs of 5 batches
REL = {np.float32: 1e-6, np.float64: 1e-13}


class Spy(TwoLayerNet):
    """A TwoLayerNet that records, at each training loss, its ``reg`` and ``l2`` keyword,
    and can raise KeyboardInterrupt or return NaN at its ``fail_at``-th call."""

    def __init__(self, fail_at=None, effect="interrupt", **kwargs):
        super().__init__(**kwargs)
        self.seen, self.fail_at, self.effect = [], fail_at, effect

    def loss(self, X, y=None, *, rng=None, l2=True):
        if y is not None:
            self.seen.append((self.reg, l2))
            if len(self.seen) == self.fail_at:
                if self.effect == "nan":
                    return float("nan"), {}
                raise KeyboardInterrupt
        return super().loss(X, y, rng=rng, l2=l2)


def make(rule="adam", dtype=np.float64, reg=0.1, optim_config=None, fail_at=None, **kwargs):
    """A Solver on DATA with a Spy model of L2 strength ``reg``."""
    effect = kwargs.pop("effect", "interrupt")
    model = Spy(
        fail_at, effect, input_dim=6, hidden_dim=9, num_classes=3, weight_scale="he", reg=reg,
        dtype=dtype, seed=0, dropout=kwargs.pop("dropout", 0.0),
    )  # fmt: skip
    config = {"learning_rate": 1e-2, **(optim_config or {})}
    settings = {"batch_size": 8, "verbose": False, "seed": 0, **kwargs}
    return Solver(model, DATA, update_rule=rule, optim_config=config, **settings)


def steps(solver, n=STEPS, regs=None):
    for i in range(n):
        if regs is not None:
            solver.model.reg = regs[i]
        solver.step()
    return solver


def assert_same_weights(a, b, rel=None):
    for name, w in a.model.params.items():
        assert w.dtype == b.model.params[name].dtype
        if rel is None:
            assert np.array_equal(w, b.model.params[name]), name
        else:
            np.testing.assert_allclose(w, b.model.params[name], rtol=rel, atol=rel, err_msg=name)


def assert_same_losses(a, b, rel):
    assert len(a.loss_history) == len(b.loss_history)
    for x, y in zip(a.loss_history, b.loss_history, strict=True):
        assert math.isclose(x, y, rel_tol=rel)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop"])
def test_the_kernel_path_gives_the_weights_of_the_plain_path_bit_for_bit(rule, dtype):
    """The kernel with the model's reg as weight decay against the model's own L2 term
    and the reference rule: the same weights bit for bit, the same losses up to rounding."""
    kernel, plain = steps(make(rule, dtype)), steps(make(optim.UPDATE_RULES[rule], dtype))
    assert kernel.model.seen == [(0.1, False)] * STEPS  # the model untouched, asked openly
    assert plain.model.seen == [(0.1, True)] * STEPS
    assert_same_weights(kernel, plain)
    assert_same_losses(kernel, plain, REL[dtype])
    assert kernel.optim_configs["W1"]["weight_decay"] == 0.0  # nothing baked into the state
    # and the L2 term counts: without it the weights differ
    assert not np.array_equal(
        kernel.model.params["W1"], steps(make(rule, dtype, reg=0)).model.params["W1"]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", RULES)
def test_the_notebook_path_steps_as_the_scripts_path(rule, dtype):
    """TwoLayerNet(reg=...) with the default Solver, against reg=0 and reg passed as
    weight_decay (the scripts'): the same kernel on the same sum, bit for bit."""
    notebook = steps(make(rule, dtype, reg=0.1))
    scripts = steps(make(rule, dtype, reg=0.0, optim_config={"weight_decay": 0.1}))
    assert_same_weights(notebook, scripts)
    assert scripts.model.seen == [(0.0, True)] * STEPS


def test_adam_on_the_kernel_path_is_the_reference_up_to_rounding():
    kernel, plain = steps(make("adam")), steps(make(optim.adam))
    assert_same_weights(kernel, plain, rel=1e-12)
    assert_same_losses(kernel, plain, 1e-12)


def test_a_callable_rule_keeps_the_l2_term_in_the_model():
    solver = steps(make(fast.UPDATE_RULES["adam"]), n=3)  # the kernel itself, as a callable
    assert solver.model.seen == [(0.1, True)] * 3
    assert solver.update_note.endswith("adam, as given")
    assert_same_weights(solver, steps(make("adam"), n=3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reg_changed_between_steps_is_followed(dtype):
    regs = [0.1, 0.1, 0.0, 0.3, 1e-3, 0.0, 0.0, 0.2, 0.05, 0.05, 1.0, 0.1]
    kernel = steps(make("sgd_momentum", dtype), regs=regs)
    plain = steps(make(optim.sgd_momentum, dtype), regs=regs)
    assert [r for r, _ in kernel.model.seen] == regs
    assert [l2 for _, l2 in kernel.model.seen] == [not r for r in regs]  # reg 0: nothing taken
    assert_same_weights(kernel, plain)
    assert_same_losses(kernel, plain, REL[dtype])


def test_with_dropout_mixup_and_weight_averaging_still_the_plain_path():
    levers = {"dropout": 0.3, "mixup_alpha": 0.4, "ema_decay": 0.9}
    kernel = steps(make("sgd_momentum", **levers))
    plain = steps(make(optim.sgd_momentum, **levers))
    assert_same_weights(kernel, plain)
    for name, avg in kernel.weight_average.averages.items():
        assert np.array_equal(avg, plain.weight_average.averages[name]), name


def test_weight_decay_of_the_user_and_reg_both_apply():
    both = {"optim_config": {"weight_decay": 0.03}}
    solver, plain = steps(make("sgd", **both)), steps(make(optim.sgd, **both))
    assert solver.model.seen == [(0.1, False)] * STEPS
    assert_same_weights(solver, plain, rel=1e-12)  # (dw + reg w) + wd w, or dw + (wd + reg) w
    assert solver.optim_configs["W1"]["weight_decay"] == 0.03
    assert solver.optim_configs["b1"]["weight_decay"] == 0.0


def test_a_model_that_keeps_its_penalty_is_left_alone():
    solver = make("sgd")
    solver.model.l2_params = ()  # e.g. a subclass whose loss uses reg otherwise
    solver = Solver(solver.model, DATA, update_rule="sgd", verbose=False, batch_size=8)
    steps(solver, n=2)
    assert solver.model.seen == [(0.1, True)] * 2
    assert "L2" not in solver.update_note


def test_ctrl_c_and_divergence_inside_the_loss_leave_the_model_and_configs_alone():
    solver = steps(make(fail_at=3), n=2)
    params = {k: w.copy() for k, w in solver.model.params.items()}
    with pytest.raises(KeyboardInterrupt):
        solver.step()
    assert solver.model.reg == 0.1
    assert all(c["weight_decay"] == 0.0 for c in solver.optim_configs.values())
    assert all(np.array_equal(w, params[k]) for k, w in solver.model.params.items())
    steps(solver, n=STEPS - 2)  # training goes on as if the step had not been started
    assert_same_weights(solver, steps(make()))
    diverging = steps(make(fail_at=3, effect="nan"), n=2)
    with pytest.raises(DivergenceError):
        diverging.step()
    assert diverging.model.reg == 0.1


def test_resume_on_the_kernel_path_is_bit_exact(tmp_path):
    settings = {"num_epochs": 3, "num_train_samples": 20}
    full = make("adam", np.float32, checkpoint_name=tmp_path / "run", **settings)
    full.train()
    state = full.state_dict()
    assert all(c["weight_decay"] == 0.0 for c in state["optim"].values())  # reg not baked in
    model = Spy(input_dim=6, hidden_dim=9, num_classes=3, reg=0.1, dtype=np.float32)
    resumed = Solver.resume(tmp_path / "run_epoch_1.npz", model, DATA)
    resumed.train()
    assert model.seen == [(0.1, False)] * (2 * resumed.iterations_per_epoch)
    assert_same_weights(full, resumed)
    assert full.loss_history == resumed.loss_history


def test_what_runs_is_said_in_the_attribute_the_repr_and_the_first_verbose_line(capsys):
    solver = make("adam", num_epochs=1, verbose=True, progress=False, print_every=1000)
    expected = (
        "update rule adam: fast kernel (numba), equal to twolayer.optim.adam up to rounding; "
        "the model's L2 term (reg on W1, W2) taken as weight decay in the kernel's pass"
    )
    assert solver.update_note == expected
    assert expected in repr(solver)
    solver.train()
    assert capsys.readouterr().out.splitlines()[0] == expected
    assert make("sgd", reg=0.0).update_note.startswith(
        "update rule sgd: fast kernel (numba), equal to twolayer.optim.sgd bit for bit; "
    )
    assert make(optim.rmsprop).update_note == "update rule twolayer.optim.rmsprop, as given"
