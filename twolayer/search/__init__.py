"""Hyperparameter search: seeded trials on a process pool or a Dask cluster, kept on disk.

from twolayer.search import best_result, build_space, make_spec, run_search, trial_config
"""

from twolayer.search.space import build_space, make_spec, train_command, trial_config
from twolayer.search.trials import best_result, run_search

__all__ = [
    "best_result",
    "build_space",
    "make_spec",
    "run_search",
    "train_command",
    "trial_config",
]
