"""Tests for the Solver: learning, shuffling, exact resume, Ctrl-C, divergence, schedules."""

import os
import tempfile

import numpy as np
import pytest
from solver_helpers import (
    QUIET,
    RUN,
    Interrupting,
    assert_same_weights,
    blobs,
    final_weights,
    jitter,
    net,
)

from twolayer.model import TwoLayerNet
from twolayer.solver import DivergenceError, Solver


class Spy:
    """A model with one bias vector that records the examples (column 0 of X) it trains on."""

    def __init__(self, num_classes=3):
        self.params = {"b": np.zeros(num_classes)}
        self.batches = []

    def loss(self, X, y=None):
        if y is None:
            return np.zeros((X.shape[0], self.params["b"].size))
        self.batches.append(X[:, 0].astype(int).tolist())
        return 1.0, {"b": np.zeros_like(self.params["b"])}


class Cs231nStyle(TwoLayerNet):
    """A model whose loss takes no rng, as in CS231n's assignments."""

    def loss(self, X, y=None):
        return super().loss(X, y)


def test_overfits_small_data():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((50, 20)), rng.integers(0, 5, 50)
    model = TwoLayerNet(input_dim=20, hidden_dim=100, num_classes=5, weight_scale="he", seed=0)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=25,
        num_epochs=60,
        **QUIET,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.check_accuracy(X, y) == 1.0


@pytest.mark.parametrize("rule, lr", [("sgd_momentum", 0.05), ("adam", 1e-2)])
def test_learns_blobs(rule, lr):
    data = blobs()
    solver = Solver(
        net(),
        data,
        update_rule=rule,
        optim_config={"learning_rate": lr},
        num_epochs=10,
        batch_size=20,
        **QUIET,
    )
    solver.train()
    assert solver.best_val_acc >= 0.95
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_each_epoch_visits_every_example_once():
    n = 23
    X = np.arange(n, dtype=np.float64)[:, None]
    data = {"X_train": X, "y_train": np.zeros(n, dtype=int), "X_val": X, "y_val": np.zeros(n, int)}
    spy = Spy()
    Solver(spy, data, batch_size=5, num_epochs=3, **QUIET).train()
    assert [len(b) for b in spy.batches] == [5, 5, 5, 5, 3] * 3
    epochs = [sum(spy.batches[i : i + 5], []) for i in range(0, 15, 5)]
    for order in epochs:
        assert sorted(order) == list(range(n))
    assert epochs[0] != epochs[1]


def test_histories_have_the_right_lengths():
    solver = Solver(net(), blobs(), batch_size=32, num_epochs=3, **QUIET)
    solver.train()
    assert solver.iterations_per_epoch == 7
    assert len(solver.loss_history) == len(solver.lr_history) == 21
    for h in ("train_acc", "val_acc", "val_loss"):  # epoch 0, then one per epoch
        assert len(getattr(solver, f"{h}_history")) == 4
    assert len(solver.epoch_time_history) == 3
    assert solver.epoch == 3 and solver.t == 21
    assert solver.best_val_acc == max(solver.val_acc_history)
    for k, v in solver.model.params.items():  # the best params end up in the model
        assert np.array_equal(v, solver.best_params[k])


def test_step_schedule_decays_per_epoch():
    solver = Solver(
        net(),
        blobs(),
        optim_config={"learning_rate": 0.1},
        lr_decay=0.5,
        batch_size=50,
        num_epochs=3,
        **QUIET,
    )
    solver.train()
    np.testing.assert_allclose(solver.lr_history, [0.1] * 4 + [0.05] * 4 + [0.025] * 4)


def test_cosine_schedule_shape():
    solver = Solver(
        net(),
        blobs(),
        update_rule="adam",
        optim_config={"learning_rate": 0.01},
        lr_schedule="cosine",
        warmup_epochs=0.5,
        batch_size=20,
        num_epochs=4,
        **QUIET,
    )
    solver.train()
    lr = np.array(solver.lr_history)
    assert lr.size == 40
    np.testing.assert_allclose(lr[:5], 0.01 * np.arange(1, 6) / 5)  # linear warm-up
    assert lr.max() == pytest.approx(0.01)
    assert np.all(np.diff(lr[5:]) < 0)  # then strictly decreasing...
    assert lr[5 + 35 // 2] == pytest.approx(0.005, rel=0.05)  # ...through half at mid-way
    assert 0 < lr[-1] < 1e-4  # ...to nearly 0


def test_patience_stops_early():
    data = blobs()
    solver = Solver(Spy(), data, num_epochs=10, patience=2, **QUIET)  # constant val acc
    solver.train()
    assert solver.stopped_early
    assert len(solver.val_acc_history) == 1 + 2 + (solver.val_acc_history[1] > 0)


def test_uint8_images_are_gathered_without_casting():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (60, 2, 2, 3), dtype=np.uint8)
    y = rng.integers(0, 4, 60)
    model = TwoLayerNet(input_dim=12, hidden_dim=8, num_classes=4, seed=0)
    solver = Solver(
        model,
        {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
        batch_size=16,
        num_epochs=1,
        **QUIET,
    )
    solver.train()
    assert solver._X_buf.dtype == np.uint8 and len(solver.loss_history) == 4


def test_float16_images_are_widened_to_float32_exactly():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 12)).astype(np.float16)
    y = rng.integers(0, 4, 60)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    runs = []
    for X_train in (X, X.astype(np.float32)):
        model = TwoLayerNet(input_dim=12, hidden_dim=8, num_classes=4, seed=0)
        solver = Solver(model, {**data, "X_train": X_train}, batch_size=16, **QUIET)
        solver.train()
        runs.append(model.params)
    assert solver._X_buf.dtype == np.float32
    for name in runs[0]:
        assert np.array_equal(runs[0][name], runs[1][name])


