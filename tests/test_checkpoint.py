"""Tests for checkpoint files and the Solver's state: round trips, exact resume, clear errors."""

import io
import json
import math
import re

import numpy as np
import pytest
from solver_helpers import QUIET, RUN, assert_same_weights, blobs, jitter, net

from twolayer import checkpoint, optim
from twolayer.model import TwoLayerNet
from twolayer.solver import Solver


def assert_same_tree(a, b, where="state"):
    """a equals b: the same keys, arrays of the same dtype and values, equal other values."""
    if isinstance(b, dict):
        assert isinstance(a, dict) and a.keys() == b.keys(), where
        for k in b:
            assert_same_tree(a[k], b[k], f"{where}/{k}")
    elif isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype, where
        assert a.shape == b.shape and np.array_equal(a, b), where
    else:
        assert type(a) is type(b) and a == b, where


# -- checkpoint files ------------------------------------------------------------------------


def test_save_load_round_trip_of_a_nested_dict(tmp_path):
    state = {
        "params": {"W1": np.arange(6, dtype=np.float32).reshape(2, 3), "b1": np.zeros(3)},
        "optim": {"W1": {"m": np.full((2, 3), 0.1, np.float16), "t": 7, "beta1": 0.9}, "b1": {}},
        "arrays": {
            "perm": np.array([2, 0, 1], dtype=np.int64),
            "labels": np.array([1, 255], dtype=np.uint8),
            "mask": np.array([True, False]),
            "scalar": np.array(3.5),
            "empty": np.zeros((0, 4), dtype=np.int32),
        },
        "state": {
            "epoch": 3,
            "best_val_loss": math.inf,
            "perm": None,
            "done": False,
            "name": "résumé",
            "x_shape": [32, 32, 3],
            "rng": {"state": {"state": 2**100 + 1, "inc": 5}},
        },
    }
    path = checkpoint.save(state, tmp_path / "sub" / "state.npz")
    assert path == tmp_path / "sub" / "state.npz"
    assert_same_tree(checkpoint.load(path), state)


@pytest.mark.parametrize(
    "state, error, match",
    [
        ({"a/b": 1}, ValueError, "without '/'; got 'a/b' in the top level"),
        ({"x": {"": 1}}, ValueError, "non-empty strings.* in x"),
        ({1: 1}, ValueError, "non-empty strings"),
        ({"__json__": np.zeros(1)}, ValueError, "reserved"),
        ({"optim": {"t": np.int64(3)}}, TypeError, "optim/t is a int64"),
        ({"xs": [np.zeros(2)]}, TypeError, "xs/0 is a ndarray"),
        ({"s": {1, 2}}, TypeError, "s is a set"),
    ],
)
def test_save_refuses_what_it_cannot_store(tmp_path, state, error, match):
    with pytest.raises(error, match=match):
        checkpoint.save(state, tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def _bad_file(kind, path, good):
    """Write a damaged or foreign checkpoint of the given kind to ``path``."""
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(500))
    elif kind == "corrupt":  # damage the array's data: the zip's CRC check fails on reading
        middle = len(good) // 2
        path.write_bytes(good[:middle] + bytes(16) + good[middle + 16 :])
    elif kind == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(3))
        path.write_bytes(buffer.getvalue())
    elif kind == "foreign":
        np.savez(path, weights=np.zeros(3))
    elif kind == "older":
        np.savez(path, meta_json=np.array("{}"), **{"param/W1": np.zeros(3)})
    elif kind == "format":
        np.savez(path, __json__=np.array(json.dumps({"format": "other/1", "tree": {}})))
    elif kind == "bad json":
        np.savez(path, __json__=np.array("{not json"))


