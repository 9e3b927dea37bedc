"""Weight averaging: an exponential moving average (EMA) of the params during training.

The weights of the last step carry the noise of the last few minibatches; an average
of the weights over many steps smooths it out, and often scores a little better on
held-out data than any of the weights averaged. The Solver keeps one with
``ema_decay`` set: after each update,

    average = decay * average + (1 - decay) * w

and it evaluates, and keeps as its best params, the average instead of the weights.

    average = WeightAverage(decay=0.999, start_epoch=3)
    average.update(params, epoch)            # after each step of epoch (1-based)
    with average.applied(model):             # model.params holds the average here
        scores = model.loss(X)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from twolayer.fast import ema_update


class WeightAverage:
    """The EMA of a model's params with ``decay`` (None: off), from epoch ``start_epoch``.

    The average starts as a copy of the params after the first update in epoch
    ``start_epoch`` (1-based) or later, and follows every later update. Until then
    ``averages`` is None and the average is the weights themselves, as when off.
    """

    def __init__(self, decay: float | None, start_epoch: int = 1) -> None:
        self.decay = decay
        self.start_epoch = start_epoch
        self.averages: dict[str, np.ndarray] | None = None

    def update(self, params: dict[str, np.ndarray], epoch: int) -> None:
        """Fold in ``params`` after an update in ``epoch`` (1-based)."""
        if self.decay is None or epoch < self.start_epoch:
            return
        if self.averages is None:
            self.averages = {k: w.copy() for k, w in params.items()}
            return
        for k, w in params.items():
            ema_update(self.averages[k], w, self.decay)

    def current(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The weights to evaluate: the averages once averaging started, else ``params``."""
        return params if self.averages is None else self.averages

    @contextmanager
    def applied(self, model: Any) -> Iterator[None]:
        """Put the averages into ``model.params`` for the block, and the weights back after."""
        if self.averages is None:
            yield
            return
        weights = dict(model.params)
        model.params.update(self.averages)
        try:
            yield
        finally:
            model.params.update(weights)

    def state(self) -> dict[str, np.ndarray] | None:
        """Copies of the averages (None before averaging starts), for a checkpoint."""
        return None if self.averages is None else {k: a.copy() for k, a in self.averages.items()}

    def load(self, averages: dict[str, np.ndarray] | None) -> None:
        """Continue from :meth:`state`'s averages (kept only when averaging is on)."""
        if self.decay is None or averages is None:
            self.averages = None
        else:
            self.averages = {k: np.array(a) for k, a in averages.items()}
