"""Task runners from ``[orchestration]``: a pool of local processes (the default), the batches one
after another in the flow's process (``threads``), or Dask (prefect-dask).

The process pool is Prefect's ``ProcessPoolTaskRunner`` of ``workers`` processes (default: one a
core), each told its share of the cores (``OMP_NUM_THREADS``; LightGBM follows it). It needs no
server (workers report to the flow's API, the temporary server too); one batch starts no worker.

Dask runs locally (``dask_workers`` processes, one thread each) or on an existing cluster
(``dask_address = "tcp://scheduler:8786"``); the same run then spreads over its machines. Dask
workers report their task runs to the Prefect API, so a real server is needed
(``PREFECT_API_URL``): without one each worker would start a temporary server of its own.
"""

from __future__ import annotations

import os

from capplan.core.batches import cores, pool_size, share_cores
from capplan.core.config import Config
from capplan.core.errors import CapplanError


def dask_runner(cfg: Config, workers: int | None = None):
    """A ``DaskTaskRunner`` for ``cfg`` (``workers`` overrides ``dask_workers`` for a local cluster)."""
    from prefect_dask import DaskTaskRunner

    if not os.environ.get("PREFECT_API_URL"):
        raise CapplanError(
            "Dask needs a Prefect server: start one with `capplan ui` (or `.venv/bin/prefect server start "
            "--host 127.0.0.1`) and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    orch = cfg.orchestration
    if orch.dask_address and workers is None:
        return DaskTaskRunner(address=orch.dask_address)
    n = workers or orch.dask_workers
    return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True})


def process_runner(cfg: Config):
    """A ``ProcessPoolTaskRunner`` of :func:`pool_size` processes, each with its share of the cores;
    on Prefect's temporary server the workers report to the flow's (without: one server each)."""
    from prefect.task_runners import ProcessPoolTaskRunner

    class Pool(ProcessPoolTaskRunner):
        def submit(self, *args, **kwargs):
            _share_temporary_server()
            return super().submit(*args, **kwargs)

    n = pool_size(cfg.orchestration.workers)
    return Pool(max_workers=n, initializer=share_cores, initargs=(max(1, cores() // n),))


def _share_temporary_server() -> None:
    """``PREFECT_API_URL`` of the temporary server this process runs, for the workers it spawns."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    server = SubprocessASGIServer()
    if not (os.environ.get("PREFECT_API_URL") or get_current_settings().api.url) and server.running:
        os.environ["PREFECT_API_URL"] = server.api_url


def pool_window(cfg: Config) -> dict:
    """``run_batches``'s in-flight limit on the current flow's runner: a process pool's workers
    (each batch is pickled when submitted: a few in flight, not all); elsewhere no limit."""
    from prefect.context import FlowRunContext
    from prefect.futures import as_completed
    from prefect.task_runners import ProcessPoolTaskRunner

    ctx = FlowRunContext.get()
    pool = ctx is not None and isinstance(ctx.task_runner, ProcessPoolTaskRunner)
    return {"window": pool_size(cfg.orchestration.workers) if pool else None, "as_completed": as_completed}


def local_pool(flow, cfg: Config):
    """``flow`` on the local process pool and True (its files are this machine's: never Dask), or as it is."""
    if cfg.orchestration.task_runner != "threads" and pool_size(cfg.orchestration.workers) > 1:
        return flow.with_options(task_runner=process_runner(cfg)), True
    return flow, False


def uses_dask(cfg: Config) -> bool:
    return cfg.orchestration.task_runner == "dask" or cfg.orchestration.dask_address is not None


def on_runner(flow, cfg: Config, workers: int | None = None, pool: bool = True):
    """``flow`` on the configured task runner and whether its batches are submitted to it: Dask
    (``workers`` or ``[orchestration]``) or the process pool (more than one worker, and ``pool``)
    with every batch submitted, or as it is (threads, a pool of one, or ``pool=False``: the batches
    one after another in the flow's process). Forecasting passes ``pool=False``: its batches are
    cheap, and two workers' start and the champions' pickles cost more than they save (10,000
    series: 245 s wall, 344 CPU s on the pool; 166 s, 170 CPU s in the flow's process the run before)."""
    if workers or uses_dask(cfg):
        return flow.with_options(task_runner=dask_runner(cfg, workers)), True
    return local_pool(flow, cfg) if pool else (flow, False)
