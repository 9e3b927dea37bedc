"""ZCA whitening of image features, fitted on the training split and saved with a model.

Whitening decorrelates neighbouring pixels so that the first layer sees edges
rather than smooth colour blobs; for a one-hidden-layer net on CIFAR-10 it is
worth several points of accuracy (with augmentation; without it, it overfits).

``ZCAWhitener`` works on rows of D features in chunks and in place, so the
whitening of 60,000 CIFAR-10 images needs no second copy of the data set.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

_CHUNK = 4096  # rows per chunk: big enough for fast matmuls, small enough for memory


def _chunks(n: int, size: int = _CHUNK) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class ZCAWhitener:
    """x -> (x * scale - mean) @ W, with W = U diag(1 / sqrt(lambda + epsilon)) U^T.

    U, lambda are the eigenvectors and eigenvalues of the covariance of the
    training rows (after scaling by ``scale``, e.g. 1/255 for pixels to [0, 1]).
    ``epsilon`` damps the directions of small variance: larger keeps more of the
    image's smooth structure, smaller amplifies noise. W is symmetric, so the
    whitened image stays in pixel space ("zero-phase") and can still be flipped
    or translated for augmentation.
    """

    def __init__(self, epsilon: float = 0.1, scale: float = 1.0 / 255.0) -> None:
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.scale = float(scale)
        self.mean: np.ndarray | None = None
        self.matrix: np.ndarray | None = None

    def fit(self, X: np.ndarray, max_rows: int | None = None) -> ZCAWhitener:
        """Fit on X (N, D) of any numeric dtype; ``max_rows`` caps the rows used."""
        X = X.reshape(X.shape[0], -1)
        if max_rows is not None:
            X = X[:max_rows]
        n, d = X.shape
        total = np.zeros(d)
        gram = np.zeros((d, d))
        for rows in _chunks(n):
            chunk = X[rows].astype(np.float32) * np.float32(self.scale)
            total += chunk.sum(axis=0, dtype=np.float64)
            gram += chunk.T @ chunk  # float32 products, float64 accumulation across chunks
        mean = total / n
        cov = gram / n - np.outer(mean, mean)
        eigvals, eigvecs = np.linalg.eigh(cov)
        eigvals = np.clip(eigvals, 0.0, None)  # round-off can leave tiny negatives
        matrix = (eigvecs / np.sqrt(eigvals + self.epsilon)) @ eigvecs.T
        self.mean = mean.astype(np.float32)
        self.matrix = matrix.astype(np.float32)
        return self

    def transform(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Whiten X (N, ...) into ``out`` (float32 or float16, shaped like X), chunk by chunk."""
        if self.matrix is None or self.mean is None:
            raise RuntimeError("ZCAWhitener.transform called before fit")
        flat = X.reshape(X.shape[0], -1)
        if flat.shape[1] != self.matrix.shape[0]:
            raise ValueError(
                f"X has {flat.shape[1]} features per row, the whitener was fitted on "
                f"{self.matrix.shape[0]}"
            )
        if out is None:
            out = np.empty(X.shape, dtype=np.float32)
        out_flat = out.reshape(out.shape[0], -1)
        for rows in _chunks(flat.shape[0]):
            chunk = flat[rows].astype(np.float32) * np.float32(self.scale)
            chunk -= self.mean
            out_flat[rows] = chunk @ self.matrix
        return out

    def state(self) -> dict[str, np.ndarray]:
        """Arrays to store beside a model so new images can be whitened the same way."""
        return {
            "zca_matrix": self.matrix,
            "zca_mean": self.mean,
            "zca_epsilon": np.float64(self.epsilon),
            "zca_scale": np.float64(self.scale),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> ZCAWhitener:
        """Rebuild a fitted whitener from :meth:`state`."""
        whitener = cls(epsilon=float(state["zca_epsilon"]), scale=float(state["zca_scale"]))
        whitener.matrix = np.asarray(state["zca_matrix"], dtype=np.float32)
        whitener.mean = np.asarray(state["zca_mean"], dtype=np.float32)
        return whitener
