"""What the Solver runs to update a model's params, said in one line.

Given a rule's name, the Solver runs its compiled kernel (:mod:`twolayer.fast.kernels`),
and the model's L2 term is taken openly as weight decay in that kernel's pass: the
Solver asks for ``model.loss(X, y, l2=False)`` and passes the model's ``reg`` to the
kernel for the params in ``model.l2_params``. The step is the same (``reg * w`` added
to those gradients, in w's dtype as the model adds it) and the loss
reported is the same up to rounding (``sum(w**2)`` in one compiled pass over ``w``,
in float64), and the model is never touched. A callable rule runs
as it is given, on the model's own loss.

    updater = Updater("adam", model)
    print(updater.description)     # update rule adam: fast kernel (numba), ...
    reg = updater.l2(model)        # the model's reg this step, or 0.0 if it stays in the loss
    loss, grads = model.loss(X, y, **updater.loss_kwargs(reg))
    loss += updater.penalty(model.params, reg)   # the term left out, before the update
    updater.apply(model.params, grads, configs, reg)
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from twolayer.fast.kernels import describe, get_update_rule, is_kernel, sum_squares, update
from twolayer.optim import Config, UpdateRule


def _loss_takes_l2(model: Any) -> bool:
    try:
        return "l2" in inspect.signature(model.loss).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False


class Updater:
    """Runs ``update_rule`` (a built-in rule's name or a callable) on ``model``'s params."""

    def __init__(self, update_rule: str | UpdateRule, model: Any) -> None:
        self.rule = get_update_rule(update_rule)  # ValueError for an unknown name
        self.kernel: str | None = (
            update_rule if isinstance(update_rule, str) and is_kernel(update_rule) else None
        )
        names = tuple(getattr(model, "l2_params", ())) if _loss_takes_l2(model) else ()
        #: The params whose L2 term (the model's ``reg``) the kernel takes as weight decay.
        self.l2_params = names if self.kernel is not None and hasattr(model, "reg") else ()
        self.description = describe(update_rule)
        if self.l2_params:
            self.description += (
                f"; the model's L2 term (reg on {', '.join(self.l2_params)}) taken as "
                "weight decay in the kernel's pass"
            )

    def l2(self, model: Any) -> float:
        """The L2 strength to take out of ``model.loss`` this step (0.0: it stays there)."""
        return float(model.reg) if self.l2_params and model.reg else 0.0

    @staticmethod
    def loss_kwargs(l2: float) -> dict[str, bool]:
        """The keywords that leave the L2 term out of ``model.loss`` when ``l2`` is taken."""
        return {"l2": False} if l2 else {}

    def penalty(self, params: dict[str, np.ndarray], l2: float) -> float:
        """The L2 term ``0.5 * l2 * sum(w**2)`` over the ``l2_params`` (0.0 when ``l2``
        is 0): one compiled pass per weight, summed in float64."""
        if not l2:
            return 0.0
        return 0.5 * l2 * sum(sum_squares(params[name]) for name in self.l2_params)

    def apply(
        self,
        params: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        configs: dict[str, Config],
        l2: float = 0.0,
    ) -> None:
        """Update every param, ``params`` and ``configs`` in place; with a kernel, the
        ``l2_params`` on their gradient plus ``l2 * w``."""
        if self.kernel is None:
            for name, w in params.items():
                params[name], configs[name] = self.rule(w, grads[name], configs[name])
            return
        for name, w in params.items():
            decay = l2 if name in self.l2_params else 0.0
            if not (w.flags.c_contiguous and w.flags.writeable):
                w = params[name] = np.array(w)  # the kernel steps in place
            update(self.kernel, w, grads[name], configs[name], decay)
