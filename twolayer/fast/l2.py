"""The model's L2 penalty taken in the update rule's pass over the weights.

``TwoLayerNet.loss`` writes its L2 penalty as the formula: ``0.5 * reg * sum(W**2)``
added to the loss and ``reg * W`` to each weight's gradient, a few passes over W1 and
two temporaries of its size at every step. The built-in update kernels
(:mod:`twolayer.fast.kernels`) add ``weight_decay * w`` to the gradient inside their
own pass over ``w``: bit for bit the same sum. So for a built-in rule the Solver
wraps each step in :func:`l2_in_update`, which asks the model for its loss without
the penalty and hands ``reg`` to the kernels as ``weight_decay``. The weights come
out the same, bit for bit; the penalty's value, which the reported loss still
includes, costs one dot product per weight.

A model takes part by naming the params its ``reg`` penalizes in ``l2_params``
(see ``TwoLayerNet.l2_params``); one without the attribute keeps its penalty.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np

from twolayer.fast.kernels import UPDATE_RULES
from twolayer.optim import Config, UpdateRule


def l2_in_update(
    model: Any, update_rule: str | UpdateRule, configs: dict[str, Config]
) -> AbstractContextManager[float]:
    """Move the model's L2 penalty from ``model.loss`` into the update, for one step.

    Use around one training step: the call of ``model.loss(X, y)`` and the updates
    by the built-in rule ``update_rule`` names, ``rule(w, dw, configs[name])``.
    Inside, ``model.reg`` is 0 and the configs of the params in ``model.l2_params``
    have ``weight_decay = reg``; the value of the ``with`` is the penalty
    ``0.5 * reg * sum(w**2)`` of those params as they are on entry, for the caller
    to add to the loss. On leaving, by an exception too, the model's ``reg`` and the
    configs are as they were.

    The penalty stays in the model (the value is 0.0 and nothing changes) unless
    moving it gives the same weights bit for bit: ``update_rule`` must be the name
    of a built-in rule (a callable is used as it is given, with the model's loss as
    written), the model must name its penalized params in ``l2_params``, ``reg``
    must be nonzero and ``reg * w`` computed in ``w``'s dtype (not so for a NumPy
    float64 ``reg`` and float32 weights), and no penalized param may have a
    ``weight_decay`` of its own (then both apply as they are written: the model's
    in its loss, the config's in the update).
    """
    names = tuple(getattr(model, "l2_params", ()))
    reg = getattr(model, "reg", 0)
    if not isinstance(update_rule, str) or update_rule not in UPDATE_RULES:
        return nullcontext(0.0)
    if not names or not reg:
        return nullcontext(0.0)
    params = model.params
    for name in names:
        w = params[name]
        if configs[name].get("weight_decay") or np.result_type(reg, w) != w.dtype:
            return nullcontext(0.0)
    return _moved(model, names, reg, configs)


@contextmanager
def _moved(
    model: Any, names: tuple[str, ...], reg: Any, configs: dict[str, Config]
) -> Iterator[float]:
    penalty = 0.5 * float(reg) * sum(sum_of_squares(model.params[name]) for name in names)
    decays = {name: configs[name].get("weight_decay", 0.0) for name in names}
    model.reg = 0.0
    try:
        for name in names:
            configs[name]["weight_decay"] = reg
        yield penalty
    finally:
        model.reg = reg
        for name, decay in decays.items():
            configs[name]["weight_decay"] = decay


def sum_of_squares(w: np.ndarray) -> float:
    """``sum(w**2)`` as one BLAS dot product: no temporary, one read of ``w``.

    Equal to ``np.sum(w * w)`` up to rounding (the two add in different orders).
    """
    flat = w.reshape(-1)
    return float(np.dot(flat, flat))
