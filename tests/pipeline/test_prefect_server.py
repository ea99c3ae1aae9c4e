"""Flows against a real Prefect server started on 127.0.0.1, and Dask-parallel backtests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.server]
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "w")  # noqa: SIM115 (closed after the server stops)
    proc = subprocess.Popen(
        [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        proc.terminate()
        pytest.fail(f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
    yield url, env
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def _capplan(args, env, timeout=900):
    return subprocess.run(
        [str(VENV_BIN / "capplan"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _flow_runs(url: str) -> list[dict]:
    import json

    req = urllib.request.Request(
        f"{url}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_ingest_and_dask_training_are_recorded_by_the_server(prefect_server, tmp_path):
    url, env = prefect_server
    env = {**env, "PREFECT_API_URL": url}
    cfg = str(write_company(tmp_path, models=("seasonal_naive", "seasonal_profile", "theta", "ensemble")))
    r = _capplan(["ingest", "--config", cfg, "--quiet"], env)
    assert r.returncode == 0, r.stderr[-3000:]
    r = _capplan(["train", "--config", cfg, "--quiet", "--dask", "2"], env)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = _flow_runs(url)
    names = {(x["name"], x["state_type"]) for x in runs}
    states = {x["state_type"] for x in runs}
    assert states == {"COMPLETED"}, names
    assert len(runs) == 2
    assert "Champions:" in r.stdout


def _batched_company(folder: Path, dask: bool) -> str:
    cfg = write_company(folder, models=("seasonal_naive", "lightgbm"))
    runner = 'task_runner = "dask"\ndask_workers = 2\n' if dask else 'task_runner = "threads"\n'
    cfg.write_text(cfg.read_text() + f"\n[orchestration]\n{runner}batch_size = 3\n")
    return str(cfg)


def _published(folder: Path) -> tuple:
    import duckdb

    con = duckdb.connect(str(folder / "wh.duckdb"), read_only=True)
    try:
        fc = con.execute("SELECT * EXCLUDE (forecast_id, run_id, created_at) FROM forecasts").df()
        ch = con.execute("SELECT unique_id, champion, reason FROM champions").df()
    finally:
        con.close()
    return fc.sort_values(["unique_id", "ds"], ignore_index=True), ch.sort_values(
        "unique_id", ignore_index=True
    )


def test_a_local_dask_cluster_gives_the_sequential_champions_and_forecasts(prefect_server, tmp_path):
    """Series batches (2 + 2 series, LightGBM fitted per batch) on 2 Dask workers against the same
    batches one after another: identical champions and forecasts."""
    import pandas as pd

    url, env = prefect_server
    env = {**env, "PREFECT_API_URL": url}
    out = {}
    for dask in (False, True):
        folder = tmp_path / ("dask" if dask else "sequential")
        cfg = _batched_company(folder, dask)
        for args in (["ingest", "--quiet", "--engine", "vectorized"], ["train", "--quiet"], ["forecast"]):
            r = _capplan([*args, "--config", cfg], env)
            assert r.returncode == 0, r.stderr[-3000:]
        out[dask] = _published(folder)
    pd.testing.assert_frame_equal(out[False][1], out[True][1])
    pd.testing.assert_frame_equal(out[False][0], out[True][0])
    assert out[True][0]["unique_id"].nunique() == 4
