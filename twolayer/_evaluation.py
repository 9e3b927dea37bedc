"""The Solver's evaluation: the accuracy and loss of its model on a split, or a random part.

:class:`Evaluation` gives :class:`twolayer.solver.Solver` CS231n's
``check_accuracy(X, y, num_samples, batch_size)`` and the per-epoch accuracy and
validation loss; the random subset, if any, is drawn with the Solver's ``rng``.
"""

from __future__ import annotations

import numpy as np

from twolayer.layers import softmax_loss


class Evaluation:
    """The evaluation methods of :class:`twolayer.solver.Solver`, which this is mixed into."""

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Accuracy of the model on (X, y), or on ``num_samples`` random rows of it.

        X: (N, ...), y: (N,) integer labels. Scores are computed ``batch_size`` rows at
        a time; the subset, if any, is drawn with ``self.rng``.
        """
        return self._evaluate(X, y, num_samples, batch_size)[0]

    def _evaluate(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None, batch_size: int
    ) -> tuple[float, float]:
        """Accuracy and mean unregularized cross-entropy on (X, y) or a random subset."""
        n = X.shape[0]
        if num_samples is not None and num_samples < n:
            idx = self.rng.choice(n, num_samples, replace=False)
            X, y, n = X[idx], y[idx], num_samples
        correct, loss_sum = 0, 0.0
        for start in range(0, n, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            y_batch = y[start : start + batch_size]
            correct += int(np.count_nonzero(scores.argmax(axis=1) == y_batch))
            loss_sum += softmax_loss(scores, y_batch)[0] * y_batch.shape[0]
        return correct / n, loss_sum / n