@pytest.mark.parametrize(
    "kind, match",
    [
        ("empty", "is not a readable .npz checkpoint"),
        ("truncated", "is not a readable .npz checkpoint"),
        ("random", "is not a readable .npz checkpoint"),
        ("corrupt", "is a truncated or corrupt checkpoint"),
        ("npy", "is a .npy array, not a .npz checkpoint"),
        ("foreign", "is not a twolayer checkpoint$"),
        ("older", "is not a twolayer checkpoint \\(it has an older format"),
        ("format", "has checkpoint format 'other/1'"),
        ("bad json", "is a corrupt checkpoint: unreadable JSON"),
    ],
)
def test_load_names_the_file_and_what_is_wrong_with_it(tmp_path, kind, match):
    good = checkpoint.save({"params": {"W": np.arange(1000.0)}}, tmp_path / "good.npz")
    path = tmp_path / f"{kind}.npz"
    _bad_file(kind, path, good.read_bytes())
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))} {match}"):
        checkpoint.load(path)


def test_load_of_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*nope.npz"):
        checkpoint.load(tmp_path / "nope.npz")


# -- the Solver's state ----------------------------------------------------------------------


@pytest.mark.parametrize("via", ["file", "memory"])
def test_a_run_stopped_mid_epoch_continues_bit_identically(tmp_path, via):
    data = blobs()
    full = Solver(net(), data, **RUN)
    full.train()

    cut = Solver(net(), data, **RUN)
    for _ in range(3):  # 3 of the first epoch's 7 steps
        cut.step()
    if via == "file":
        path = cut.save_checkpoint(tmp_path / "cut.npz")
        assert_same_tree(checkpoint.load(path), cut.state_dict())
        resumed = Solver.resume(path, net(seed=9), data, augment=jitter)
    else:
        resumed = Solver(net(seed=9), data, **{**RUN, "seed": 5})
        resumed.load_state_dict(cut.state_dict())
    assert (resumed.epoch, resumed.t) == (0, 3)
    resumed.train()
    assert_same_weights(full.state_dict()["params"], resumed.state_dict()["params"])
    assert_same_weights(full.model.params, resumed.model.params)
    assert resumed.loss_history == full.loss_history
    # The cut run began with step(), not train(): it took no epoch 0.
    assert resumed.val_acc_history == full.val_acc_history[1:]
    assert resumed.lr_history == full.lr_history
    assert (resumed.best_epoch, resumed.best_val_loss) == (full.best_epoch, full.best_val_loss)


def test_state_dict_is_a_snapshot_and_load_state_dict_copies_it():
    solver = Solver(net(), blobs(), update_rule="adam", **QUIET)
    solver.step()
    state = solver.state_dict()
    W1, m = state["params"]["W1"].copy(), state["optim"]["W1"]["m"].copy()
    other = Solver(net(seed=1), blobs(), update_rule="adam", **QUIET)
    other.load_state_dict(state)
    for s in (solver, other):
        s.step()  # the update rules work in place
        assert not np.array_equal(s.model.params["W1"], W1)
    assert np.array_equal(state["params"]["W1"], W1)
    assert np.array_equal(state["optim"]["W1"]["m"], m)


def test_load_state_dict_refuses_other_data_or_params(tmp_path):
    state = Solver(net(), blobs(), **QUIET).state_dict()
    other_data = Solver(net(seed=3), blobs(n=330), **QUIET)
    before = {k: v.copy() for k, v in other_data.model.params.items()}
    with pytest.raises(
        ValueError, match="trained on data .*'n_train': 200.*'n_train': 220.*pass the same data"
    ):
        other_data.load_state_dict(state)
    assert_same_weights(other_data.model.params, before)  # nothing changed
    narrow = TwoLayerNet(input_dim=2, hidden_dim=7, num_classes=3, seed=0)
    with pytest.raises(ValueError, match=r"saved W1 is \w+ \(2, 20\), the model's \w+ \(2, 7\)"):
        Solver(narrow, blobs(), **QUIET).load_state_dict(state)
    with pytest.raises(ValueError, match="not a Solver state: it lacks history, state"):
        Solver(net(), blobs(), **QUIET).load_state_dict(
            {k: v for k, v in state.items() if k not in ("history", "state")}
        )

    path = checkpoint.save(state, tmp_path / "run.npz")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: the run was trained on data"):
        Solver.resume(path, net(), blobs(n=330))
    path = checkpoint.save({"params": {}}, tmp_path / "other.npz")
    with pytest.raises(ValueError, match="other.npz is a twolayer checkpoint but not of a Solver"):
        Solver.resume(path, net(), blobs())


