"""Worker processes that end with their parent: the search pool's and the image decoders'.

    pool = ProcessPoolExecutor(n, spawn_context(), initializer=end_with_parent,
                               initargs=(os.getpid(),))
    ...
    stop_pool(pool)       # on an error or Ctrl-C: running tasks are not waited for

A worker ignores Ctrl-C (the terminal sends it to the whole process group; the parent
alone handles it), exits at once on SIGTERM, and exits by itself when its parent dies,
even by SIGKILL, which no parent can forward: it notices that it was handed to another
parent (``os.getppid`` changes). So no worker outlives its command, and nothing holds
the terminal's pipe open (``twolayer train ... | tee log`` returns).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: How often a worker checks that the process that started it is still there.
PARENT_CHECK_S = 0.5
# The resource tracker, a helper process of "spawn" pools, warns about the pool's
# semaphores when the pool was stopped by Ctrl-C: nothing a user can act on.
_TRACKER_QUIET = "ignore::UserWarning:multiprocessing.resource_tracker"


def _exit_with(signum: int, frame: Any) -> None:
    os._exit(128 + signum)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def end_with_parent(parent: int) -> None:
    """A pool initializer: ignore Ctrl-C, exit on SIGTERM, exit when ``parent`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_with)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def spawn_context() -> multiprocessing.context.SpawnContext:
    """The "spawn" context (a fresh interpreter, not a fork of a process running BLAS
    threads), with its resource tracker told not to print Python warnings."""
    if _TRACKER_QUIET not in sys.warnoptions:
        sys.warnoptions.append(_TRACKER_QUIET)  # passed on as -W when the tracker starts
    return multiprocessing.get_context("spawn")


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """End ``pool`` without waiting for its running tasks (lost anyway)."""
    # ProcessPoolExecutor has no public way to stop running tasks before Python 3.14.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)  # quick: nothing is left running
