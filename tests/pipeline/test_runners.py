"""Task runners from [orchestration]: a local Dask cluster or an existing one, and what Dask needs."""

from __future__ import annotations

import pytest

from capplan.core.config import config_from_dict
from capplan.core.errors import CapplanError
from capplan.pipelines.runners import dask_runner, uses_dask


def test_dask_without_a_prefect_server_says_what_to_do(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(CapplanError, match="capplan ui"):
        dask_runner(config_from_dict({}))


def test_an_existing_cluster_or_a_local_one(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    remote = config_from_dict({"orchestration": {"dask_address": "tcp://10.0.0.5:8786"}})
    assert uses_dask(remote) and dask_runner(remote).address == "tcp://10.0.0.5:8786"
    local = config_from_dict({"orchestration": {"task_runner": "dask", "dask_workers": 3}})
    assert uses_dask(local) and dask_runner(local).cluster_kwargs["n_workers"] == 3
    assert dask_runner(local, workers=5).cluster_kwargs["n_workers"] == 5  # --dask N wins
    assert not uses_dask(config_from_dict({}))


def test_the_default_is_a_process_pool_of_one_worker_per_core(monkeypatch):
    from prefect.task_runners import ProcessPoolTaskRunner

    from capplan.core.batches import pool_size
    from capplan.pipelines.runners import on_runner, process_runner
    from capplan.pipelines.train import train_flow

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cfg = config_from_dict({"orchestration": {"workers": 2}})
    assert cfg.orchestration.task_runner == "processes" and pool_size(cfg.orchestration.workers) == 2
    runner = process_runner(cfg)
    assert isinstance(runner, ProcessPoolTaskRunner) and runner._max_workers == 2
    flow, parallel = on_runner(train_flow, cfg)
    assert parallel and isinstance(flow.task_runner, ProcessPoolTaskRunner)
    flow, parallel = on_runner(train_flow, cfg, pool=False)  # forecasting: its batches are cheap
    assert flow is train_flow and not parallel
    # a pool of one, or threads: the batches one after another in the flow's process
    for orch in ({"workers": 1}, {"task_runner": "threads", "workers": 4}):
        flow, parallel = on_runner(train_flow, config_from_dict({"orchestration": orch}))
        assert flow is train_flow and not parallel
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # a machine (or container) that says 3 cores
    assert pool_size(config_from_dict({}).orchestration.workers) == 3


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    from capplan.core.batches import THREADS_FROM_ROWS, cores, fit_threads, share_cores
    from capplan.pipelines.runners import process_runner

    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    runner = process_runner(config_from_dict({"orchestration": {"workers": 3}}))
    assert runner._initializer is share_cores and runner._initargs == (2,)  # 8 cores // 3 workers
    share_cores(2)  # what a worker runs before its first task
    assert cores() == 2
    assert fit_threads(THREADS_FROM_ROWS - 1) == 1 and fit_threads(THREADS_FROM_ROWS) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a Dask worker's nanny sets it so
    assert fit_threads(10**7) == 1


def test_a_single_batch_runs_in_the_flows_process():
    from capplan.core.batches import run_batches

    class Task:  # records how it was called; submit would need a flow's task runner
        calls: list = []

        def __call__(self, batch, k):
            self.calls.append(("call", batch))
            return batch * k

        def submit(self, batch, k):
            raise AssertionError("one batch must not start a worker")

    assert run_batches(Task(), [3], True, 2) == [6] and Task.calls == [("call", 3)]
