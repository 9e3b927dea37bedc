"""Weight averaging (EMA): the in-place update, the Solver's average against one taken by
hand, evaluation of the average, exact resume, and no change at all when off."""

import numpy as np
import pytest
from solver_helpers import RUN, Interrupting, assert_same_weights, blobs, final_weights, jitter, net

from twolayer import checkpoint, fast
from twolayer.averaging import WeightAverage, ema_update
from twolayer.model import TwoLayerNet
from twolayer.solver import Solver


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_ema_update_is_the_formula_in_place(dtype, threads):
    rng = np.random.default_rng(0)
    average, w = (rng.standard_normal((600, 500)).astype(dtype) for _ in range(2))  # 3 blocks
    expected = 0.9 * average.astype(np.float64) + 0.1 * w.astype(np.float64)
    before = w.copy()
    default = fast.get_num_threads()
    try:
        fast.set_num_threads(threads)
        ema_update(average, w, 0.9)
    finally:
        fast.set_num_threads(default)
    assert average.dtype == dtype and np.array_equal(w, before)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(average, expected, rtol=0, atol=tol)


class Recorder(TwoLayerNet):
    """A float64 TwoLayerNet that records its params at each training loss: the weights
    after each update but the last."""

    def __init__(self, **kwargs):
        super().__init__(dtype=np.float64, **kwargs)
        self.seen = []

    def loss(self, X, y=None, *, rng=None):
        if y is not None:
            self.seen.append({k: v.copy() for k, v in self.params.items()})
        return super().loss(X, y, rng=rng)


def test_the_average_is_the_one_taken_by_hand_and_is_what_is_evaluated():
    data = blobs()
    model = Recorder(input_dim=2, hidden_dim=20, num_classes=3, weight_scale="he", seed=0)
    evaluated = []

    def record(solver):  # the weights each epoch is evaluated on
        weights = solver.weight_average.current(solver.model.params)
        evaluated.append({k: v.copy() for k, v in weights.items()})

    settings = {**RUN, "num_train_samples": None, "ema_decay": 0.8, "ema_start_epoch": 2}
    solver = Solver(model, data, on_epoch_end=record, **settings)
    solver.train()

    per_epoch = solver.iterations_per_epoch
    after_step = model.seen[1:] + [solver._last_params]  # the weights after each update
    assert len(after_step) == 4 * per_epoch
    average = None
    for t, weights in enumerate(after_step):
        if t // per_epoch + 1 >= 2:  # from epoch 2 on
            average = (
                {k: w.copy() for k, w in weights.items()}
                if average is None
                else {k: 0.8 * average[k] + 0.2 * weights[k] for k in weights}
            )
        if (t + 1) % per_epoch == 0:
            epoch = (t + 1) // per_epoch
            expected = weights if average is None else average  # epoch 1: the weights
            for k in expected:
                np.testing.assert_allclose(evaluated[epoch - 1][k], expected[k], rtol=1e-12)
    for k in average:
        np.testing.assert_allclose(solver.weight_average.averages[k], average[k], rtol=1e-12)

    # Each epoch's accuracies, and the best params, are the average's.
    for epoch, weights in enumerate(evaluated, start=1):  # entry 0: epoch 0
        model.params.update(weights)
        train_acc = np.mean(model.predict(data["X_train"]) == data["y_train"])
        val_acc = np.mean(model.predict(data["X_val"]) == data["y_val"])
        assert (solver.train_acc_history[epoch], solver.val_acc_history[epoch]) == (
            train_acc,
            val_acc,
        )
    assert_same_weights(solver.best_params, evaluated[solver.best_epoch - 1])


