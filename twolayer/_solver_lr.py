"""The Solver's learning rate: set into every param's config, and the cosine schedules."""

from __future__ import annotations

from typing import Any

from twolayer.schedules import cosine_lr, cosine_restarts_lr


class LearningRate:
    """The learning-rate part of :class:`twolayer.solver.Solver` (which sets the attributes)."""

    learning_rate: float
    optim_configs: dict[str, dict[str, Any]]
    lr_schedule: str
    num_epochs: int
    iterations_per_epoch: int
    _base_lr: float
    _warmup_iters: int
    _restart_iters: int

    def _set_lr(self, lr: float) -> None:
        """Use ``lr`` from now on: ``learning_rate`` and every param's optim config."""
        self.learning_rate = lr
        for config in self.optim_configs.values():
            config["learning_rate"] = lr

    def _scheduled_lr(self, t: int) -> float:
        """Learning rate of the cosine schedule (with restarts or not) at iteration t (0-based)."""
        if self.lr_schedule == "cosine_restarts":
            return cosine_restarts_lr(t, self._base_lr, self._warmup_iters, self._restart_iters)
        total = self.num_epochs * self.iterations_per_epoch
        return cosine_lr(t, self._base_lr, self._warmup_iters, total)
