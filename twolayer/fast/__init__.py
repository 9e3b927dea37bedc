"""The fast path: the update rules and the minibatch gather as one-pass compiled kernels.

Everything here computes what the plain code in ``twolayer.optim`` and
``twolayer.solver`` computes, and the tests hold the two equal; this package only
decides how: each rule's formula written for one element, compiled by numba on first
use (:mod:`twolayer.fast.jit`) and run in place on all cores, every element read and
written once. A reader learning the method can skip it. Without numba the Solver runs
the reference rules and says so.
"""

from twolayer.fast.gather import gather_rows
from twolayer.fast.jit import get_num_threads, set_num_threads
from twolayer.fast.kernels import (
    UPDATE_RULES,
    describe,
    ema_update,
    get_update_rule,
    sum_squares,
    update,
)

__all__ = [
    "UPDATE_RULES",
    "describe",
    "ema_update",
    "gather_rows",
    "get_num_threads",
    "get_update_rule",
    "set_num_threads",
    "sum_squares",
    "update",
]
