"""capplan scaling-config and capplan simulate on a small real warehouse (ingest, one stored plan)."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from capplan.cli import main
from capplan.core.config import load_config
from capplan.warehouse import store
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_source

CONFIG = """
[warehouse]
path = "wh.duckdb"

[[sources]]
name = "metrics"
kind = "metrics"
path = "metrics.csv"

[[sources]]
name = "inventory"
kind = "inventory"
path = "inventory.csv"

[autoscaling]
startup_delay_s = 600
warmup_s = 900

[autoscaling.services.web]
min_instances = 2
max_instances = 30
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaling")
    ds = pd.date_range("2026-11-02", periods=3 * 168, freq="h")
    hour = np.arange(ds.size) % 24
    cpu = 4.0 + 16.0 * ((hour >= 9) & (hour < 18))
    frames = [
        pd.DataFrame({"ts": ds, "service": "web", "metric": "cpu", "value": cpu}),
        pd.DataFrame({"ts": ds, "service": "web", "metric": "memory", "value": 30.0}),
    ]
    pd.concat(frames).to_csv(root / "metrics.csv", index=False)
    pd.DataFrame(
        {
            "service": ["web", "web"],
            "resource": ["cpu", "memory"],
            "capacity_per_instance": [4.0, 16.0],
            "unit": ["cores", "GiB"],
            "instances": [6, 6],
            "target_utilization": [0.5, 0.8],
            "max_instances": [40, 40],
            "cost_per_instance_hour": [0.5, 0.5],
        }
    ).to_csv(root / "inventory.csv", index=False)
    (root / "capplan.toml").write_text(CONFIG)
    cfg = load_config(root / "capplan.toml")
    con = connect(cfg.warehouse_path)
    try:
        for source in cfg.sources:
            [report] = ingest_source(con, source, cfg, engine="vectorized")
            assert report.status == "loaded", report.message
        nxt = pd.date_range("2026-11-23", periods=4, freq="h")
        schedule = pd.DataFrame(
            {
                "service": "web",
                "ds": nxt,
                "instances_recommended": [2, 8, 8, 3],
                "binding_resource": "cpu",
                "capped": False,
            }
        )
        run = {"created_at": pd.Timestamp("2026-11-23"), "as_of": pd.Timestamp("2026-11-22 23:00")}
        store.write(con, "plan_runs", pd.DataFrame([{**run, "plan_id": "p1", "forecast_run_id": "r1"}]))
        store.write(con, "scaling_schedule", schedule.assign(plan_id="p1"))
    finally:
        con.close()
    return root / "capplan.toml"


def test_scaling_config_prints_each_format(config, capsys):
    assert main(["scaling-config", "--config", str(config), "--format", "hpa", "--service", "web"]) == 0
    hpa = yaml.safe_load(capsys.readouterr().out)
    assert hpa["kind"] == "HorizontalPodAutoscaler"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 30)
    assert main(["scaling-config", "--config", str(config), "--format", "keda", "--service", "web"]) == 0
    keda = yaml.safe_load(capsys.readouterr().out)
    crons = [t["metadata"] for t in keda["spec"]["triggers"] if t["type"] == "cron"]
    assert [(c["start"], c["end"], c["desiredReplicas"]) for c in crons] == [
        ("45 0 23 11 *", "0 3 23 11 *", "8"),  # warmup_s 900: 15 minutes early
        ("45 2 23 11 *", "0 4 23 11 *", "3"),
    ]
    assert main(["scaling-config", "--config", str(config), "--format", "aws", "--service", "web"]) == 0
    aws = json.loads(capsys.readouterr().out)
    assert aws["PredictiveScalingConfiguration"]["SchedulingBufferTime"] == 900