def test_on_epoch_end_sees_each_finished_epoch_and_is_not_saved(tmp_path):
    seen = []

    def report(solver):
        checkpoint_written = (tmp_path / f"run_epoch_{solver.epoch}.npz").is_file()
        seen.append((solver, solver.epoch, len(solver.val_acc_history), checkpoint_written))

    data = blobs()
    run = {"batch_size": 50, "checkpoint_name": tmp_path / "run", **QUIET}
    solver = Solver(net(), data, num_epochs=2, on_epoch_end=report, **run)
    solver.train()
    assert seen == [(solver, 1, 2, True), (solver, 2, 3, True)]  # with epoch 0

    state = checkpoint.load(tmp_path / "run_epoch_2.npz")
    assert "on_epoch_end" not in state["settings"] and state["custom"] == {}
    resumed = Solver.resume(tmp_path / "run_epoch_2.npz", net(), data, num_epochs=3)
    assert resumed.on_epoch_end is None
    resumed = Solver.resume(
        tmp_path / "run_epoch_2.npz", net(), data, num_epochs=3, on_epoch_end=report
    )
    resumed.train()  # num_epochs=3 extends the run by one epoch
    assert seen[2:] == [(resumed, 3, 4, True)]


def test_resume_with_optim_config_replaces_only_its_entries(tmp_path):
    solver = Solver(
        net(),
        blobs(),
        update_rule="sgd_momentum",
        optim_config={"learning_rate": 0.05, "weight_decay": 0.01},
        num_epochs=1,
        checkpoint_name=tmp_path / "run",
        **QUIET,
    )
    solver.train()
    velocity = solver.optim_configs["W1"]["velocity"]
    resumed = Solver.resume(
        tmp_path / "run_epoch_1.npz", net(), blobs(), optim_config={"learning_rate": 0.01}
    )
    assert resumed.optim_config == {"learning_rate": 0.01, "weight_decay": 0.01}
    assert resumed.learning_rate == 0.01
    assert resumed.optim_configs["W1"]["learning_rate"] == 0.01
    assert resumed.optim_configs["W1"]["weight_decay"] == 0.01
    assert resumed.optim_configs["b1"]["weight_decay"] == 0.0  # biases: still no decay
    assert np.array_equal(resumed.optim_configs["W1"]["velocity"], velocity)


def my_sgd(w, dw, config=None):
    return optim.sgd(w, dw, config)


def test_a_custom_update_rule_is_saved_by_name_and_must_be_passed_again(tmp_path):
    solver = Solver(
        net(),
        blobs(),
        update_rule=my_sgd,
        optim_config={"learning_rate": 0.1},
        num_epochs=1,
        checkpoint_name=tmp_path / "run",
        **QUIET,
    )
    solver.train()
    path = tmp_path / "run_epoch_1.npz"
    state = checkpoint.load(path)
    assert state["settings"]["update_rule"] is None
    assert state["custom"] == {"update_rule": f"{__name__}.my_sgd"}
    with pytest.raises(ValueError, match=r"custom update_rule \(.*my_sgd\).*pass it again"):
        Solver.resume(path, net(), blobs())
    assert Solver.resume(path, net(), blobs(), update_rule=my_sgd).update_rule is my_sgd


def test_a_builtin_rule_passed_as_a_callable_has_its_default_learning_rate():
    solver = Solver(net(), blobs(), update_rule=optim.adam, **QUIET)
    assert solver.learning_rate == optim.DEFAULTS["adam"]["learning_rate"]
    solver.step()
    assert solver.optim_configs["W1"]["t"] == 1
