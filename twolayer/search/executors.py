"""Where tuning trials run: a local process pool or a Dask cluster.

The local pool spawns one process per core, each with one BLAS thread, so that
parallel trials do not oversubscribe the cores; Ctrl-C is left to the parent.
Dask (the ``dask`` extra) is imported only when a scheduler address is given.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _init_worker() -> None:
    # Ctrl-C goes to the whole process group; the parent handles it, and a worker's
    # Solver must not turn it into an interrupt checkpoint of a half-trained trial.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return  # the environment variables set by the parent already apply
    threadpool_limits(1)  # stays in effect for the worker's lifetime


@contextmanager
def _blas_env(threads: int) -> Iterator[None]:
    """Set the BLAS thread variables while spawning workers, then restore them.

    A spawned worker re-imports the parent's main module, and with it numpy, before
    any initializer runs; BLAS reads these variables once, at that import, so they
    must already be in the environment the worker inherits.
    """
    saved = {k: os.environ.get(k) for k in BLAS_ENV_VARS}
    os.environ.update(dict.fromkeys(BLAS_ENV_VARS, str(threads)))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    with _blas_env(1):
        pool = ProcessPoolExecutor(
            workers or default_workers(),
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
