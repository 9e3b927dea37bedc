"""Mixup: the blend against one taken by hand, its targets, and training with it (learning,
exact resume, and no change at all when off)."""

import numpy as np
import pytest
from solver_helpers import RUN, Interrupting, assert_same_weights, blobs, final_weights, jitter, net

from twolayer.mixup import mixup
from twolayer.solver import Solver


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_mixup_blends_each_example_with_another_and_their_one_hots(dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 200, (12, 3, 2, 2)).astype(dtype)
    y = rng.integers(0, 4, 12)
    before = X.copy(), y.copy()
    X_mixed, targets = mixup(X, y, alpha=0.4, num_classes=4, rng=np.random.default_rng(1))
    same = np.random.default_rng(1)
    lam = same.beta(0.4, 0.4)
    perm = same.permutation(12)
    float_dtype = np.float64 if dtype == np.float64 else np.float32
    assert X_mixed.dtype == targets.dtype == float_dtype and X_mixed.shape == X.shape
    expected = lam * X.astype(np.float64) + (1 - lam) * X[perm].astype(np.float64)
    np.testing.assert_allclose(X_mixed, expected, rtol=1e-6)
    np.testing.assert_allclose(targets, lam * np.eye(4)[y] + (1 - lam) * np.eye(4)[y[perm]],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(X, before[0]) and np.array_equal(y, before[1])
    for bad in (0, -1.0, float("nan"), "0.2"):
        with pytest.raises(ValueError, match="mixup's alpha must be a finite number > 0"):
            mixup(X, y, alpha=bad, num_classes=4, rng=rng)


def test_training_with_mixup_learns_and_off_changes_nothing():
    data = blobs()
    runs = {}
    for name, alpha in (("none", None), ("zero", 0), ("mixup", 0.4)):
        solver = Solver(net(), data, **RUN, mixup_alpha=alpha)
        solver.train()
        runs[name] = solver
    assert runs["zero"].mixup_alpha is None
    assert runs["zero"].loss_history == runs["none"].loss_history
    assert_same_weights(runs["zero"].best_params, runs["none"].best_params)
    assert runs["mixup"].loss_history != runs["none"].loss_history
    assert runs["mixup"].best_val_acc >= 0.9
    with pytest.raises(ValueError, match=r"mixup_alpha must be >= 0"):
        Solver(net(), data, mixup_alpha=-0.2)


@pytest.mark.parametrize("effect", ["epoch", "late"])
def test_resume_with_mixup_is_bit_identical(tmp_path, effect):
    data = blobs()
    full = Solver(net(), data, checkpoint_name=tmp_path / "full", **RUN, mixup_alpha=0.4)
    full.train()
    if effect == "epoch":
        path = tmp_path / "full_epoch_2.npz"
    else:  # Ctrl-C once the step's mixup is drawn
        model = Interrupting(
            10, "late", input_dim=2, hidden_dim=20, num_classes=3, weight_scale="he", seed=0
        )
        cut = Solver(model, data, checkpoint_name=tmp_path / "cut", **RUN, mixup_alpha=0.4)
        cut.train()
        path = cut.interrupt_checkpoint
    resumed = Solver.resume(path, net(seed=9), data, augment=jitter, checkpoint_name=tmp_path / "r")
    assert resumed.mixup_alpha == 0.4
    resumed.train()
    assert resumed.loss_history == full.loss_history
    assert_same_weights(
        final_weights(tmp_path / "full_epoch_4.npz"), final_weights(tmp_path / "r_epoch_4.npz")
    )
