"""Image preprocessing fitted on the training split and saved with a model.

``Preprocessor`` maps uint8 images to the float features the net trains on:
scale pixels to [0, 1], subtract the training mean and, by default, ZCA-whiten.
Whitening decorrelates neighbouring pixels so that the first layer sees edges
rather than smooth colour blobs; with augmentation it is worth several points of
CIFAR-10 accuracy for a one-hidden-layer net (without augmentation it overfits).

The math, with X the scaled training rows (N, D), mean m and Xc = X - m::

    cov = Xc^T Xc / N,   U diag(lambda) U^T = eigh(cov),
    W = U diag(1 / sqrt(lambda + epsilon)) U^T,   X_white = Xc W.

On CIFAR-10 (D = 3072) nearly all the time goes to two matrix products, the
covariance (N D^2) and the transform (2 N D^2), so the code is arranged to run
each at the speed of its float32 BLAS call: rows are processed in chunks (no
second float copy of the data set), each chunk is centred in one pass straight
from uint8 into a reused float32 buffer, images stored channels-last are never
transposed (the matrix's rows are reordered instead), and the 1/255 scale is
folded into the matrix. The eigendecomposition runs in float32 (on one BLAS
thread): the covariance is built from float32 products, so it carries float32
round-off already, and a float64 eigh would only add time (docs/performance.md
has the figures).

Its ``state()`` goes into the model file, so new images are processed the same way.
W is symmetric, so a run's files hold its upper triangle only (``state(packed=True)``):
half the bytes of the (D, D) matrix, which is most of a run directory's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import DTypeLike

from twolayer.fast.threads import blas_threads

_CHUNK = 4096  # rows per chunk: big enough for fast matmuls, small enough for memory
METHODS = ("zca", "mean", "standardize")


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, _CHUNK):
        yield slice(start, min(start + _CHUNK, n))


def _flat(images: np.ndarray) -> np.ndarray:
    """Images (n, ...) as rows (n, D), in their memory order (a view when contiguous)."""
    return images.reshape(images.shape[0], -1)


def _channels_first_index(image_shape: tuple[int, ...], channels_last: bool) -> np.ndarray | None:
    """For each channels-first feature, its index in a flattened input image (None: same order).

    image_shape is (H, W, C) when ``channels_last``.
    """
    if not channels_last:
        return None
    h, w, c = image_shape
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


def _covariance(X: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Xc^T Xc / N (D, D) float64 of the rows of X (N, ...) centred by ``mean`` (D,).

    Each chunk is a float32 product (NumPy computes ``A.T @ A`` with SYRK, half the
    work of a general product); the chunks are summed in float64.
    """
    n, d = X.shape[0], mean.shape[0]
    gram = np.zeros((d, d))
    centred = np.empty((min(n, _CHUNK), d), np.float32)
    product = np.empty((d, d), np.float32)
    centre = mean.astype(np.float32)
    for rows in _chunks(n):
        chunk = centred[: rows.stop - rows.start]
        np.subtract(_flat(X[rows]), centre, out=chunk)
        gram += np.matmul(chunk.T, chunk, out=product)
    gram /= n
    return gram


def _zca_matrix(cov: np.ndarray, epsilon: float) -> np.ndarray:
    """W = U diag(1 / sqrt(lambda + epsilon)) U^T (D, D) float32 for the covariance (D, D)."""
    # LAPACK's eigh is a long series of small BLAS calls: on two BLAS threads they wait
    # on each other, and one thread was faster at every load measured.
    with blas_threads(1):
        eigvals, eigvecs = np.linalg.eigh(cov.astype(np.float32))
    eigvals = np.clip(eigvals, 0.0, None)  # round-off can leave tiny negatives
    # W = B B^T with B = U diag((lambda + epsilon) ** -1/4): one SYRK instead of a GEMM.
    half = eigvecs * (eigvals + np.float32(epsilon)) ** np.float32(-0.25)
    return half @ half.T