def test_averaging_leaves_the_training_alone_and_off_changes_nothing():
    data = blobs()
    runs = {}
    for name, ema in (("none", {}), ("zero", {"ema_decay": 0}),
                      ("from 2", {"ema_decay": 0.9, "ema_start_epoch": 2})):  # fmt: skip
        solver = Solver(net(), data, **RUN, **ema)
        solver.train()
        runs[name] = solver
    for name in ("zero", "from 2"):
        assert runs[name].loss_history == runs["none"].loss_history
        assert_same_weights(runs[name]._last_params, runs["none"]._last_params)
        assert runs[name].rng.bit_generator.state == runs["none"].rng.bit_generator.state
    assert runs["zero"].weight_average.averages is None and runs["zero"].ema_decay is None
    assert runs["zero"].val_acc_history == runs["none"].val_acc_history
    assert_same_weights(runs["zero"].best_params, runs["none"].best_params)
    # Before its start epoch the average is the weights.
    assert runs["from 2"].val_loss_history[0] == runs["none"].val_loss_history[0]
    assert runs["from 2"].val_loss_history[1:] != runs["none"].val_loss_history[1:]


@pytest.mark.parametrize("interrupt_at", [None, 17])
def test_resume_with_averaging_is_bit_identical(tmp_path, interrupt_at):
    data = blobs()
    ema = {"ema_decay": 0.9, "ema_start_epoch": 2}
    full = Solver(net(), data, checkpoint_name=tmp_path / "full", **RUN, **ema)
    full.train()
    if interrupt_at is None:
        path = tmp_path / "full_epoch_2.npz"
    else:  # Ctrl-C in epoch 3 (7 steps an epoch), the average under way
        model = Interrupting(
            interrupt_at, input_dim=2, hidden_dim=20, num_classes=3, weight_scale="he", seed=0
        )
        cut = Solver(model, data, checkpoint_name=tmp_path / "cut", **RUN, **ema)
        cut.train()
        path = cut.interrupt_checkpoint
        assert cut.t == interrupt_at - 1 and cut.epoch == 2
    assert checkpoint.load(path)["averages"].keys() == full.model.params.keys()
    resumed = Solver.resume(path, net(seed=9), data, augment=jitter, checkpoint_name=tmp_path / "r")
    assert resumed.ema_decay == 0.9 and resumed.ema_start_epoch == 2
    resumed.train()
    a, b = (checkpoint.load(p) for p in (tmp_path / "full_epoch_4.npz", tmp_path / "r_epoch_4.npz"))
    for group in ("params", "best_params", "averages"):
        assert_same_weights(a[group], b[group])
    assert resumed.val_acc_history == full.val_acc_history
    assert_same_weights(final_weights(tmp_path / "full_epoch_4.npz"), resumed._last_params)


def test_a_checkpoint_without_averages_starts_a_fresh_average(tmp_path):
    data = blobs()
    solver = Solver(net(), data, **RUN)
    solver.train()
    state = solver.state_dict()
    assert state["averages"] is None
    del state["averages"]  # as written before averaging existed
    averaged = Solver(net(), data, **{**RUN, "num_epochs": 6}, ema_decay=0.5)
    averaged.load_state_dict(state)
    assert averaged.weight_average.averages is None
    averaged.train()
    assert averaged.weight_average.averages is not None and averaged.epoch == 6
    state = averaged.state_dict()
    state["averages"]["W1"] = state["averages"]["W1"][:1]
    with pytest.raises(ValueError, match="saved W1 is float32 \\(1, 20\\)"):
        averaged.load_state_dict(state)


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"ema_decay": 1.0}, r"ema_decay must lie in \[0, 1\)"),
        ({"ema_decay": -0.5}, "ema_decay must lie"),
        ({"ema_decay": "0.9"}, "ema_decay must be a number"),
        ({"ema_decay": 0.9, "ema_start_epoch": 0}, "ema_start_epoch must be a positive integer"),
    ],
)
def test_bad_averaging_settings_are_refused(settings, match):
    with pytest.raises(ValueError, match=match):
        Solver(net(), blobs(), **settings)


def test_weight_average_applied_puts_the_weights_back():
    model = net()
    weights = {k: v.copy() for k, v in model.params.items()}
    average = WeightAverage(0.5)
    with average.applied(model):  # nothing averaged yet: the weights themselves
        assert_same_weights(model.params, weights)
    average.update(model.params, epoch=1)
    average.averages["b2"] += 1.0
    with pytest.raises(KeyboardInterrupt), average.applied(model):
        assert np.array_equal(model.params["b2"], weights["b2"] + 1.0)
        raise KeyboardInterrupt
    assert_same_weights(model.params, weights)