def test_scaling_config_writes_out_and_names_a_missing_service(config, tmp_path, capsys):
    out = tmp_path / "keda.json"
    args = ["scaling-config", "--config", str(config), "--format", "keda", "--service", "web"]
    assert main([*args, "--output", "json", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["kind"] == "ScaledObject"
    assert main(["scaling-config", "--config", str(config), "--format", "hpa", "--service", "nope"]) == 2
    assert "no inventory row for service 'nope'" in capsys.readouterr().err


def test_simulate_prints_a_table_and_writes_json(config, tmp_path, capsys):
    out = tmp_path / "scores.json"
    assert main(["simulate", "--config", str(config), "--service", "web", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "under provisioned minutes" in printed and "hybrid" in printed
    scores = {s["policy"]: s for s in json.loads(out.read_text())["scores"]}
    assert set(scores) == {"reactive", "predictive", "hybrid", "crane_dsp", "ahpa"}
    assert "crane_dsp" in printed and "ahpa" in printed
    assert scores["hybrid"]["under_provisioned_minutes"] == 0
    # a repeating day: both peers find the period and scale ahead of each morning
    assert scores["crane_dsp"]["under_provisioned_minutes"] == 0
    assert scores["ahpa"]["under_provisioned_minutes"] == 0
    assert scores["reactive"]["under_provisioned_minutes"] > 0
    # the cost-vs-risk frontier: every swept setting in the JSON, a PNG beside it
    front = json.loads(out.read_text())["frontier"]
    assert {f["policy"] for f in front} == {"reactive", "predictive", "hybrid"}
    reactive = sorted(
        (f["target_utilization"], f["instance_hours"]) for f in front if f["policy"] == "reactive"
    )
    hours = [h for _, h in reactive]
    assert hours == sorted(hours, reverse=True)  # a higher target runs fewer instance-hours
    assert any(f["efficient"] for f in front if f["policy"] == "hybrid")
    png = tmp_path / "scores_frontier.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "scores_frontier.png" in printed
    assert main(["simulate", "--config", str(config), "--service", "api"]) == 2


def test_simulate_replays_the_configured_policies_and_predictor(config, tmp_path, capsys):
    peers = config.with_name("peers.toml")
    text = config.read_text().replace(
        "warmup_s = 900", 'warmup_s = 900\npolicies = ["reactive", "ahpa"]\npredictor = "ahpa"'
    )
    peers.write_text(text)
    out = tmp_path / "scores.json"
    assert main(["simulate", "--config", str(peers), "--service", "web", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "of the ahpa forecast" in printed
    payload = json.loads(out.read_text())
    assert [s["policy"] for s in payload["scores"]] == ["reactive", "ahpa"]
    assert payload["policy"]["predictor"] == "ahpa"
    bad = config.with_name("bad.toml")
    bad.write_text(config.read_text().replace("warmup_s = 900", 'warmup_s = 900\npolicies = ["crane"]'))
    assert main(["simulate", "--config", str(bad), "--service", "web"]) == 2
    assert "policies" in capsys.readouterr().err


def test_keda_leaves_out_the_schedule_when_the_recent_forecast_was_wrong(config, tmp_path, capsys):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(config.parent, root)
    cfg = load_config(root / "capplan.toml")
    ds = pd.date_range("2026-11-22 18:00", periods=6, freq="h")  # the last 6 h of history (window 6 h)
    con = connect(cfg.warehouse_path)
    try:
        for run, p50 in (("good", 4.0), ("bad", 400.0)):  # the later vintage wins
            fc = pd.DataFrame(
                {
                    "forecast_id": run,
                    "run_id": run,
                    "created_at": pd.Timestamp("2026-11-22") + pd.Timedelta(hours=int(run == "bad")),
                    "cutoff": pd.Timestamp("2026-11-22 12:00"),
                    "unique_id": "web:cpu",
                    "model": "seasonal_naive",
                    "ds": ds,
                    "p50": p50,
                }
            )
            store.save_forecasts(con, fc)
    finally:
        con.close()
    args = ["scaling-config", "--config", str(root / "capplan.toml"), "--format", "keda", "--service", "web"]
    assert main(args) == 0
    out = capsys.readouterr()
    keda = yaml.safe_load(out.out)
    assert {t["type"] for t in keda["spec"]["triggers"]} == {"cpu", "memory"}
    assert "fallback" not in keda["spec"]
    reason = keda["metadata"]["annotations"]["capplan.io/predictive-fallback"]
    assert "exceeds fallback_error 0.5" in reason and "6 step(s)" in reason
    assert "cron triggers are left out" in out.err


def test_an_older_shape_of_the_scaling_tables_is_dropped_and_recreated(tmp_path):
    """A warehouse written before the one policy engine keyed the schedule by resource (NOT NULL):
    the next plan must not trip over it, so the derived table is recreated with its new key."""
    import duckdb

    from capplan.warehouse.schema import ensure_table

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute(
        "CREATE TABLE scaling_schedule (plan_id VARCHAR NOT NULL, service VARCHAR NOT NULL, "
        "resource VARCHAR NOT NULL, ds TIMESTAMP NOT NULL, instances_recommended BIGINT, capped BOOLEAN)"
    )
    con.execute("INSERT INTO scaling_schedule VALUES ('p0', 'web', 'cpu', '2026-01-01', 3, false)")
    ensure_table(con, "scaling_schedule")
    cols = [r[0] for r in con.execute("DESCRIBE scaling_schedule").fetchall()]
    assert cols == ["plan_id", "service", "ds", "instances_recommended", "binding_resource", "capped"]
    con.execute("INSERT INTO scaling_schedule VALUES ('p1', 'web', '2026-01-01', 3, 'cpu', false)")
    ensure_table(con, "scaling_schedule")  # the current shape is kept, rows and all
    assert con.execute("SELECT count(*) FROM scaling_schedule").fetchone()[0] == 1
    con.close()
