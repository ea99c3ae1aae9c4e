"""Task runners from ``[orchestration]``: threads in this process, or Dask (prefect-dask).

Dask runs locally (``dask_workers`` processes, one thread each) or on an existing cluster
(``dask_address = "tcp://scheduler:8786"``); the same run then spreads over its machines. Dask
workers report their task runs to the Prefect API, so a real server is needed
(``PREFECT_API_URL``): without one each worker would start a temporary server of its own.
"""

from __future__ import annotations

import os

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


def uses_dask(cfg: Config) -> bool:
    return cfg.orchestration.task_runner == "dask" or cfg.orchestration.dask_address is not None


def on_runner(flow, cfg: Config, workers: int | None = None):
    """``flow`` on the configured task runner and whether its batches are submitted to it: Dask
    (``workers`` or ``[orchestration]``) with every batch submitted, or as it is (threads: the
    batches one after another in the flow's process)."""
    if workers or uses_dask(cfg):
        return flow.with_options(task_runner=dask_runner(cfg, workers)), True
    return flow, False
