"""The update rules of ``twolayer.optim``, rewritten to run in place and in blocks.

Same names, signatures, config keys and defaults as the reference rules in
:mod:`twolayer.optim`, and the same results: bit for bit, except Adam's, which folds
its bias corrections into two scalars (see ``adam``). What changes is how:

The rules run for every parameter at every iteration, so they work in place:
``w`` and the state arrays are overwritten and ``next_w`` is ``w`` itself, and
``dw`` is left alone. They run block by block on cache-sized pieces of the arrays,
with intermediates in small per-thread scratch buffers (:mod:`twolayer.fast.blocks`),
and take weight decay inside the same pass instead of as a separate sum over memory.
State arrays take the dtype of ``w`` and hyperparameters are Python floats,
which NumPy does not let upcast an array: float32 stays float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from twolayer import optim
from twolayer.fast.blocks import for_blocks as _in_chunks
from twolayer.fast.blocks import get_num_threads, set_num_threads
from twolayer.optim import DEFAULTS, Config, UpdateRule

__all__ = ["DEFAULTS", "UPDATE_RULES", "get_num_threads", "get_update_rule", "set_num_threads"]


def _with_defaults(config: Config | None, defaults: dict[str, float]) -> Config:
    """``config`` (a new dict if None) with missing hyperparameters filled in."""
    if config is None:
        config = {}
    for key, value in defaults.items():
        config.setdefault(key, value)
    return config


def _array(config: Config, key: str, like: np.ndarray) -> np.ndarray:
    """``config[key]``, created as zeros shaped and typed like ``like`` on first use."""
    a = config.get(key)
    if a is None:
        a = config[key] = np.zeros_like(like)
    return a


def _blocks(
    kernel: Callable[..., None],
    config: Config,
    *arrays: np.ndarray,
    scratch: int,
    scratch_may_be_g: bool = False,
) -> None:
    """Run ``kernel(*blocks, *scratch, g)`` over row blocks, ``g`` the block's gradient.

    ``arrays`` start with w and dw. ``g`` is dw itself, or with weight decay on,
    ``dw + weight_decay * w`` in one more scratch array: the same sum, bit for bit,
    that an L2 penalty ``0.5 * weight_decay * sum(w**2)`` in the loss adds to dw, taken
    here while the block is in cache instead of in a separate pass over memory.
    With ``scratch_may_be_g``, a kernel that only ever writes its last scratch array
    with a function of g gets g's own array there under weight decay: one array less
    to keep in cache.
    """
    decay = config["weight_decay"]
    if not decay:
        _in_chunks(lambda *b: kernel(*b, b[1]), *arrays, scratch=scratch)
        return
    extra = 0 if scratch_may_be_g else 1

    def decayed(*b: np.ndarray) -> None:
        g = np.multiply(b[0], decay, out=b[-1])
        g += b[1]
        kernel(*b[: len(b) - extra], g)

    _in_chunks(decayed, *arrays, scratch=scratch + extra)


def _running_mean(avg: np.ndarray, x: np.ndarray, rate: float, s: np.ndarray) -> None:
    """``avg = rate * avg + (1 - rate) * x`` in place; ``s`` is scratch (may be ``x``)."""
    avg *= rate
    avg += np.multiply(x, 1 - rate, out=s)


def sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """:func:`twolayer.optim.sgd` in place: ``w -= learning_rate * dw``."""
    config = _with_defaults(config, DEFAULTS["sgd"])
    lr = config["learning_rate"]

    def kernel(w, dw, s, g) -> None:  # row blocks of equal shape
        w -= np.multiply(lr, g, out=s)

    _blocks(kernel, config, w, dw, scratch=1, scratch_may_be_g=True)
    return w, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """:func:`twolayer.optim.sgd_momentum` in place: ``v = momentum * v - lr * dw; w += v``."""
    config = _with_defaults(config, DEFAULTS["sgd_momentum"])
    lr, mu = config["learning_rate"], config["momentum"]

    def kernel(w, dw, v, s, g) -> None:  # row blocks of equal shape
        v *= mu
        v -= np.multiply(lr, g, out=s)
        w += v

    _blocks(kernel, config, w, dw, _array(config, "velocity", w), scratch=1, scratch_may_be_g=True)
    return w, config


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """:func:`twolayer.optim.rmsprop` in place, the same operations in the same order."""
    config = _with_defaults(config, DEFAULTS["rmsprop"])
    lr, dr, eps = config["learning_rate"], config["decay_rate"], config["epsilon"]

    def kernel(w, dw, cache, s, s2, g) -> None:  # row blocks of equal shape
        _running_mean(cache, np.square(g, out=s), dr, s)
        np.sqrt(cache, out=s)
        s += eps
        np.multiply(lr, g, out=s2)
        s2 /= s
        w -= s2

    _blocks(kernel, config, w, dw, _array(config, "cache", w), scratch=2)
    return w, config


def adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """:func:`twolayer.optim.adam` in place.

    From the same w, dw and state: the same m, v and t bit for bit, and w up to rounding.
    """
    config = _with_defaults(config, DEFAULTS["adam"])
    lr, b1, b2, eps = (config[k] for k in ("learning_rate", "beta1", "beta2", "epsilon"))
    t = config["t"] = config.get("t", 0) + 1
    # The bias corrections folded into two scalars, as PyTorch's Adam does: with
    # c1 = 1 - b1**t and c2 = 1 - b2**t, the step lr * (m / c1) / (sqrt(v / c2) + eps)
    # equals step * m / (sqrt(v) + eps * sqrt(c2)) with step = lr * sqrt(c2) / c1.
    # Equal up to rounding (the only rule that is not the reference's arithmetic bit
    # for bit), and two passes fewer over the arrays.
    root_c2 = math.sqrt(1 - b2**t)
    step, eps_hat = lr * root_c2 / (1 - b1**t), eps * root_c2

    def kernel(w, dw, m, v, s, g) -> None:  # row blocks of equal shape
        _running_mean(m, g, b1, s)
        _running_mean(v, np.square(g, out=s), b2, s)
        np.sqrt(v, out=s)
        s += eps_hat
        np.divide(m, s, out=s)
        s *= step
        w -= s

    _blocks(kernel, config, w, dw, _array(config, "m", w), _array(config, "v", w), scratch=1)
    return w, config


UPDATE_RULES: dict[str, UpdateRule] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def get_update_rule(name_or_callable: str | UpdateRule) -> UpdateRule:
    """The fast rule called ``name_or_callable``, or the callable itself."""
    return optim.get_update_rule(name_or_callable, UPDATE_RULES)
