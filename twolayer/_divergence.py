"""The error a diverging run raises, and the check of each loss that raises it."""

from __future__ import annotations

import math


class DivergenceError(FloatingPointError):
    """The training or validation loss became NaN or inf; ``iteration`` and ``epoch`` are
    1-based."""

    def __init__(self, message: str, iteration: int, epoch: int) -> None:
        super().__init__(message)
        self.iteration = iteration
        self.epoch = epoch


def check_diverged(
    which: str, loss: float, *, iteration: int, epoch: int, learning_rate: float
) -> None:
    """Raise DivergenceError if ``loss`` (the ``which`` loss: "training" or "validation")
    is NaN or inf, saying where (1-based) and what to try."""
    if not math.isfinite(loss):
        raise DivergenceError(
            f"the {which} loss became {loss} at iteration {iteration} (epoch {epoch}) with "
            f"learning_rate {learning_rate:g}; try a lower learning rate (e.g. a tenth), "
            "stronger lr_decay or a smaller weight_scale",
            iteration=iteration,
            epoch=epoch,
        )
