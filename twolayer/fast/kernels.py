"""The update rules of ``twolayer.optim`` as one-pass compiled kernels, in place.

Each kernel is the rule's formula written for one element ``i``, in a loop that numba
splits among the threads (:mod:`twolayer.fast.jit`): every element of ``w``, ``dw`` and
the rule's state is read once and written once, where NumPy's ufuncs make a pass over
memory per operation. Scalars come in the arrays' dtype, so float32 stays float32, as
in the reference rules; sgd, sgd_momentum and rmsprop give their bits, adam folds its
bias corrections into two scalars (see ``_adam``) and is equal up to rounding. One
departure from every rule: no kernel leaves a subnormal number behind; tiny weights
and state are written as zero (see the comment above ``_sgd``), where the reference
rules slow down on them.

    update("adam", w, dw, config, l2=reg)    # in place, on dw + (weight_decay + reg) * w

:data:`UPDATE_RULES` are the same kernels with CS231n's signature,
``rule(w, dw, config) -> (w, config)`` (``w`` itself, updated). Where numba cannot be
imported they are :mod:`twolayer.optim`'s rules (:func:`get_update_rule`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from twolayer import optim
from twolayer.fast import jit
from twolayer.fast.jit import kernel, prange, reduction
from twolayer.optim import DEFAULTS, Config, UpdateRule

__all__ = [
    "DEFAULTS", "UPDATE_RULES", "describe", "ema_update", "get_update_rule", "sum_squares", "update"
]  # fmt: skip


# No rule leaves a subnormal number behind, where every later product that meets it
# runs many times slower (see docs/performance.md): weight decay shrinks the weights of
# a dead unit geometrically, towards zero. A weight is written as zero below ``w_min``,
# the square root of the dtype's smallest normal number (about 1e-19 in float32), so
# that its products with inputs and gradients stay normal, and so is adam's first
# moment (its share of a step would be below 1e-14); the other state is written as
# zero below ``tiny``, that smallest normal number; and the squared gradient of
# rmsprop and adam counts as zero below ``g_min``, where its share of the second
# moment (``keep * g * g``) would be below ``tiny``.


@kernel
def _sgd(w, dw, lr, decay, w_min):
    for i in prange(w.size):
        wi = w[i]
        g = dw[i] + decay * wi
        wn = wi - lr * g
        w[i] = wn if abs(wn) >= w_min else wn - wn


@kernel
def _sgd_momentum(w, dw, v, lr, mu, decay, w_min, tiny):
    for i in prange(w.size):
        wi = w[i]
        g = dw[i] + decay * wi
        vi = mu * v[i] - lr * g
        v[i] = vi if abs(vi) >= tiny else vi - vi
        wn = wi + vi
        w[i] = wn if abs(wn) >= w_min else wn - wn


@kernel
def _rmsprop(w, dw, cache, lr, rate, keep, eps, decay, w_min, tiny, g_min):
    for i in prange(w.size):
        wi = w[i]
        g = dw[i] + decay * wi
        gg = g * g if abs(g) >= g_min else g - g
        ci = rate * cache[i] + keep * gg
        ci = ci if ci >= tiny else ci - ci
        cache[i] = ci
        wn = wi - lr * g / (np.sqrt(ci) + eps)
        w[i] = wn if abs(wn) >= w_min else wn - wn


@kernel
def _adam(w, dw, m, v, b1, keep1, b2, keep2, step, eps_hat, decay, w_min, tiny, g_min):
    for i in prange(w.size):
        wi = w[i]
        g = dw[i] + decay * wi
        mi = b1 * m[i] + keep1 * g
        mi = mi if abs(mi) >= w_min else mi - mi
        m[i] = mi
        gg = g * g if abs(g) >= g_min else g - g
        vi = b2 * v[i] + keep2 * gg
        vi = vi if vi >= tiny else vi - vi
        v[i] = vi
        wn = wi - step * mi / (np.sqrt(vi) + eps_hat)
        w[i] = wn if abs(wn) >= w_min else wn - wn


@kernel
def _ema(average, w, rate, w_min):
    for i in prange(average.size):
        a = average[i] - rate * (average[i] - w[i])
        average[i] = a if abs(a) >= w_min else a - a


@reduction
def _sum_squares(w):
    total = 0.0
    for i in prange(w.size):
        x = np.float64(w[i])
        total += x * x
    return total


def sum_squares(w: np.ndarray) -> float:
    """``sum(w**2)`` in float64, in one pass on all cores: an L2 term's value."""
    return float(_sum_squares(_flat(w)))