@pytest.mark.parametrize("rule", ["sgd_momentum", "adam"])
def test_weight_decay_in_the_optimizer_trains_like_reg_in_the_model(rule):
    """Bit for bit the same weights: the same L2 gradient, added in the update's pass."""
    data = blobs()
    params = []
    for reg, optim_config in ((0.05, {}), (0.0, {"weight_decay": 0.05})):
        model = TwoLayerNet(input_dim=2, hidden_dim=20, num_classes=3, reg=reg, seed=0)
        solver = Solver(
            model,
            data,
            update_rule=rule,
            optim_config={"learning_rate": 1e-2, **optim_config},
            num_epochs=2,
            **QUIET,
        )
        solver.train()
        params.append(model.params)
    for name in params[0]:
        assert np.array_equal(params[0][name], params[1][name]), name
    assert solver.optim_configs["b1"]["weight_decay"] == 0.0  # biases are not decayed
    assert solver.optim_configs["W1"]["weight_decay"] == 0.05


def test_resume_from_epoch_checkpoint_is_bit_identical(tmp_path):
    data = blobs()
    full = Solver(net(), data, checkpoint_name=tmp_path / "full", **RUN)
    full.train()
    assert sorted(os.listdir(tmp_path)) == [f"full_epoch_{k}.npz" for k in range(1, 5)]

    with pytest.raises(ValueError, match="custom augment"):
        Solver.resume(tmp_path / "full_epoch_2.npz", net(seed=9), data)
    resumed = Solver.resume(
        tmp_path / "full_epoch_2.npz",
        net(seed=9),
        data,
        augment=jitter,
        checkpoint_name=tmp_path / "resumed",
    )
    assert (resumed.epoch, resumed.t) == (2, 14)
    resumed.train()
    assert_same_weights(
        final_weights(tmp_path / "full_epoch_4.npz"),
        final_weights(tmp_path / "resumed_epoch_4.npz"),
    )
    for k, v in full.model.params.items():
        assert np.array_equal(v, resumed.model.params[k])
    assert resumed.loss_history == full.loss_history
    assert resumed.val_acc_history == full.val_acc_history
    assert resumed.lr_history == full.lr_history


@pytest.mark.parametrize(
    "effect, call, dropout",
    [("interrupt", 10, 0.0), ("interrupt", 15, 0.0), ("sigint", 10, 0.0), ("late", 10, 0.3)],
)
def test_ctrl_c_checkpoints_and_resumes_exactly(tmp_path, capsys, effect, call, dropout):
    data = blobs()
    full = Solver(net(dropout=dropout), data, checkpoint_name=tmp_path / "full", **RUN)
    full.train()

    model = Interrupting(
        call, effect, input_dim=2, hidden_dim=20, num_classes=3, weight_scale="he", seed=0,
        dropout=dropout,
    )  # fmt: skip
    solver = Solver(model, data, checkpoint_name=tmp_path / "run", **RUN)
    solver.train()  # returns instead of raising
    path = tmp_path / "run_interrupted.npz"
    assert solver.interrupted and solver.interrupt_checkpoint == path
    assert str(path) in capsys.readouterr().out
    assert solver.t == call - (effect != "sigint")  # a real Ctrl-C finishes its step
    for k, v in model.params.items():
        assert np.array_equal(v, solver.best_params[k])

    resumed = Solver.resume(path, net(seed=5, dropout=dropout), data, augment=jitter)
    resumed.train()
    assert_same_weights(
        final_weights(tmp_path / "full_epoch_4.npz"), final_weights(tmp_path / "run_epoch_4.npz")
    )
    assert resumed.loss_history == full.loss_history


