"""The scheduled refresh: a deployment with the cron schedule, and one real run of the flow."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.cli import main  # noqa: E402


def test_deployment_carries_the_schedule_and_an_absolute_config(tmp_path):
    from capplan.pipelines.refresh import deployment

    cfg = write_company(tmp_path)
    dep = deployment(str(cfg), "0 3 * * *", retrain=False)
    assert dep.name == "capplan-refresh"
    assert [s.schedule.cron for s in dep.schedules] == ["0 3 * * *"]
    assert dep.parameters == {"config": str(cfg.resolve()), "retrain": False}


def test_serve_without_a_server_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    cfg = write_company(tmp_path)
    assert main(["serve", "--config", str(cfg)]) == 2
    assert "prefect server start" in capsys.readouterr().err


def test_refresh_flow_runs_every_step(tmp_path):
    from capplan.pipelines.refresh import refresh_flow

    cfg = write_company(tmp_path, models=("seasonal_naive", "seasonal_profile"))
    out = refresh_flow(str(cfg))
    assert out["files"] == 5 and out["rejected"] == 0
    assert out["run_id"] == out["forecast_run"]
    assert Path(out["exports"]["xlsx"]).exists()
