"""Where tuning trials run: a local process pool or a Dask cluster, fed in bounded windows.

The local pool spawns one process per core, each with one thread (BLAS and update
rules: twolayer.fast.threads), so that parallel trials do not oversubscribe the
cores; Ctrl-C is left to the parent, and a worker exits when its parent dies, even
by SIGKILL. Dask (the ``dask`` extra) is imported only when a scheduler address is given.

    for trial, outcome in run_trials(partial(train, spec), trials, workers=2):
        ...   # outcome: fn's result, or a WorkerDeath

Only a window of trials is submitted at a time, so a search of a million trials holds a
few in memory, not a million futures. A trial whose process dies (out of memory, a
crash) is run again alone; if it kills its process a second time its outcome is a
:class:`WorkerDeath`, and the search goes on. On Dask the scheduler does the counting
(``distributed.scheduler.allowed-failures``) and its KilledWorker becomes the same.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from twolayer._workers import end_with_parent, spawn_context, stop_pool
from twolayer.fast.threads import available_cores, child_env, limit_threads

#: A trial that was running each time its process died this many times is failed.
MAX_KILLS = 2


@dataclass(frozen=True)
class WorkerDeath:
    """The outcome of a trial whose worker process died each time it ran it."""

    message: str


def _init_worker(parent: int) -> None:
    # SIGINT ignored, SIGTERM ends the worker at once (which also keeps its Solver from
    # taking it as an interrupt), and the worker ends when its parent does.
    end_with_parent(parent)
    limit_threads(1)  # the update rules too, not only BLAS (set by child_env)


@contextmanager
def local_pool(workers: int) -> Iterator[Executor]:
    """A pool of ``workers`` processes, started with "spawn" and one BLAS thread each."""
    with child_env(1):
        pool = ProcessPoolExecutor(
            workers,
            mp_context=spawn_context(),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        try:
            yield pool
        except BaseException:
            stop_pool(pool)  # running trials are lost anyway, and rerun on resume
            raise
        pool.shutdown()


def run_trials(
    fn: Callable[[dict], Any],
    trials: Iterable[dict],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
) -> Iterator[tuple[dict, Any]]:
    """Run ``fn(trial)`` for each trial; yield ``(trial, outcome)`` as each ends.

    On ``executor`` if given (whose breakage raises ChildProcessError), else on the
    Dask cluster at ``scheduler``, else on a local pool of ``workers`` processes
    (default: the cores), recreated when a worker dies. An exception raised by ``fn``
    stops the run (a trial's own failures are ``fn``'s to record).
    """
    trials = iter(trials)
    if executor is not None:
        window = 2 * (workers or available_cores())
        broken = yield from _run_window(executor, fn, trials, window)
        if broken:
            raise ChildProcessError("a worker process died; out of memory?")
        return
    if scheduler is not None:
        yield from _run_on_dask(fn, trials, scheduler)
        return
    yield from _run_on_local_pools(fn, trials, workers or available_cores())


def _run_on_local_pools(
    fn: Callable[[dict], Any], trials: Iterator[dict], workers: int
) -> Generator[tuple[dict, Any], None, None]:
    """Local pools, one after another while workers die: the trials that were running
    when one died run again one at a time, which tells which of them killed it."""
    suspects: deque[dict] = deque()
    kills: dict[int, int] = {}
    while True:
        alone = bool(suspects)
        source = _drain(suspects) if alone else trials
        with local_pool(1 if alone else workers) as pool:
            broken = yield from _run_window(pool, fn, source, 1 if alone else workers)
        if broken is None:
            if alone:
                continue
            return
        for trial in broken:
            kills[trial["index"]] = kills.get(trial["index"], 0) + 1
            if kills[trial["index"]] >= MAX_KILLS:
                yield (
                    trial,
                    WorkerDeath(
                        f"its worker process died each of the {kills[trial['index']]} times it "
                        "ran (out of memory? a crash?)"
                    ),
                )
            else:
                suspects.append(trial)


def _run_on_dask(
    fn: Callable[[dict], Any], trials: Iterator[dict], scheduler: str
) -> Generator[tuple[dict, Any], None, None]:
    """The trials on the Dask cluster at ``scheduler``; losing it mid-search is one
    ConnectionError (the outcomes already yielded stay recorded by the caller)."""
    client = dask_client(scheduler)
    try:
        window = 2 * max(sum(client.nthreads().values()), 1)
        yield from _run_window(client.get_executor(), fn, trials, window)
    except (CancelledError, OSError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ConnectionError(
            f"lost the Dask scheduler at {scheduler} mid-search ({reason}); the trials that "
            "finished are kept: start it again and rerun the same command to go on"
        ) from None
    finally:
        with suppress(Exception):  # a scheduler that is gone cannot be told goodbye
            client.close(timeout=5)


def _drain(queue: deque[dict]) -> Iterator[dict]:
    while queue:
        yield queue.popleft()


def _run_window(
    executor: Executor,
    fn: Callable[[dict], Any],
    trials: Iterator[dict],
    window: int,
) -> Generator[tuple[dict, Any], None, list[dict] | None]:
    """Keep up to ``window`` trials submitted, yielding each outcome as it arrives.

    Returns None once ``trials`` ran out, or the trials that were in flight when the
    executor broke (a worker process died).
    """
    in_flight: dict[Future, dict] = {}
    broken: list[dict] = []
    try:
        while True:
            while len(in_flight) < window and not broken:
                trial = next(trials, None)
                if trial is None:
                    break
                try:
                    in_flight[executor.submit(fn, trial)] = trial
                except BrokenExecutor:
                    broken.append(trial)
            if broken or not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                trial = in_flight.pop(future)
                outcome = _outcome(future)
                if outcome is None:
                    broken.append(trial)
                else:
                    yield trial, outcome
        if not broken:
            return None
        wait(in_flight)  # a broken pool fails the others at once
        for future, trial in in_flight.items():
            outcome = _outcome(future)
            if outcome is None:
                broken.append(trial)
            else:
                yield trial, outcome
        in_flight.clear()
        return broken
    finally:
        for future in in_flight:  # an error or Ctrl-C: nothing more starts
            future.cancel()


def _outcome(future: Future) -> Any:
    """The future's result, a WorkerDeath for Dask's KilledWorker, None if the pool broke."""
    try:
        return future.result()
    except BrokenExecutor:
        return None
    except Exception as e:
        if type(e).__name__ == "KilledWorker":  # distributed's, without importing it
            return WorkerDeath(f"its Dask worker died each time it ran it ({e})")
        raise


def dask_client(address: str) -> Any:
    """A Dask client connected to the scheduler at ``address``; ValueError in one line
    if it cannot connect (no scheduler there, or a tls:// or ucx:// address this
    installation has no certificates or UCX for)."""
    distributed = require_dask(address)
    try:
        return distributed.Client(address, timeout=20)
    except Exception as e:  # Dask raises OSError, TimeoutError, TypeError, ValueError ...
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(
            f"could not connect to the Dask scheduler at {address} ({reason}); check the "
            "address (tcp://HOST:PORT), or its TLS or UCX setup in Dask's configuration"
        ) from None


def require_dask(address: str) -> Any:
    """The ``distributed`` module, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ValueError(
            f'--scheduler {address} needs Dask: pip install "twolayer[dask]"'
        ) from None
    return distributed
