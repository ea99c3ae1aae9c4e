"""``capplan deploy``: the schedules registered on a work pool of a real Prefect server, and one
run executed by a real process worker; checked through the server's HTTP API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.servers import free_port, start_prefect  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.server]
BIN = Path(sys.executable).parent


def _post(url: str, body: dict) -> dict | list:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_deploy_registers_the_schedules_on_a_work_pool_and_a_worker_runs_them(tmp_path):
    prefect = start_prefect(free_port(), tmp_path / "prefect-home")
    try:
        cfg = write_company(tmp_path / "company", models=("seasonal_naive",))
        cfg.write_text(cfg.read_text() + '\n[schedules.nightly]\ncron = "0 3 * * *"\n\n'
                       '[schedules.score]\ncron = "0 * * * *"\nthrough = "score"\nretrain = false\n')  # fmt: skip
        env = {**os.environ, "PREFECT_API_URL": prefect.url, "PREFECT_HOME": str(tmp_path / "client-home")}
        r = subprocess.run(
            [str(BIN / "capplan"), "deploy", "--config", str(cfg), "--pool", "capplan-test"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
        assert (
            "Created work pool 'capplan-test'" in r.stdout
            and "prefect worker start --pool capplan-test" in r.stdout
        )
        pool = _post(f"{prefect.url}/work_pools/filter", {})
        assert [(p["name"], p["type"]) for p in pool] == [("capplan-test", "process")]
        deps = {d["name"]: d for d in _post(f"{prefect.url}/deployments/filter", {})}
        assert set(deps) == {"capplan-nightly", "capplan-score"}
        for d in deps.values():
            assert d["work_pool_name"] == "capplan-test"
            assert d["entrypoint"] == "capplan.pipelines.refresh.refresh_flow"
            assert d["parameters"]["config"] == str(cfg.resolve())
        assert [s["schedule"]["cron"] for s in deps["capplan-score"]["schedules"]] == ["0 * * * *"]
        assert deps["capplan-score"]["parameters"]["through"] == "score"

        run = _post(f"{prefect.url}/deployments/{deps['capplan-nightly']['id']}/create_flow_run", {})
        worker = subprocess.run(
            [str(BIN / "prefect"), "worker", "start", "--pool", "capplan-test", "--run-once"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        deadline, state = time.monotonic() + 300, None
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{prefect.url}/flow_runs/{run['id']}", timeout=10) as resp:
                state = json.loads(resp.read())["state_type"]
            if state in ("COMPLETED", "FAILED", "CRASHED"):
                break
            time.sleep(2)
        assert state == "COMPLETED", (worker.stdout + worker.stderr)[-3000:]
        assert (tmp_path / "company" / "exports" / "capplan_plan.xlsx").exists()
    finally:
        assert prefect.stop() is not None
