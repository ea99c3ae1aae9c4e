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
