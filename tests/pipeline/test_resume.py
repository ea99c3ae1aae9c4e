"""Resume, don't redo: a rerun after a crash skips the stages whose inputs did not change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.core.stages import stage_key  # noqa: E402


def test_a_stage_key_changes_with_any_input_and_only_then():
    base = stage_key("forecast", data="abc", forecast={"horizon": 48}, as_of=None, champion="r1")
    assert base == stage_key("forecast", champion="r1", as_of=None, forecast={"horizon": 48}, data="abc")
    assert base != stage_key("forecast", data="abd", forecast={"horizon": 48}, as_of=None, champion="r1")
    assert base != stage_key("forecast", data="abc", forecast={"horizon": 24}, as_of=None, champion="r1")
    assert base != stage_key("forecast", data="abc", forecast={"horizon": 48}, as_of=None, champion="r2")
    assert base != stage_key("plan", data="abc", forecast={"horizon": 48}, as_of=None, champion="r1")
    with pytest.raises(ValueError, match="not resumable"):
        stage_key("ingest", data="abc")


def test_stage_runs_round_trip_and_fingerprints_ignore_row_order(tmp_path):
    from capplan.warehouse import store, warehouse

    with warehouse(tmp_path / "w.duckdb") as con:
        assert store.stage_output(con, "plan", "k1") is None
        store.record_stage(con, "plan", "k1", "plan-a")
        store.record_stage(con, "plan", "k1", "plan-b")  # the same key again: replaced, not added
        assert store.stage_output(con, "plan", "k1") == "plan-b"
        assert store.read(con, "stage_runs").shape[0] == 1
        inv = pd.DataFrame({"service": ["web", "api"], "resource": ["cpu", "cpu"], "instances": [1, 2]})
        con.register("f", inv)
        con.execute("INSERT INTO inventory BY NAME SELECT * FROM f").fetchall()
        before = store.tables_fingerprint(con, ("inventory", "events"))
        con.execute("DELETE FROM inventory").fetchall()
        con.execute("INSERT INTO inventory BY NAME SELECT * FROM f ORDER BY instances DESC").fetchall()
        assert store.tables_fingerprint(con, ("inventory", "events")) == before
        con.execute("UPDATE inventory SET instances = 3 WHERE service = 'api'").fetchall()
        assert store.tables_fingerprint(con, ("inventory", "events")) != before


def _refresh(cfg: Path, env: dict, kill_at: str | None = None) -> tuple[int, str]:
    """``capplan refresh --retrain`` (a weekly retraining schedule) as a user runs it; with
    ``kill_at``, SIGKILLed when that step starts."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "capplan", "refresh", "--retrain", "--quiet", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if kill_at and line.startswith(f"[{kill_at}]"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=600)
    time.sleep(1)  # the killed group's files are closed
    return proc.returncode, "".join(lines)


@pytest.mark.slow  # three `capplan refresh` processes, each starting Prefect: ~3-5 min on 2 cores
def test_a_run_killed_mid_way_resumes_where_it_stopped(tmp_path):
    """Killed as the plan starts: the rerun trains nothing and publishes no second forecast vintage;
    it plans and exports. A third run on unchanged data redoes nothing."""
    import duckdb

    cfg = write_company(tmp_path, models=("seasonal_naive", "seasonal_profile"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", PREFECT_HOME=str(tmp_path / "prefect-home"))
    rc, out = _refresh(cfg, env, kill_at="plan")
    assert rc == -signal.SIGKILL, out
    wh = str(tmp_path / "wh.duckdb")

    def stages():
        with duckdb.connect(wh, read_only=True) as con:
            return dict(con.execute("SELECT stage, output FROM stage_runs").fetchall())

    done = stages()
    assert set(done) == {"train", "forecast"}, done

    rc, out = _refresh(cfg, env)
    assert rc == 0, out
    assert "[train]" not in out and f"train: unchanged inputs, reusing {done['train']}" in out, out
    assert f"forecast: unchanged inputs, reusing {done['forecast']}" in out, out
    with duckdb.connect(wh, read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT forecast_id) FROM forecasts").fetchall()[0][0] == 1
        assert con.execute("SELECT count(*) FROM plan_runs").fetchall()[0][0] == 1
    after = stages()
    assert {k: after[k] for k in ("train", "forecast")} == done and {"plan", "export"} <= set(after)

    rc, out = _refresh(cfg, env)
    assert rc == 0, out
    assert f"plan: unchanged inputs, reusing {after['plan']}" in out and "export: unchanged inputs" in out, (
        out
    )
    with duckdb.connect(wh, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM plan_runs").fetchall()[0][0] == 1
