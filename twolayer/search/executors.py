"""Where tuning trials run: a local process pool or a Dask cluster.

The local pool spawns one process per core, each with one thread (BLAS and update
rules: twolayer.fast.threads), so that parallel trials do not oversubscribe the
cores; Ctrl-C is left to the parent. Dask (the ``dask`` extra) is imported only
when a scheduler address is given.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from twolayer.fast.threads import available_cores, child_env, limit_threads


def _init_worker() -> None:
    # Ctrl-C goes to the whole process group; the parent handles it, and a worker's
    # Solver must not turn it into an interrupt checkpoint of a half-trained trial.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(1)  # the update rules too, not only BLAS (set by child_env)


@contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None) -> Iterator[Executor]:
    """An Executor for trials: a Dask cluster's at ``scheduler``, else a local process pool.

    The local pool has ``workers`` processes (default: the cores), started with
    "spawn" and one BLAS thread each, so that trials do not oversubscribe the cores.
    """
    if scheduler is not None:
        with dask_client(scheduler) as client:
            yield client.get_executor()
        return
    with child_env(1):
        pool = ProcessPoolExecutor(
            workers or available_cores(),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )
        try:
            yield pool
        except BaseException:
            # Do not wait for running trials: they are lost anyway and rerun on resume.
            # (ProcessPoolExecutor has no public way to stop running tasks before 3.14.)
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)  # quick: nothing is left running
            raise
        pool.shutdown()


def dask_client(address: str) -> Any:
    """A Dask client connected to the scheduler at ``address``."""
    return require_dask(address).Client(address, timeout=20)


def require_dask(address: str) -> Any:
    """The ``distributed`` module, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ValueError(
            f'--scheduler {address} needs Dask: pip install "twolayer[dask]"'
        ) from None
    return distributed
