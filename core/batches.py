"""Series batches: the one partition of series that every stage's tasks share.

``series_batches(uids, batch_size)`` sorts the distinct ids and cuts them into
``ceil(n / batch_size)`` consecutive chunks of equal size (sizes differ by one at most, none over
``batch_size``); ``0`` or ``None`` means one batch. It depends on nothing but the ids and the
size, never on the number of workers or the task runner, so training and forecasting see the same
batches whether they run one after another in the flow's process, in a process pool or on a Dask
cluster, and their results are identical. Every id is in exactly one batch.

Equal chunks of a few hundred series keep the workers of a pool busy to the end: 10,000 series in
5 batches of 2,000 on 2 workers left one worker idle for the last batch (9.6 of 35 minutes of
training); in 20 of 500 the last batch is a twentieth of the work.

Global models (LightGBM) are fitted per batch: a batch of a few thousand series is plenty of
training data for one model, and it bounds the memory of each task. :func:`run_batches` maps a
task over the batches (in turn, or submitted to a task runner) and keeps one batch's failure
from stopping the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import pairwise

DEFAULT_BATCH_SIZE = 500  # series per batch at most ([orchestration] batch_size)
THREADS_FROM_ROWS = 200_000  # training rows from which a LightGBM fit uses the process's cores


def series_batches(uids: Iterable[str], batch_size: int | None = DEFAULT_BATCH_SIZE) -> list[list[str]]:
    """Sorted distinct ``uids`` in the fewest consecutive chunks of ``batch_size`` at most, of equal
    size (the first ``n % count`` one longer); 0 or None: one batch."""
    ids = sorted({str(u) for u in uids})
    if not ids:
        return []
    if not batch_size or batch_size >= len(ids):
        return [ids]
    count = -(-len(ids) // batch_size)
    size, longer = divmod(len(ids), count)
    bounds = [k * size + min(k, longer) for k in range(count + 1)]
    return [ids[a:b] for a, b in pairwise(bounds)]


def cores() -> int:
    """CPU cores this process may use: ``OMP_NUM_THREADS`` when set (a Dask worker's nanny and
    capplan's process pool set it to the worker's share), else the cores the OS gives it."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def pool_size(workers: int | None) -> int:
    """Processes of the process pool: ``[orchestration] workers``, else one per core."""
    return workers or cores()


def share_cores(threads: int) -> None:
    """In a pool worker, before its first task: the worker's share of the cores (:func:`cores`)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)


def fit_threads(rows: int) -> int:
    """Threads for one LightGBM fit of ``rows`` training rows: one below :data:`THREADS_FROM_ROWS`
    (on small per-fold problems threads cost more than they save), else :func:`cores`. Measured
    on 2 cores: 720k rows, 1.4x faster on two threads, the same forecasts."""
    return 1 if rows < THREADS_FROM_ROWS else cores()


def run_batches(
    task, batches: list, parallel: bool, *args, window: int | None = None, as_completed=None
) -> list:
    """``task(batch, *args)`` for each batch, results in the batches' order: called one after
    another in the flow's process, or submitted to the flow's task runner (``parallel`` and more
    than one batch: a single batch runs in the flow's process, with no worker to start). A batch
    that raised gives its exception in place of a result, so the others go on.

    ``window``: at most this many batches in flight (a process pool of that many workers); the next
    is submitted as one finishes (``as_completed(futures)``: the runner's, yielding futures as they
    finish). A submitted batch is pickled at once, so submitting all of them held every batch's
    data twice in the flow's process. None: all at once (Dask schedules them itself)."""
    if not parallel or len(batches) < 2:
        return [_attempt(task, b, *args) for b in batches]
    if not window or window >= len(batches) or as_completed is None:
        futures = [task.submit(b, *args) for b in batches]
        return [_attempt(f.result) for f in futures]
    results: list = [None] * len(batches)
    queue = list(enumerate(batches))[::-1]
    running: dict = {}
    while queue or running:
        while queue and len(running) < window:
            k, batch = queue.pop()
            running[task.submit(batch, *args)] = k
        done = next(iter(as_completed(list(running))))
        results[running.pop(done)] = _attempt(done.result)
    return results


def all_or_raise(results: list) -> list:
    """:func:`run_batches`' ``results`` when no batch failed; else the first failure, raised."""
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def _attempt(fn, *args):
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 (recorded per batch by the caller)
        return err


def batch_failure(group, err: BaseException) -> tuple[list[str], BaseException, str]:
    """A failed batch's series, its error and the note each of them gets."""
    uids = sorted(group.df["unique_id"].unique())
    note = f"training batch of {len(uids)} series ({uids[0]}..{uids[-1]}) failed, no champion this run: {err}"
    return uids, err, note
