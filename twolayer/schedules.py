"""Learning-rate schedules set at every iteration, as pure functions of it.

The Solver's "step" schedule multiplies the rate by ``lr_decay`` after each epoch; the
schedules here give the rate of iteration t (0-based) from the base rate:

    cosine            a linear warm-up from 0 over ``warmup`` iterations, then half a
                      cosine from the base rate down to 0 at the end of ``total``
    cosine_restarts   the same warm-up, then half a cosine over each ``period``
                      iterations, back at the base rate when the next one starts
                      (warm restarts: Loshchilov and Hutter, "SGDR", 2017)
"""

from __future__ import annotations

import math


def cosine_lr(t: int, base_lr: float, warmup: int, total: int) -> float:
    """The rate of the cosine schedule at iteration t of ``total``, ``warmup`` of them
    warming up."""
    if t < warmup:
        return base_lr * (t + 1) / warmup
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * (t - warmup) / max(total - warmup, 1)))


def cosine_restarts_lr(t: int, base_lr: float, warmup: int, period: int) -> float:
    """The rate of the cosine schedule with warm restarts every ``period`` iterations
    after a warm-up of ``warmup``: each period is a cosine schedule's decay."""
    if t >= warmup:
        t = warmup + (t - warmup) % period  # the same place in the first period
    return cosine_lr(t, base_lr, warmup, warmup + period)
