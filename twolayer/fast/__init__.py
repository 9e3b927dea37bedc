"""The fast path: the same update rules and minibatch gather, tuned for speed.

Everything here computes what the plain code in ``twolayer.optim`` and
``twolayer.solver`` computes, and the tests hold the two equal; this package only
decides how: in place, on cache-sized blocks, from several threads, with scratch
buffers reused from step to step. A reader learning the method can skip it.
"""

from twolayer.fast.blocks import for_blocks, get_num_threads, set_num_threads
from twolayer.fast.gather import gather_rows
from twolayer.fast.kernels import UPDATE_RULES, get_update_rule

__all__ = [
    "UPDATE_RULES",
    "for_blocks",
    "gather_rows",
    "get_num_threads",
    "get_update_rule",
    "set_num_threads",
]
