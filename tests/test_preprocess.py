"""The Preprocessor: ZCA whitening decorrelates, round-trips through its state, keeps layouts."""

import numpy as np
import pytest

from twolayer.preprocess import Preprocessor


def correlated_images(n=4000, seed=0):
    """(n, 3, 4, 4) uint8 images whose pixels are strongly correlated (smooth blobs)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(128, 40, (n, 3, 1, 1)) + rng.normal(0, 10, (n, 3, 4, 4))
    return np.clip(base, 0, 255).astype(np.uint8)


def test_zca_whitens_the_training_data():
    X = correlated_images()
    prep = Preprocessor("zca", epsilon=1e-6).fit(X)
    Z = prep.transform(X).reshape(len(X), -1).astype(np.float64)
    cov = np.cov(Z, rowvar=False, bias=True)
    assert np.abs(Z.mean(0)).max() < 1e-3
    assert np.allclose(cov, np.eye(cov.shape[0]), atol=0.02)
    # Zero-phase: W is symmetric, so whitened images stay in pixel space.
    assert np.allclose(prep.matrix, prep.matrix.T, atol=1e-4 * np.abs(prep.matrix).max())


def test_larger_epsilon_whitens_less():
    X = correlated_images()
    var = {
        eps: Preprocessor("zca", epsilon=eps).fit(X).transform(X).astype(np.float64).var()
        for eps in (1e-4, 1e-1)
    }
    assert var[1e-1] < 0.5 * var[1e-4]


def test_channels_last_input_gives_the_same_channels_first_output():
    X = correlated_images(500)
    X_last = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
    a = Preprocessor("zca").fit(X).transform(X)
    b = Preprocessor("zca").fit(X_last, channels_last=True).transform(X_last, channels_last=True)
    assert b.shape == X.shape
    assert np.allclose(a, b, atol=1e-4)


def test_mean_only_and_float16_storage():
    X = correlated_images(300)
    prep = Preprocessor("mean").fit(X)
    out = prep.transform(X, np.float16)
    assert prep.matrix is None and out.dtype == np.float16
    expected = X.astype(np.float64) / 255 - (X.astype(np.float64) / 255).mean(0)
    assert np.abs(out - expected).max() < 2e-3


def test_state_round_trip(tmp_path):
    X = correlated_images(300)
    prep = Preprocessor("zca", epsilon=0.05).fit(X)
    np.savez(tmp_path / "p.npz", **prep.state())
    with np.load(tmp_path / "p.npz", allow_pickle=False) as f:
        again = Preprocessor.from_state(dict(f))
    assert (again.method, again.epsilon) == ("zca", 0.05)
    assert np.array_equal(again.transform(X), prep.transform(X))


def test_clear_errors():
    with pytest.raises(ValueError, match="unknown preprocessing"):
        Preprocessor("pca")
    with pytest.raises(ValueError, match="epsilon"):
        Preprocessor("zca", epsilon=0)
    with pytest.raises(RuntimeError, match="before fit"):
        Preprocessor().transform(np.zeros((2, 3, 4, 4)))
    prep = Preprocessor("mean").fit(correlated_images(10))
    with pytest.raises(ValueError, match="do not match"):
        prep.transform(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="missing"):
        Preprocessor.from_state({"prep_method": np.array("zca")})


def reference_zca(X, epsilon):
    """The plain float64 math on channels-first images X (N, C, H, W): mean, W, X_white."""
    rows = X.reshape(len(X), -1) / 255.0
    mean = rows.mean(axis=0)
    centred = rows - mean
    cov = centred.T @ centred / len(X)
    eigvals, eigvecs = np.linalg.eigh(cov)
    W = (eigvecs / np.sqrt(np.clip(eigvals, 0, None) + epsilon)) @ eigvecs.T
    return mean, W, centred @ W


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("epsilon", [0.1, 1e-2, 1e-4])
def test_zca_equals_the_float64_reference(monkeypatch, channels_last, epsilon):
    # Stated tolerance: the float32 fit and transform agree with the float64 math to
    # 2e-5 of the largest value; float16 storage adds its own rounding (2**-11 relative).
    monkeypatch.setattr("twolayer.preprocess._CHUNK", 64)  # several chunks on tiny data
    X = correlated_images(300, seed=3)
    mean, W, white = reference_zca(X, epsilon)
    X_in = np.ascontiguousarray(X.transpose(0, 2, 3, 1)) if channels_last else X
    prep = Preprocessor("zca", epsilon).fit(X_in, channels_last=channels_last)
    out32 = prep.transform(X_in, channels_last=channels_last).reshape(len(X), -1)
    out16 = prep.transform(X_in, np.float16, channels_last=channels_last).reshape(len(X), -1)
    assert prep.mean.dtype == prep.matrix.dtype == out32.dtype == np.float32
    assert np.abs(prep.mean - mean).max() < 1e-6
    assert np.abs(prep.matrix - W).max() < 2e-5 * np.abs(W).max()
    assert np.abs(out32 - white).max() < 2e-5 * np.abs(white).max()
    tol16 = 2.0**-11 * np.abs(white) + 2e-5 * np.abs(white).max()
    assert np.all(np.abs(out16.astype(np.float64) - white) <= tol16)
    # float16 storage is the float32 result rounded once, whichever path wrote it
    assert np.array_equal(out16, out32.astype(np.float16))


def test_transform_of_any_input_dtype_and_float64_output():
    X = correlated_images(200, seed=4)
    prep = Preprocessor("zca").fit(X)
    expected = prep.transform(X)
    assert np.allclose(prep.transform(X.astype(np.float64), np.float64), expected, atol=1e-5)
    assert prep.transform(X, np.float64).dtype == np.float64


def test_a_packed_state_holds_the_zca_matrix_once_as_its_triangle_bit_for_bit():
    X = np.random.default_rng(0).integers(0, 256, (200, 6, 6, 3), dtype=np.uint8)
    prep = Preprocessor("zca", 0.1).fit(X, channels_last=True)
    state = prep.state(packed=True)
    assert "prep_matrix" not in state and state["prep_matrix_upper"].shape == (108 * 109 // 2,)
    again = Preprocessor.from_state(state)
    assert again.matrix.dtype == np.float32 and np.array_equal(again.matrix, prep.matrix)
    assert np.array_equal(
        again.transform(X, channels_last=True), prep.transform(X, channels_last=True)
    )
    assert np.array_equal(Preprocessor.from_state(prep.state()).matrix, prep.matrix)  # whole
    prep.matrix[0, 1] += 1  # not symmetric: a triangle would lose it, so it is kept whole
    assert "prep_matrix_upper" not in prep.state(packed=True)
    state["prep_matrix_upper"] = state["prep_matrix_upper"][:-1]
    with pytest.raises(ValueError, match="not the triangle of a square matrix"):
        Preprocessor.from_state(state)
