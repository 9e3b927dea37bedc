"""Update rules (temporary re-export while the reference rules are written)."""

from twolayer.fast.kernels import (  # noqa: F401
    DEFAULTS,
    UPDATE_RULES,
    adam,
    get_update_rule,
    rmsprop,
    sgd,
    sgd_momentum,
)
