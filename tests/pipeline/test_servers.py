"""The pipeline against a real Prefect server and a real MLflow server, both on 127.0.0.1.

Both servers are started by :mod:`capplan.servers` (what ``make ui`` runs) on free
ports and stopped by pid; everything is checked through their HTTP APIs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.servers import free_port, start_mlflow, start_prefect  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.server]


def _post(url: str, body: dict) -> dict | list:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_refresh_against_real_prefect_and_mlflow_servers(tmp_path):
    prefect = start_prefect(free_port(), tmp_path / "prefect-home")
    mlflow = start_mlflow(free_port(), tmp_path / "mlruns")
    try:
        cfg = write_company(tmp_path / "company", models=("seasonal_naive", "seasonal_profile"))
        text = cfg.read_text().replace(
            'tracking_uri = "sqlite:///mlruns/mlflow.db"', f'tracking_uri = "{mlflow.url}"'
        )
        cfg.write_text(text)
        env = {**os.environ, "PREFECT_API_URL": prefect.url, "PREFECT_HOME": str(tmp_path / "client-home")}
        r = subprocess.run(
            [str(Path(sys.executable).parent / "capplan"), "refresh", "--config", str(cfg), "--quiet"],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
        runs = _post(f"{prefect.url}/flow_runs/filter", {})
        assert {x["state_type"] for x in runs} == {"COMPLETED"}
        names = {x["name"] for x in runs}
        assert len(runs) >= 7, names  # the pipeline and its six subflows
        keys = {a["key"] for a in _post(f"{prefect.url}/artifacts/filter", {}) if a.get("key")}
        assert {"capplan-run-summary", "capplan-alerts", "capplan-workbook", "capplan-mlflow-run"} <= keys
        exp = _get(f"{mlflow.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=tiny")["experiment"]
        found = _post(f"{mlflow.url}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]]})
        assert len(found["runs"]) >= 3  # a parent and a child per model
        alias = _get(
            f"{mlflow.url}/api/2.0/mlflow/registered-models/alias?name=tiny-champions&alias=champion"
        )
        assert alias["model_version"]["version"] == "1"
    finally:
        assert prefect.stop() is not None and mlflow.stop() is not None
    assert prefect.proc.poll() is not None and mlflow.proc.poll() is not None
