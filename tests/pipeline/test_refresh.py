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


def test_deploy_without_a_server_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    cfg = write_company(tmp_path)
    assert main(["deploy", "--config", str(cfg), "--pool", "p"]) == 2
    assert "deploy needs a Prefect server" in capsys.readouterr().err


def test_refresh_flow_runs_every_step(tmp_path):
    from capplan.pipelines.refresh import refresh_flow

    cfg = write_company(tmp_path, models=("seasonal_naive", "seasonal_profile"))
    out = refresh_flow(str(cfg))
    assert out["files"] == 5 and out["rejected"] == 0
    assert out["run_id"] == out["forecast_run"]
    assert Path(out["exports"]["xlsx"]).exists()


def test_a_run_leaves_a_summary_alerts_and_links_in_prefect(tmp_path):
    from prefect.client.orchestration import get_client

    from capplan.core.config import load_config
    from capplan.pipelines.refresh import RefreshOptions, pipeline_flow

    cfg = load_config(write_company(tmp_path, models=("seasonal_naive",)))
    result = pipeline_flow(cfg, RefreshOptions(through="export"))
    assert result.artifacts[0] == "capplan-run-summary" and "capplan-workbook" in result.artifacts
    with get_client(sync_client=True) as client:  # the session's other runs left theirs too: newest wins
        stored = {a.key: a for a in sorted(client.read_artifacts(), key=lambda a: a.created) if a.key}
    summary = stored["capplan-run-summary"].data
    assert "**Ingest**: 5 file(s)" in summary and "**Plan**" in summary and "**Champions**" in summary
    assert stored["capplan-workbook"].data.startswith("[workbook](file://")


def test_schedules_from_config_become_deployments(tmp_path):
    from capplan.core.config import load_config
    from capplan.pipelines.refresh import deployments

    cfg_path = write_company(tmp_path)
    cfg_path.write_text(
        cfg_path.read_text()
        + '\n[schedules.score]\ncron = "0 * * * *"\nthrough = "score"\nretrain = false\n'
        + '[schedules.weekly]\ncron = "0 4 * * 1"\ntimezone = "Europe/Berlin"\n'
    )
    deps = {d.name: d for d in deployments(str(cfg_path), load_config(cfg_path))}
    assert set(deps) == {"capplan-score", "capplan-weekly"}
    assert deps["capplan-score"].parameters == {
        "config": str(cfg_path.resolve()),
        "retrain": False,
        "through": "score",
    }
    assert [s.schedule.cron for s in deps["capplan-weekly"].schedules] == ["0 4 * * 1"]
    assert deps["capplan-weekly"].schedules[0].schedule.timezone == "Europe/Berlin"


def test_serve_with_a_bad_cron_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    cfg = write_company(tmp_path)
    assert main(["serve", "--config", str(cfg), "--cron", "banana"]) == 2
    assert "not a cron" in capsys.readouterr().err