def _packed(matrix: np.ndarray) -> np.ndarray:
    """The upper triangle (D * (D + 1) / 2,) of a symmetric ``matrix`` (D, D), row by row."""
    return np.concatenate([matrix[i, i:] for i in range(matrix.shape[0])])


def _unpacked(packed: np.ndarray) -> np.ndarray:
    """The symmetric matrix (D, D) whose upper triangle is ``packed`` (:func:`_packed`)."""
    d = int(round((np.sqrt(8 * packed.shape[0] + 1) - 1) / 2))
    if d * (d + 1) // 2 != packed.shape[0]:
        raise ValueError(f"{packed.shape[0]} values are not the triangle of a square matrix")
    matrix = np.empty((d, d), packed.dtype)
    start = 0
    for i in range(d):
        row = packed[start : start + d - i]
        matrix[i, i:] = row
        matrix[i:, i] = row
        start += d - i
    return matrix


def _copy_cast(dst: np.ndarray, src: np.ndarray) -> None:
    """dst[...] = src, cast to dst's dtype, in two halves on two threads (NumPy's casts
    run on one core and release the GIL)."""
    half = len(src) // 2
    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(np.copyto, dst[half:], src[half:], casting="same_kind")
        np.copyto(dst[:half], src[:half], casting="same_kind")
        other.result()


