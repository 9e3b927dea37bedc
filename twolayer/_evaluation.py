"""The Solver's evaluation: the accuracy and loss of its model on a split, or a random part.

:class:`Evaluation` gives :class:`twolayer.solver.Solver` CS231n's
``check_accuracy(X, y, num_samples, batch_size)``, the per-epoch accuracy and
validation loss, and the course's epoch 0 (the same, before the first update). The
random subset, if any, is drawn with the Solver's ``rng``; epoch 0 draws its own from
the seed, so the run that follows draws exactly as it would without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twolayer._console import epoch_line
from twolayer.layers import softmax_loss


class Evaluation:
    """The evaluation methods of :class:`twolayer.solver.Solver`, which this is mixed into."""

    # The Solver's attributes these methods read.
    model: Any
    rng: np.random.Generator
    seed: int | None
    verbose: bool
    num_epochs: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    num_train_samples: int | None
    num_val_samples: int | None
    eval_batch_size: int
    train_acc_history: list[float]
    val_acc_history: list[float]
    val_loss_history: list[float]

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Accuracy of the model on (X, y), or on ``num_samples`` random rows of it.

        X: (N, ...), y: (N,) integer labels. Scores are computed ``batch_size`` rows at
        a time; the subset, if any, is drawn with ``self.rng``.
        """
        return self._evaluate(X, y, num_samples, batch_size)[0]

    def _evaluate(
        self,
        X: np.ndarray,
        y: np.ndarray,
        num_samples: int | None,
        batch_size: int,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, float]:
        """Accuracy and mean unregularized cross-entropy on (X, y) or a random subset,
        drawn with ``rng`` (default: the Solver's)."""
        n = X.shape[0]
        if num_samples is not None and num_samples < n:
            idx = (self.rng if rng is None else rng).choice(n, num_samples, replace=False)
            X, y, n = X[idx], y[idx], num_samples
        correct, loss_sum = 0, 0.0
        for start in range(0, n, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            y_batch = y[start : start + batch_size]
            correct += int(np.count_nonzero(scores.argmax(axis=1) == y_batch))
            loss_sum += softmax_loss(scores, y_batch)[0] * y_batch.shape[0]
        return correct / n, loss_sum / n

    def _evaluate_epoch_zero(self) -> None:
        """Append the initial weights' accuracies and validation loss to the histories
        (their entry 0), and print them as the course does when verbose."""
        rng = np.random.default_rng(self.seed)  # not self.rng: the run's draws stay as they were
        train_acc = self._evaluate(
            self.X_train, self.y_train, self.num_train_samples, self.eval_batch_size, rng
        )[0]
        val_acc, val_loss = self._evaluate(
            self.X_val, self.y_val, self.num_val_samples, self.eval_batch_size, rng
        )
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self.val_loss_history.append(val_loss)
        if self.verbose:
            print(epoch_line(0, self.num_epochs, train_acc, val_acc))
