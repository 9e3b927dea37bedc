"""Learning-rate schedules: cosine with warm restarts against the plain cosine, in the Solver
(its rate at each step, exact resume) and its settings."""

import math

import numpy as np
import pytest
from solver_helpers import QUIET, assert_same_weights, blobs, final_weights, net

from twolayer.schedules import cosine_lr, cosine_restarts_lr
from twolayer.solver import Solver


def test_each_period_of_the_restarts_is_a_cosine_decay():
    base, warmup, period = 0.1, 4, 10
    rates = [cosine_restarts_lr(t, base, warmup, period) for t in range(warmup + 3 * period)]
    first = [cosine_lr(t, base, warmup, warmup + period) for t in range(warmup + period)]
    assert rates[: warmup + period] == first
    assert rates[:warmup] == [base * (t + 1) / warmup for t in range(warmup)]  # the warm-up
    for k in range(3):  # every period starts at the base rate and decays the same way
        start = warmup + k * period
        assert rates[start : start + period] == first[warmup:]
    assert rates[warmup] == base and all(np.diff(first[warmup:]) < 0)
    assert rates[warmup + period // 2] == pytest.approx(base / 2)
    assert cosine_restarts_lr(7, base, 0, 8) == pytest.approx(
        base * 0.5 * (1 + math.cos(math.pi * 7 / 8))
    )


def run(tmp_path=None, **settings):
    settings = {"update_rule": "adam", "optim_config": {"learning_rate": 0.01}, "batch_size": 20,
                "num_epochs": 4, "lr_schedule": "cosine_restarts", "restart_epochs": 1.5,
                "warmup_epochs": 0.5, **QUIET, **settings}  # fmt: skip
    if tmp_path is not None:
        settings["checkpoint_name"] = tmp_path / "run"
    return Solver(net(), blobs(), **settings)


def test_the_solver_restarts_the_rate_every_restart_epochs():
    solver = run()
    solver.train()
    lr = np.array(solver.lr_history)  # 10 steps an epoch: warm-up 5, period 15
    expected = [cosine_restarts_lr(t, 0.01, 5, 15) for t in range(40)]
    assert lr.tolist() == expected
    assert [t for t in range(1, 40) if lr[t] > lr[t - 1]] == [1, 2, 3, 4, 20, 35]


def test_resume_with_restarts_is_bit_identical(tmp_path):
    full = run(tmp_path / "a")
    full.train()
    resumed = Solver.resume(tmp_path / "a" / "run_epoch_2.npz", net(seed=3), blobs())
    assert (resumed.lr_schedule, resumed.restart_epochs) == ("cosine_restarts", 1.5)
    resumed.train()
    assert resumed.lr_history == full.lr_history and resumed.loss_history == full.loss_history
    assert_same_weights(full.model.params, resumed.model.params)
    assert_same_weights(final_weights(tmp_path / "a" / "run_epoch_4.npz"), resumed._last_params)


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"restart_epochs": None}, r"restart_epochs \(the epochs between restarts\) goes with"),
        ({"restart_epochs": 0}, "restart_epochs must be > 0, got 0"),
        ({"lr_schedule": "cosine"}, "lr_schedule cosine with restart_epochs"),
        ({"lr_decay": 0.5}, "lr_decay 0.5 needs lr_schedule step"),
        ({"lr_schedule": "linear"}, "lr_schedule must be one of cosine, cosine_restarts, step"),
    ],
)
def test_bad_restart_settings_are_refused(settings, match):
    with pytest.raises(ValueError, match=match):
        run(**settings)
