"""Every thread setting in one place: BLAS (NumPy's matrix products) and the update rules.

    limit_threads(2)               # this process: BLAS and update rules, from now on
    with blas_threads(1): ...      # BLAS only, inside the block (the benchmark)
    with child_env(1): spawn()     # processes started inside inherit 1 BLAS thread

BLAS threads are set through threadpoolctl, at run time. A *spawned* process loads
NumPy, and BLAS with it, before any code of ours runs in it, so its thread count
must come from the environment it inherits: :func:`child_env`.

``OPENBLAS_THREAD_TIMEOUT``, read only when NumPy loads OpenBLAS, is given its
default by ``twolayer/__init__.py``, the first code any twolayer command runs
(:data:`IDLE_TIMEOUT_VAR` names it here for reports).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from threadpoolctl import threadpool_limits

from twolayer.fast.blocks import set_num_threads

#: What BLAS libraries (OpenBLAS, OpenMP builds, MKL) read at load for their thread count.
BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
IDLE_TIMEOUT_VAR = "OPENBLAS_THREAD_TIMEOUT"


def available_cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def limit_threads(threads: int) -> None:
    """Use at most ``threads`` threads for BLAS, OpenMP and the update rules, from now on."""
    threadpool_limits(threads)  # stays in effect: the returned handle is not needed
    set_num_threads(threads)


def blas_threads(threads: int) -> AbstractContextManager:
    """Use ``threads`` BLAS threads in NumPy inside the ``with`` block only."""
    return threadpool_limits(limits=threads, user_api="blas")


@contextmanager
def child_env(threads: int) -> Iterator[None]:
    """Put ``threads`` in the BLAS thread variables while processes are started, then restore.

    A spawned process re-imports the parent's main module, and with it NumPy, before
    any initializer runs; BLAS reads these variables once, at that import, so they
    must already be in the environment the process inherits.
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
