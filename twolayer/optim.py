"""Update rules: one step of gradient descent on one parameter, written as the formulas.

These are CS231n's rules, with its names and signature::

    next_w, config = rule(w, dw, config)

``w`` is a parameter array and ``dw`` the gradient of the loss with respect to it
(same shape). ``config`` holds the hyperparameters (any left out get the defaults
set at the top of each rule) and the rule's state between calls (velocity,
moments, step count), which starts at zero. The rules return new arrays: ``w``,
``dw`` and the arrays already in ``config`` are left as they were.

Every rule also takes ``weight_decay`` (default 0) and steps on
``dw + weight_decay * w``: the gradient of an extra term
``0.5 * weight_decay * sum(w**2)`` in the loss, bit for bit the one
``TwoLayerNet``'s ``reg`` adds to its gradients.

Given a rule's name, the Solver runs the version in :mod:`twolayer.fast`, which
gives the same results (bit for bit, except Adam's rounding; the tests hold them
equal) but runs as one compiled pass over the arrays, in place, on all cores; the
Solver's ``update_note`` says which runs. Pass one of these functions as
``update_rule`` to train with it instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Config = dict
UpdateRule = Callable[[np.ndarray, np.ndarray, "Config | None"], "tuple[np.ndarray, Config]"]


def sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Vanilla stochastic gradient descent: a step against the gradient."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("weight_decay", 0.0)

    dw = dw + config["weight_decay"] * w  # the gradient of 0.5 * weight_decay * sum(w**2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """SGD with momentum: the step is a running sum of past gradients, ``velocity``."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    config.setdefault("weight_decay", 0.0)

    dw = dw + config["weight_decay"] * w
    v = config.get("velocity", 0.0)  # zero before the first step
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """RMSProp: each weight's step divided by a running root mean square of its gradient."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("weight_decay", 0.0)

    dw = dw + config["weight_decay"] * w
    cache = config.get("cache", 0.0)  # zero before the first step
    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Adam: running means of the gradient (m) and of its square (v), bias-corrected.

    ``t`` counts the steps; m and v start at zero, so early on they are too small
    by the factors ``1 - beta**t``, which the corrected ``m_hat`` and ``v_hat`` undo.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("weight_decay", 0.0)

    dw = dw + config["weight_decay"] * w
    config["t"] = config.get("t", 0) + 1
    config["m"] = config["beta1"] * config.get("m", 0.0) + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config.get("v", 0.0) + (1 - config["beta2"]) * dw**2
    m_hat = config["m"] / (1 - config["beta1"] ** config["t"])
    v_hat = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    return next_w, config


UPDATE_RULES: dict[str, UpdateRule] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def _defaults(rule: UpdateRule) -> dict[str, float]:
    """The hyperparameters ``rule`` fills into an empty config (its state is no float)."""
    _, config = rule(np.zeros(1), np.zeros(1), None)
    return {key: value for key, value in config.items() if isinstance(value, float)}


#: Each rule's default hyperparameters, read off the rules themselves.
DEFAULTS: dict[str, dict[str, float]] = {name: _defaults(f) for name, f in UPDATE_RULES.items()}


def get_update_rule(
    name_or_callable: str | UpdateRule, rules: Mapping[str, UpdateRule] = UPDATE_RULES
) -> UpdateRule:
    """The rule called ``name_or_callable`` in ``rules``, or the callable itself."""
    if callable(name_or_callable):
        return name_or_callable
    try:
        return rules[name_or_callable]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown update rule {name_or_callable!r}; known rules: {', '.join(rules)} "
            "(or pass a callable rule(w, dw, config) -> (next_w, config))"
        ) from None