def _flat(a: np.ndarray) -> np.ndarray:
    """``a`` as a 1-D view (a C-contiguous copy only when ``a`` is not contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


def _state(config: Config, key: str, like: np.ndarray) -> np.ndarray:
    """``config[key]`` as a flat view, first made an array shaped and typed like ``like``.

    It starts as zeros; a state left by a reference rule (a scalar 0.0 before its first
    step, or another dtype) is converted once.
    """
    a = config.get(key)
    if a is None:
        a = config[key] = np.zeros_like(like)
    elif not (
        isinstance(a, np.ndarray)
        and a.shape == like.shape
        and a.dtype == like.dtype
        and a.flags.c_contiguous
        and a.flags.writeable
    ):
        a = config[key] = np.array(np.broadcast_to(a, like.shape), dtype=like.dtype)
    return a.reshape(-1)


def update(name: str, w: np.ndarray, dw: np.ndarray, config: Config, l2: float = 0.0) -> None:
    """One step of rule ``name`` on ``w`` and ``config``'s state, in place.

    w: a C-contiguous, writeable array of any shape (W1 (D, H), b1 (H,), ...); dw: its
    gradient, of w's shape and dtype.
    The rule steps on ``dw + (weight_decay + l2) * w``: ``config``'s weight decay plus
    ``l2``, a term the caller left out of the loss (the model's ``reg``).
    """
    for key, value in DEFAULTS[name].items():
        config.setdefault(key, value)
    f = w.dtype.type  # hyperparameters in w's dtype, as NumPy does for a Python float
    flat, g, decay = w.reshape(-1), _flat(dw), f(config["weight_decay"] + l2)
    lr, limits = f(config["learning_rate"]), _limits(w.dtype)
    if name == "sgd":
        _sgd(flat, g, lr, decay, limits[0])
    elif name == "sgd_momentum":
        v = _state(config, "velocity", w)
        _sgd_momentum(flat, g, v, lr, f(config["momentum"]), decay, *limits)
    elif name == "rmsprop":
        rate, eps = config["decay_rate"], config["epsilon"]
        cache = _state(config, "cache", w)
        keep = f(1 - rate)
        _rmsprop(flat, g, cache, lr, f(rate), keep, f(eps), decay, *limits, _g_min(keep))
    else:
        _adam_step(w, g, config, decay)


@functools.cache  # one pair per dtype, not a finfo and a square root per update
def _limits(dtype: np.dtype) -> tuple[np.floating, np.floating]:
    """(w_min, tiny) in ``dtype``: below them a weight, or a rule's state, is written as
    zero (see ``_sgd``)."""
    tiny = np.finfo(dtype).tiny
    return dtype.type(np.sqrt(tiny)), tiny


def _g_min(keep: np.floating) -> np.floating:
    """The smallest gradient whose square, times ``keep``, is a normal number."""
    return keep.dtype.type(np.sqrt(np.finfo(keep.dtype).tiny / keep))


def _adam_step(w: np.ndarray, g: np.ndarray, config: Config, decay: np.floating) -> None:
    # Adam, with its bias corrections folded into two scalars, as PyTorch's does: with
    # c1 = 1 - b1**t and c2 = 1 - b2**t, lr * (m / c1) / (sqrt(v / c2) + eps) equals
    # step * m / (sqrt(v) + eps * sqrt(c2)) with step = lr * sqrt(c2) / c1: one
    # division per element instead of three.
    b1, b2 = config["beta1"], config["beta2"]
    t = config["t"] = config.get("t", 0) + 1
    root_c2 = math.sqrt(1 - b2**t)
    step = config["learning_rate"] * root_c2 / (1 - b1**t)
    eps_hat = config["epsilon"] * root_c2
    m, v, f = _state(config, "m", w), _state(config, "v", w), w.dtype.type
    keep2 = f(1 - b2)
    hp = (f(b1), f(1 - b1), f(b2), keep2, f(step), f(eps_hat))
    _adam(w.reshape(-1), g, m, v, *hp, decay, *_limits(w.dtype), _g_min(keep2))


def ema_update(average: np.ndarray, w: np.ndarray, decay: float) -> None:
    """``average = decay * average + (1 - decay) * w`` in place, as
    ``average -= (1 - decay) * (average - w)``: one pass over both arrays."""
    rate = average.dtype.type(1.0 - decay)
    if jit.available():
        _ema(average.reshape(-1), _flat(w), rate, _limits(average.dtype)[0])
    else:
        average -= rate * (average - w)


def _rule(name: str) -> UpdateRule:
    def rule(
        w: np.ndarray, dw: np.ndarray, config: Config | None = None
    ) -> tuple[np.ndarray, Config]:
        config = {} if config is None else config
        if not (w.flags.c_contiguous and w.flags.writeable):
            w = np.array(w)  # the kernel steps in place
        update(name, w, dw, config)
        return w, config

    rule.__name__ = rule.__qualname__ = name
    rule.__doc__ = f":func:`twolayer.optim.{name}` as a one-pass kernel, in place."
    return rule


#: The kernels with CS231n's signature (they update ``w`` and the state in place).
UPDATE_RULES: dict[str, UpdateRule] = {name: _rule(name) for name in optim.UPDATE_RULES}


def is_kernel(update_rule: object) -> bool:
    """Whether ``update_rule`` is a rule's name whose compiled kernel runs here."""
    return isinstance(update_rule, str) and update_rule in UPDATE_RULES and jit.available()


def get_update_rule(name_or_callable: str | UpdateRule) -> UpdateRule:
    """The kernel called ``name_or_callable`` (the reference rule without numba), or
    the callable itself."""
    rules = UPDATE_RULES if jit.available() else optim.UPDATE_RULES
    return optim.get_update_rule(name_or_callable, rules)


def describe(update_rule: str | UpdateRule) -> str:
    """What runs for ``update_rule``, in one line (the Solver prints it)."""
    if is_kernel(update_rule):
        rounding = "up to rounding" if update_rule == "adam" else "bit for bit"
        return (
            f"update rule {update_rule}: fast kernel (numba), equal to "
            f"twolayer.optim.{update_rule} {rounding}"
        )
    if isinstance(update_rule, str):
        plain = "plain NumPy: numba cannot be imported"
        return f"update rule {update_rule}: twolayer.optim.{update_rule} ({plain})"
    name = getattr(update_rule, "__qualname__", repr(update_rule))
    module = getattr(update_rule, "__module__", None)
    return f"update rule {module + '.' if module else ''}{name}, as given"
