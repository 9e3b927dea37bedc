"""Every thread setting in one place: BLAS (NumPy's matrix products) and the compiled kernels.

    limit_threads(2)               # this process: BLAS and update rules, from now on
    with blas_threads(1): ...      # BLAS only, inside the block (the benchmark)
    with child_env(1): spawn()     # processes started inside inherit 1 BLAS thread

BLAS threads are set through threadpoolctl, at run time. A *spawned* process loads
NumPy, and BLAS with it, before any code of ours runs in it, so its thread count
must come from the environment it inherits: :func:`child_env`.

``OPENBLAS_THREAD_TIMEOUT``, read only when NumPy loads OpenBLAS, is given its
default by ``twolayer/__init__.py``, the first code any twolayer command runs
(:data:`IDLE_TIMEOUT_VAR` names it here for reports); where NumPy was imported
first (a notebook), :func:`apply_idle_timeout` makes OpenBLAS read it at run time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController, threadpool_limits

from twolayer.fast.jit import set_num_threads

#: What BLAS libraries (OpenBLAS, OpenMP builds, MKL) read at load for their thread count.
BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
IDLE_TIMEOUT_VAR = "OPENBLAS_THREAD_TIMEOUT"
#: What :func:`apply_idle_timeout` calls in OpenBLAS: exported by its pthreads build,
#: though not part of its documented API.
_OPENBLAS_SYMBOLS = ("openblas_thread_timeout", "openblas_read_env", "blas_thread_shutdown_")


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


def apply_idle_timeout() -> list[str]:
    """Make OpenBLAS take ``OPENBLAS_THREAD_TIMEOUT`` now, if it was loaded before it was set.

    OpenBLAS reads the variable when NumPy loads it. After ``import numpy`` and then
    ``import twolayer`` (a notebook), its idle threads would spin for its default
    2**28 cycles after each matrix product, on the cores the update rule's threads
    need next (docs/performance.md has the measured cost). Its pthreads build exports
    ``openblas_read_env``, which reads the variables again, and
    ``blas_thread_shutdown_``, which ends its threads as before a fork; the next BLAS
    call starts them again with the timeout just read. No other thread may be inside
    a BLAS call meanwhile (as at a fork), so this runs only in the main thread (an
    import in another thread, lazily, may race with the main one's products); twolayer
    calls it as it is imported. Returns the paths of the libraries changed: none in
    another thread, when the variable is unset or not a number, when the library read
    this value as it loaded, or for another BLAS, an OpenMP build or one without these
    functions.
    """
    if threading.current_thread() is not threading.main_thread():
        return []
    try:
        value = int(os.environ.get(IDLE_TIMEOUT_VAR, ""))
    except ValueError:
        return []
    changed = []
    for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        dynlib: Any = getattr(lib, "dynlib", None)
        if getattr(lib, "threading_layer", None) != "pthreads" or not all(
            hasattr(dynlib, name) for name in _OPENBLAS_SYMBOLS
        ):
            continue
        if dynlib.openblas_thread_timeout() == value:  # the value it read at load
            continue
        dynlib.openblas_read_env()
        dynlib.blas_thread_shutdown_()
        changed.append(lib.filepath)
    return changed
