"""Test-time augmentation: exact shifts, and averages over the right views."""

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.datasets import TTA_VIEWS, tta_proba
from twolayer.datasets.tta import shift


def test_shift_moves_content_and_zero_fills():
    X = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) + 1
    down = shift(X, 1, 0)
    assert np.array_equal(down[:, :, 1:], X[:, :, :-1]) and not down[:, :, 0].any()
    left = shift(X, 0, -2)
    assert np.array_equal(left[..., :-2], X[..., 2:]) and not left[..., -2:].any()
    assert np.array_equal(shift(X, 0, 0), X)


def test_tta_averages_the_named_views():
    rng = np.random.default_rng(0)
    model = TwoLayerNet(input_dim=3 * 4 * 4, hidden_dim=7, num_classes=5, weight_scale=0.5, seed=0)
    X = rng.standard_normal((23, 3, 4, 4)).astype(np.float32)
    plain = model.predict_proba(X)
    assert np.allclose(tta_proba(model.predict_proba, X, "none", batch_size=5), plain)
    mirrored = model.predict_proba(np.ascontiguousarray(X[..., ::-1]))
    assert np.allclose(tta_proba(model.predict_proba, X, "flip"), (plain + mirrored) / 2)
    full = tta_proba(model.predict_proba, X, "flip+translate1", batch_size=10)
    assert full.shape == (23, 5) and np.allclose(full.sum(1), 1, atol=1e-5)
    assert len(TTA_VIEWS["flip+translate1"]) == 10


def test_the_grid_averages_every_shift_of_up_to_two_pixels_of_both_mirrors():
    rng = np.random.default_rng(1)
    model = TwoLayerNet(input_dim=3 * 6 * 6, hidden_dim=7, num_classes=4, weight_scale=0.5, seed=0)
    X = rng.standard_normal((9, 3, 6, 6)).astype(np.float32)
    views = [
        shift(np.ascontiguousarray(X[..., ::-1]) if flip else X, dy, dx)
        for flip in (False, True)
        for dy in range(-2, 3)
        for dx in range(-2, 3)
    ]
    expected = sum(model.predict_proba(v) for v in views) / 50
    assert len(set(TTA_VIEWS["flip+grid2"])) == 50
    assert np.allclose(tta_proba(model.predict_proba, X, "flip+grid2", batch_size=4), expected)


def test_tta_rejects_unknown_views_and_flat_rows():
    model = TwoLayerNet(input_dim=12, hidden_dim=3, num_classes=2)
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        tta_proba(model.predict_proba, np.zeros((2, 3, 2, 2)), "rotate")
    with pytest.raises(ValueError, match="\\(N, C, H, W\\)"):
        tta_proba(model.predict_proba, np.zeros((2, 12)), "flip")