def test_dropout_resumes_bit_identically_and_evaluates_without_dropout(tmp_path):
    data = blobs()
    full = Solver(net(dropout=0.3, input_dropout=0.2), data, checkpoint_name=tmp_path / "f", **RUN)
    full.train()
    no_dropout = Solver(net(), data, **RUN)
    no_dropout.train()
    assert no_dropout.loss_history != full.loss_history
    resumed = Solver.resume(
        tmp_path / "f_epoch_2.npz", net(seed=9, dropout=0.3, input_dropout=0.2), data,
        augment=jitter, checkpoint_name=tmp_path / "r",
    )  # fmt: skip
    resumed.train()
    assert resumed.loss_history == full.loss_history
    assert_same_weights(
        final_weights(tmp_path / "f_epoch_4.npz"), final_weights(tmp_path / "r_epoch_4.npz")
    )
    X, y = data["X_val"], data["y_val"]
    accuracy = full.check_accuracy(X, y)
    assert accuracy == full.check_accuracy(X, y) == np.mean(full.model.predict(X) == y)


def test_a_loss_without_rng_trains_as_one_with_dropout_off():
    """A CS231n-style loss(X, y) gets no rng; TwoLayerNet's with dropout off draws nothing."""
    data = blobs()
    runs = []
    for cls in (TwoLayerNet, Cs231nStyle):
        model = cls(input_dim=2, hidden_dim=20, num_classes=3, weight_scale="he", seed=0)
        solver = Solver(model, data, **RUN)
        solver.train()
        runs.append((model.params, solver.loss_history, solver.rng.bit_generator.state))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]


def test_ctrl_c_without_checkpoint_name_writes_to_temp_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model = Interrupting(3, input_dim=2, hidden_dim=20, num_classes=3, seed=0)
    solver = Solver(model, blobs(), **QUIET)
    solver.train()
    assert solver.interrupted
    assert solver.interrupt_checkpoint == tmp_path / f"twolayer_{os.getpid()}_interrupted.npz"
    assert solver.interrupt_checkpoint.exists()
    assert Solver.resume(solver.interrupt_checkpoint, net(), blobs()).t == 2


def test_nan_loss_raises_divergence_error_and_keeps_best_params():
    model = Interrupting(10, "nan", input_dim=2, hidden_dim=20, num_classes=3, seed=0)
    solver = Solver(model, blobs(), batch_size=50, num_epochs=5, **QUIET)  # 4 iterations/epoch
    with pytest.raises(
        DivergenceError, match=r"iteration 10 \(epoch 3\).*lower learning rate"
    ) as e:
        solver.train()
    assert isinstance(e.value, FloatingPointError)
    assert (e.value.iteration, e.value.epoch) == (10, 3)
    assert len(solver.loss_history) == 9
    for k, v in model.params.items():
        assert np.array_equal(v, solver.best_params[k]) and np.all(np.isfinite(v))


def test_unknown_keyword_rejected():
    with pytest.raises(ValueError, match="unknown Solver argument.*learning_rate.*num_epoch\\b"):
        Solver(net(), blobs(), num_epoch=3, learning_rate=0.1)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"data": {"X_train": np.zeros((3, 2))}}, "missing y_train, X_val, y_val"),
        ({"y_train": np.full(200, 3)}, "y_train has labels in"),
        ({"y_train": np.zeros(199, int)}, "199 labels but X has 200"),
        ({"X_val": np.full((100, 2), np.nan)}, "X_val contains"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"num_epochs": 2.5}, "num_epochs must be a positive integer"),
        ({"optim_config": {"learning_rate": float("nan")}}, "learning_rate must be a finite"),
        ({"optim_config": {"learning_rate": -1.0}}, "learning_rate must be > 0"),
        ({"optim_config": {"weight_decay": -1e-3}}, "weight_decay must be >= 0"),
        ({"update_rule": "adagrad"}, "unknown update rule"),
        ({"update_rule": lambda w, dw, c: (w, c)}, "custom update_rule needs"),
        ({"lr_schedule": "linear"}, "lr_schedule must be"),
        ({"warmup_epochs": 1}, "needs lr_schedule cosine"),
        ({"lr_decay": "0.9"}, "lr_decay must be a number"),
        ({"optim_config": 0.01}, "optim_config must be a dict"),
        ({"augment": "flip"}, "augment must be a callable"),
        ({"on_epoch_end": "report"}, "on_epoch_end must be a callable"),
    ],
)
def test_invalid_input_rejected(change, match):
    data = blobs()
    data.update({k: change.pop(k) for k in list(change) if k in data})
    data = change.pop("data", data)
    with pytest.raises(ValueError, match=match):
        Solver(net(), data, **change)


def test_keep_checkpoints_keeps_only_the_newest(tmp_path):
    solver = Solver(net(), blobs(), checkpoint_name=tmp_path / "run", keep_checkpoints=2, **RUN)
    solver.train()
    assert sorted(os.listdir(tmp_path)) == ["run_epoch_3.npz", "run_epoch_4.npz"]
    with pytest.raises(ValueError, match="keep_checkpoints"):
        Solver(net(), blobs(), keep_checkpoints=-1, **RUN)


def test_resume_rejects_missing_and_unreadable_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        Solver.resume(tmp_path / "nope.npz", net(), blobs())
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz checkpoint"):
        Solver.resume(tmp_path / "junk.npz", net(), blobs())
