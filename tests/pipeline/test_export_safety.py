"""Formula injection (issue 8, item 1): a service named like a spreadsheet formula, arriving as a
Prometheus label, is stored as a name and written to ``capplan forecast --out`` as inert text."""

from __future__ import annotations

import csv
import json

import pandas as pd

import capplan.pipelines.forecast as forecast_mod
from capplan.cli import main

HOSTILE = ['=HYPERLINK("evil.example/x","click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]


def test_hostile_service_names_are_neutralised_in_forecast_csv(tmp_path, monkeypatch, capsys):
    results = [
        {
            "metric": {"service": s, "__name__": "cpu"},
            "values": [[1735689600 + 3600 * i, "1"] for i in range(3)],
        }
        for s in HOSTILE
    ]
    (tmp_path / "p.json").write_text(json.dumps({"status": "success", "data": {"result": results}}))
    cfg = tmp_path / "capplan.toml"
    cfg.write_text(
        '[warehouse]\npath = "w.duckdb"\n[[sources]]\nname = "prom"\nkind = "metrics"\n'
        'path = "p.json"\nformat = "prometheus"\n'
    )
    from capplan.core.config import load_config
    from capplan.warehouse import ingest_source, warehouse

    c = load_config(cfg)
    with warehouse(c.warehouse_path) as con:  # the ingest flow's own loader (no second flow run)
        [report] = ingest_source(con, c.sources[0], c)
    assert report.status == "loaded" and report.rows_loaded == 9

    def fake_publish(
        cfg_, horizon, data=None, parallel=False
    ):  # the champions' forecast, without training: one step per series
        uids = [f"{s}:cpu" for s in HOSTILE]
        q = {c: 1.0 for c in ("p10", "p50", "p90", "p95", "p99")}
        fc = pd.DataFrame({"unique_id": uids, "ds": pd.Timestamp("2025-01-01 03:00"), "model": "=1+1", **q})
        fc["cutoff"] = pd.Timestamp("2025-01-01 02:00")
        return forecast_mod.Publication("vintage", "run", "1", pd.Timestamp("2025-01-02"), fc, None)

    monkeypatch.setattr(forecast_mod, "publish", fake_publish)
    out = tmp_path / "forecast.csv"
    assert main(["forecast", "--config", str(cfg), "--out", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["service"] for r in rows) == sorted("'" + s for s in HOSTILE)
    for r in rows:
        assert not any(str(v).startswith(("=", "+", "-", "@")) for v in r.values())
    assert "\x1b" not in capsys.readouterr().out
