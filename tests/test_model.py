"""TwoLayerNet: whole-net gradient checks, ln(C), overfitting, I/O (the course's reference
values are in test_course.py)."""

import os

import numpy as np
import pytest

from twolayer import TwoLayerNet, dropout_forward, eval_numerical_gradient, rel_error
from twolayer import model as model_module


def kink_free_problem(seed, N=4, D=6, H=8, C=5, h=1e-5, input_dropout=0.0):
    """A float64 net and data whose hidden pre-activations all sit well away from 0 (with
    ``input_dropout``: after dropping the inputs that ``default_rng(seed)`` drops first)."""
    rng = np.random.default_rng(seed)
    mask = dropout_forward(np.ones((N, D)), input_dropout, np.random.default_rng(seed))[1]
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=0.5, seed=seed)
    for k in model.params:
        model.params[k] = model.params[k].astype(np.float64)
    model.params["b1"] = rng.standard_normal(H)
    model.params["b2"] = rng.standard_normal(C)
    while True:
        X = rng.standard_normal((N, D))
        pre = (X if mask is None else X * mask) @ model.params["W1"] + model.params["b1"]
        # A perturbation h of any weight moves a pre-activation by at most h * max|X| (or h).
        if np.abs(pre).min() > 10 * h * max(1.0, np.abs(X).max()):
            break
    y = rng.integers(C, size=N)
    model.input_dropout = input_dropout
    return model, X, y


@pytest.mark.parametrize("reg", [0.0, 0.7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_net_gradient_check(reg, seed):
    model, X, y = kink_free_problem(seed)
    model.reg = reg
    _, grads = model.loss(X, y)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        assert grads[name].shape == param.shape
        assert rel_error(numeric, grads[name]) < 1e-6, name


@pytest.mark.parametrize("seed", [0, 1])
def test_whole_net_gradient_check_with_dropout(seed):
    model, X, y = kink_free_problem(seed, N=6, input_dropout=0.3)
    model.dropout, model.reg = 0.5, 0.1

    def loss(_):  # a fresh generator of one seed: the same masks at every call
        return model.loss(X, y, rng=np.random.default_rng(seed))[0]

    _, grads = model.loss(X, y, rng=np.random.default_rng(seed))
    assert loss(None) != model.loss(X, y)[0]  # units were dropped
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(loss, param, verbose=False)
        assert rel_error(numeric, grads[name]) < 1e-6, name


def test_whole_net_gradient_check_with_target_distributions():
    model, X, y = kink_free_problem(3)
    targets = np.random.default_rng(3).dirichlet(np.ones(5), size=X.shape[0])
    model.label_smoothing = 0.1
    _, grads = model.loss(X, targets)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, targets)[0], param, verbose=False)
        assert rel_error(numeric, grads[name]) < 1e-6, name


def test_dropout_only_while_training_with_a_generator():
    model, X, y = kink_free_problem(0, N=50)
    scores, (loss, grads) = model.loss(X), model.loss(X, y)
    model.dropout, model.input_dropout = 0.5, 0.2
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert np.array_equal(model.loss(X), scores)  # scores and predictions: no dropout
    assert np.array_equal(model.predict(X), scores.argmax(1))
    assert model.loss(X, y)[0] == loss  # no generator, no dropout
    assert rng.bit_generator.state == state
    dropped, _ = model.loss(X, y, rng=rng)
    assert dropped != loss and rng.bit_generator.state != state
    model.dropout = model.input_dropout = 0.0
    off, off_grads = model.loss(X, y, rng=rng)  # off: the generator is not touched
    assert off == loss and all(np.array_equal(off_grads[k], grads[k]) for k in grads)
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        model.loss(X, y, rng=0)
    model.dropout = 1.0  # an attribute set out of range is caught by the layer
    with pytest.raises(ValueError, match="dropout p is the probability"):
        model.loss(X, y, rng=rng)


def test_backward_skips_the_input_gradient(monkeypatch):
    calls = []
    original = model_module.affine_backward

    def spy(dout, cache, *, compute_dx=True):
        calls.append(compute_dx)
        return original(dout, cache, compute_dx=compute_dx)

    monkeypatch.setattr(model_module, "affine_backward", spy)
    model, X, y = kink_free_problem(0)
    model.loss(X, y)
    assert calls == [True, False]


@pytest.mark.parametrize("C", [3, 10])
def test_initial_loss_is_log_num_classes(C):
    rng = np.random.default_rng(C)
    model = TwoLayerNet(input_dim=30, hidden_dim=20, num_classes=C, weight_scale=1e-4, seed=0)
    X = rng.standard_normal((200, 30))
    loss, _ = model.loss(X, rng.integers(C, size=200))
    assert loss == pytest.approx(np.log(C), abs=1e-3)


def test_overfits_twenty_examples():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3, 4, 4))
    y = rng.integers(10, size=20)
    model = TwoLayerNet(input_dim=48, hidden_dim=50, num_classes=10, weight_scale="he", seed=0)
    for _ in range(300):
        _, grads = model.loss(X, y)
        for k in model.params:
            model.params[k] -= 0.1 * grads[k]
    assert (model.predict(X) == y).mean() == 1.0


