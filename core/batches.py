"""Series batches: the one partition of series that every stage's tasks share.

``series_batches(uids, batch_size)`` sorts the distinct ids and cuts them into consecutive
chunks of ``batch_size`` (the last one shorter); ``0`` or ``None`` means one batch. It depends on
nothing but the ids and the size, never on the number of workers or the task runner, so training
and forecasting see the same batches whether they run one after another in the flow's process,
in threads or on a Dask cluster, and their results are identical. Every id is in exactly one batch.

Global models (LightGBM) are fitted per batch: a batch of a few thousand series is plenty of
training data for one model, and it bounds the memory of each task. :func:`run_batches` maps a
task over the batches (in turn, or submitted to a task runner) and keeps one batch's failure
from stopping the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

DEFAULT_BATCH_SIZE = 2000  # series per batch ([orchestration] batch_size)
THREADS_FROM_ROWS = 200_000  # training rows from which a LightGBM fit uses the process's cores


def series_batches(uids: Iterable[str], batch_size: int | None = DEFAULT_BATCH_SIZE) -> list[list[str]]:
    """Sorted distinct ``uids`` in consecutive chunks of ``batch_size`` (0 or None: one batch)."""
    ids = sorted({str(u) for u in uids})
    if not ids:
        return []
    if not batch_size or batch_size >= len(ids):
        return [ids]
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


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


def run_batches(task, batches: list, parallel: bool, *args) -> list:
    """``task(batch, *args)`` for each batch, in order: called one after another in the flow's
    process, or all submitted to the flow's task runner (``parallel`` and more than one batch: a
    single batch runs in the flow's process, with no worker to start). A batch that raised gives
    its exception in place of a result, so the others go on."""
    if not parallel or len(batches) < 2:
        return [_attempt(task, b, *args) for b in batches]
    futures = [task.submit(b, *args) for b in batches]
    return [_attempt(f.result) for f in futures]


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