class Preprocessor:
    """x -> (x * scale - mean) [@ W] on images (N, C, H, W), or (N, H, W, C) uint8 images.

    ``method="zca"``: W = U diag(1 / sqrt(lambda + epsilon)) U^T, with U, lambda the
    eigenvectors and eigenvalues of the training rows' covariance after scaling.
    ``epsilon`` damps the directions of small variance: larger keeps more of the
    smooth structure, smaller amplifies pixel noise. W is symmetric, so whitened
    images stay in pixel space ("zero-phase") and can be flipped and translated.
    ``method="mean"``: mean subtraction only. ``method="standardize"``: each feature
    minus its mean, divided by its standard deviation (a constant feature by 1).

    Inputs with the channel axis last (as ``load_cifar10`` returns them, pass
    ``channels_last=True``) give the same outputs, (N, C, H, W), as channels-first ones.
    ``mean`` (D,) and ``matrix`` (D, D) are float32 in channels-first order.
    """

    def __init__(self, method: str = "zca", epsilon: float = 0.1, scale: float = 1 / 255) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown preprocessing {method!r}; choose one of {METHODS}")
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"the ZCA epsilon must be a positive number, got {epsilon!r}")
        self.method = method
        self.epsilon = float(epsilon)
        self.scale = float(scale)
        self.mean: np.ndarray | None = None  # (D,) float32, channels-first order
        self.matrix: np.ndarray | None = None  # (D, D) float32, for "zca"
        self.std: np.ndarray | None = None  # (D,) float32, for "standardize"

    def fit(self, X: np.ndarray, channels_last: bool = False) -> Preprocessor:
        """Fit the mean (and whitening) on training images X (N, ...), any numeric dtype."""
        n = X.shape[0]
        if n < 2:
            raise ValueError("fitting the preprocessing needs at least 2 training images")
        # Fitted in the input's own feature order (no transposed copies), reordered at the end.
        mean = sum(_flat(X[rows]).sum(axis=0, dtype=np.float64) for rows in _chunks(n)) / n
        index = _channels_first_index(X.shape[1:], channels_last)
        self.mean = (mean * self.scale).astype(np.float32)
        if self.method == "zca":
            cov = _covariance(X, mean) * self.scale**2
            self.matrix = _zca_matrix(cov, self.epsilon)
            if index is not None:
                self.matrix = self.matrix[np.ix_(index, index)]
        if self.method == "standardize":  # a second pass: exact for features far from 0
            sq = sum(np.square(_flat(X[rows]) - mean).sum(axis=0) for rows in _chunks(n))
            std = np.sqrt(sq / n) * self.scale
            self.std = np.where(std > 0, std, 1.0).astype(np.float32)
            if index is not None:
                self.std = self.std[index]
        if index is not None:
            self.mean = self.mean[index]
        return self

    def transform(
        self, X: np.ndarray, dtype: DTypeLike = np.float32, channels_last: bool = False
    ) -> np.ndarray:
        """Processed images (N, C, H, W) in ``dtype`` (float16 halves the memory)."""
        if self.mean is None:
            raise RuntimeError("Preprocessor.transform called before fit")
        if int(np.prod(X.shape[1:])) != self.mean.shape[0]:
            raise ValueError(
                f"images of shape {X.shape[1:]} do not match the {self.mean.shape[0]} "
                "features the preprocessing was fitted on"
            )
        n = X.shape[0]
        shape = (n, X.shape[3], X.shape[1], X.shape[2]) if channels_last else X.shape
        out = np.empty(shape, dtype=dtype)
        if self.matrix is None:
            scaled = np.empty((min(n, _CHUNK), *shape[1:]), np.float32)
            for rows in _chunks(n):
                chunk = X[rows].transpose(0, 3, 1, 2) if channels_last else X[rows]
                buf = np.multiply(chunk, np.float32(self.scale), out=scaled[: len(chunk)])
                np.subtract(_flat(buf), self.mean, out=_flat(buf))
                if self.std is not None:
                    _flat(buf)[...] /= self.std
                out[rows] = buf
            return out
        # (x * scale - mean) @ W == (x - mean / scale) @ (scale * W); the rows of W are
        # put in the input's feature order, so the product comes out channels-first.
        index = _channels_first_index(X.shape[1:], channels_last)
        inverse = slice(None) if index is None else np.argsort(index)
        centre = (self.mean / np.float32(self.scale))[inverse]
        matrix = self.matrix[inverse] * np.float32(self.scale)
        flat = _flat(out)
        centred = np.empty((min(n, _CHUNK), flat.shape[1]), np.float32)
        product = None if flat.dtype == np.float32 else np.empty_like(centred)
        for rows in _chunks(n):
            chunk = centred[: rows.stop - rows.start]
            np.subtract(_flat(X[rows]), centre, out=chunk)
            if product is None:
                np.matmul(chunk, matrix, out=flat[rows])
            else:
                np.copyto(
                    flat[rows],
                    np.matmul(chunk, matrix, out=product[: len(chunk)]),
                    casting="same_kind",
                )
        return out

    def state(self, packed: bool = False) -> dict[str, np.ndarray]:
        """Arrays to store beside a model (keys start with ``prep_``). ``packed``: the
        ZCA matrix as its upper triangle, row by row (``prep_matrix_upper``), if it is
        exactly symmetric (as fitted); else whole (``prep_matrix``)."""
        if self.mean is None:
            raise RuntimeError("Preprocessor.state called before fit")
        state = {
            "prep_method": np.array(self.method),
            "prep_epsilon": np.array(self.epsilon, dtype=np.float64),
            "prep_scale": np.array(self.scale, dtype=np.float64),
            "prep_mean": self.mean,
        }
        if self.matrix is not None and packed and np.array_equal(self.matrix, self.matrix.T):
            state["prep_matrix_upper"] = _packed(self.matrix)
        elif self.matrix is not None:
            state["prep_matrix"] = self.matrix
        if self.std is not None:
            state["prep_std"] = self.std
        return state

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`state`."""
        try:
            prep = cls(
                str(state["prep_method"]), float(state["prep_epsilon"]), float(state["prep_scale"])
            )
            prep.mean = np.asarray(state["prep_mean"], dtype=np.float32)
        except KeyError as e:
            raise ValueError(f"the preprocessing state is missing {e}") from None
        if "prep_matrix_upper" in state:
            prep.matrix = _unpacked(np.asarray(state["prep_matrix_upper"], dtype=np.float32))
        elif "prep_matrix" in state:  # version 0.3 stored the whole matrix
            prep.matrix = np.asarray(state["prep_matrix"], dtype=np.float32)
        if "prep_std" in state:
            prep.std = np.asarray(state["prep_std"], dtype=np.float32)
        return prep