def test_float32_and_float64_agree_to_float32_precision():
    model32, X, y = kink_free_problem(3, N=50, D=40, H=30, C=10)
    model64 = TwoLayerNet(input_dim=40, hidden_dim=30, num_classes=10, dtype=np.float64)
    model64.params = {k: v.copy() for k, v in model32.params.items()}
    model32.params = {k: v.astype(np.float32) for k, v in model32.params.items()}
    model32.reg = model64.reg = 0.1
    loss32, grads32 = model32.loss(X, y)
    loss64, grads64 = model64.loss(X, y)
    assert all(g.dtype == np.float32 for g in grads32.values())
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for k in grads64:
        scale = np.abs(grads64[k]).max()
        assert np.abs(grads32[k] - grads64[k]).max() < 1e-5 * scale, k


def test_he_init_and_seed_reproducibility():
    a = TwoLayerNet(input_dim=1000, hidden_dim=200, weight_scale="he", seed=5)
    b = TwoLayerNet(input_dim=1000, hidden_dim=200, weight_scale="he", seed=5)
    assert np.array_equal(a.params["W1"], b.params["W1"])
    assert a.params["W1"].std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    assert a.params["W1"].dtype == np.float32 and not a.params["b1"].any()


def test_predict_in_batches_matches_scores():
    rng = np.random.default_rng(0)
    model = TwoLayerNet(input_dim=12, hidden_dim=9, num_classes=4, weight_scale=0.3, seed=1)
    X = rng.standard_normal((1234, 3, 2, 2))
    scores = model.loss(X)
    proba = model.predict_proba(X, batch_size=100)
    assert np.array_equal(model.predict(X, batch_size=100), scores.argmax(1))
    assert np.allclose(proba.sum(1), 1, atol=1e-6)
    assert np.array_equal(proba.argmax(1), scores.argmax(1))


def test_save_load_round_trip(tmp_path):
    model = TwoLayerNet(
        input_dim=12, hidden_dim=9, num_classes=4, weight_scale="he", reg=0.3, seed=2,
        dropout=0.5, input_dropout=0.1,
    )  # fmt: skip
    path = model.save(tmp_path / "m.npz", mean_image=np.arange(12.0))
    loaded = TwoLayerNet.load(path)
    assert loaded.config() == model.config()
    assert (loaded.dropout, loaded.input_dropout) == (0.5, 0.1)
    for k in model.params:
        assert np.array_equal(loaded.params[k], model.params[k])
        assert loaded.params[k].dtype == model.params[k].dtype
    assert np.array_equal(TwoLayerNet.load_extra(path)["mean_image"], np.arange(12.0))
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


def test_load_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        TwoLayerNet.load(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable"):
        TwoLayerNet.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a twolayer model"):
        TwoLayerNet.load(tmp_path / "other.npz")


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.zeros((3, 5)), np.array([0, 1, 2]), "features per example"),
        (np.zeros(6), None, "shape \\(N, ...\\)"),
        (np.array([[0.0, np.nan, 0, 0, 0, 0]]), None, "NaN or inf"),
        (np.array([[0.0, np.inf, 0, 0, 0, 0]]), None, "NaN or inf"),
        (np.zeros((3, 6)), np.array([0.0, 1.0, 2.0]), "integer class labels"),
        (np.zeros((3, 6)), np.array([[0], [1], [2]]), "1-D"),
        (np.zeros((3, 6)), np.array([0, 1, 3]), "labels must lie in \\[0, 3\\)"),
        (np.zeros((3, 6)), np.array([0, -1, 2]), "labels must lie"),
        (np.zeros((3, 6)), np.array([0, 1]), "2 labels but X has 3 rows"),
        (np.zeros((3, 6)), np.full((3, 2), 0.5), r"shape \(N, C\) = \(3, 3\)"),
        (np.zeros((3, 6)), np.full((3, 3), 0.5), "rows must be distributions"),
        (np.zeros((3, 6)), np.array([[2.0, -1, 0]] * 3), "values >= 0 summing to 1"),
        (np.zeros((3, 6)), np.full((3, 3), np.nan), "NaN or inf"),
    ],
)
def test_bad_inputs_raise_clear_errors(X, y, match):
    model = TwoLayerNet(input_dim=6, hidden_dim=4, num_classes=3)
    with pytest.raises(ValueError, match=match):
        model.loss(X, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"hidden_dim": 0}, "hidden_dim must be a positive integer"),
        ({"input_dim": -3}, "input_dim"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"weight_scale": -1.0}, "weight_scale"),
        ({"weight_scale": "xavier"}, "weight_scale"),
        ({"reg": float("nan")}, "reg"),
        ({"dtype": np.int32}, "floating"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"dropout": 1.0}, r"dropout is the probability .* \[0, 1\)"),
        ({"input_dropout": -0.1}, "input_dropout is the probability"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoLayerNet(**kwargs)


def test_saved_files_get_ordinary_permissions(tmp_path):
    path = TwoLayerNet(input_dim=4, hidden_dim=3, num_classes=2).save(tmp_path / "m.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
