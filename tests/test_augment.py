"""The cutout and noise augmentations, specs that combine them with flips and shifts, and what
every augmentation keeps (shape, dtype, input) and repeats (its draws, from a seed)."""

import re

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.datasets import augment_from_spec, gaussian_noise, make_augment, random_cutout
from twolayer.solver import Solver


def batch(n=64, dtype=np.float32, seed=0):
    """Images (n, 3, 8, 10) with values in [1, 2): no zero but a cutout's."""
    return (np.random.default_rng(seed).random((n, 3, 8, 10)) + 1).astype(dtype)


def test_cutout_zeroes_the_square_around_a_uniform_centre_in_every_channel():
    X = batch()
    before = X.copy()
    out = random_cutout(X, np.random.default_rng(0), size=3)
    # Reference: the same draws, one image at a time, the square cut off at the border.
    centres = np.random.default_rng(0).integers(0, (8, 10), size=(64, 2))
    expected = X.copy()
    for image, (cy, cx) in zip(expected, centres, strict=True):
        image[:, max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2] = 0
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(X, before)
    zeros = (out == 0).sum(axis=(1, 2, 3)) // 3
    assert zeros.max() == 9 and zeros.min() in (4, 6)  # whole squares, and cut-off ones
    np.testing.assert_array_equal(random_cutout(X, np.random.default_rng(0), size=0), X)
    even = random_cutout(X, np.random.default_rng(1), size=4)
    assert ((even == 0).sum(axis=(1, 2, 3)) // 3).max() == 16
    with pytest.raises(ValueError, match="size must be a non-negative integer"):
        random_cutout(X, np.random.default_rng(0), size=-1)


def test_noise_adds_gaussian_noise_of_the_given_std():
    X = batch(n=200)
    before = X.copy()
    out = gaussian_noise(X, np.random.default_rng(0), std=0.3)
    noise = (out - X).astype(np.float64)
    assert out.dtype == np.float32 and out.shape == X.shape
    assert abs(noise.mean()) < 0.01 and noise.std() == pytest.approx(0.3, rel=0.01)
    np.testing.assert_array_equal(X, before)
    X8 = np.full((4, 3, 8, 8), 255, dtype=np.uint8)
    out8 = gaussian_noise(X8, np.random.default_rng(0), std=2.0)
    assert out8.dtype == np.uint8 and 0 < np.count_nonzero(out8 < 255) < out8.size
    np.testing.assert_array_equal(gaussian_noise(X, np.random.default_rng(0), std=0), X)
    for bad in (-0.1, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="std must be a finite number >= 0"):
            gaussian_noise(X, np.random.default_rng(0), std=bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.uint8])
@pytest.mark.parametrize(
    "spec", ["flip+translate2", "cutout4", "noise0.7", "flip+translate2+cutout4+noise0.05"]
)
def test_augment_keeps_shape_dtype_and_input_and_repeats_with_a_seed(dtype, spec):
    X = batch(n=16, dtype=dtype)
    before = X.copy()
    augment = augment_from_spec(spec)
    a = augment(X, np.random.default_rng(5))
    b = augment(X, np.random.default_rng(5))
    c = augment(X, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == dtype and a.shape == X.shape
    np.testing.assert_array_equal(X, before)


def test_spec_names_and_make_augment():
    for spec in ("cutout8", "noise0.1", "flip+translate2+cutout8+noise0.05"):
        assert augment_from_spec(spec).__name__ == spec
    assert augment_from_spec("noise1e-2+cutout16+flip").__name__ == "flip+cutout16+noise0.01"
    assert augment_from_spec("cutout0+noise0") is None  # every part off
    augment = make_augment(flip=False, translate=0, cutout=8, noise=0.05)
    assert augment.__name__ == "cutout8+noise0.05"
    assert repr(augment) == "make_augment(flip=False, translate=0, cutout=8, noise=0.05)"
    with pytest.raises(ValueError, match="cutout must be a non-negative integer"):
        make_augment(cutout=2.5)
    with pytest.raises(ValueError, match="noise must be a finite number"):
        make_augment(noise=-1.0)
    with pytest.raises(ValueError, match="would do nothing"):
        make_augment(flip=False, translate=0, cutout=0, noise=0)


@pytest.mark.parametrize(
    "bad", ["cutout", "cutout-1", "cutout2.5", "noise", "noise-0.1", "noisenan", "noiseinf",
            "noise0.1x", "noise 0.1", "flip+cutout"],
)  # fmt: skip
def test_bad_specs_name_the_valid_forms(bad):
    forms = r'use "flip", "translateK" .* "cutoutK" .* "noiseS" .* or "none"'
    with pytest.raises(ValueError, match=f"unknown augmentation .* in '{re.escape(bad)}': {forms}"):
        augment_from_spec(bad)


def test_a_run_with_cutout_and_noise_resumes_to_the_same_weights(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 3, 4, 4)).astype(np.float32), rng.integers(0, 3, 60)
    data = {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}
    augment = augment_from_spec("flip+translate1+cutout2+noise0.1")
    settings = {"batch_size": 16, "num_epochs": 3, "augment": augment, "verbose": False, "seed": 0}

    def net():
        return TwoLayerNet(input_dim=48, hidden_dim=10, num_classes=3, weight_scale="he", seed=0)

    full = Solver(net(), data, checkpoint_name=tmp_path / "full", **settings)
    full.train()
    resumed = Solver.resume(tmp_path / "full_epoch_1.npz", net(), data, augment=augment)
    resumed.train()
    assert resumed.loss_history == full.loss_history
    for k, w in full.model.params.items():
        assert np.array_equal(w, resumed.model.params[k]), k
