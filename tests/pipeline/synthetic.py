"""A tiny, fully known company for end-to-end tests (hourly, 5 weeks, 2 services)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2026-03-01")


def write_company(
    folder: Path, days: int = 35, models=("seasonal_naive", "seasonal_profile", "theta", "ensemble")
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ds = pd.date_range(END - pd.Timedelta(days=days), END - pd.Timedelta(hours=1), freq="h")
    t = np.arange(len(ds))
    daily = 1 + 0.5 * np.sin(2 * np.pi * (t % 24) / 24)
    rows = []
    rng = np.random.default_rng(3)
    for k, service in enumerate(["web", "api"]):
        rps = (100 + 20 * k) * daily * (1 + 0.004 * t / 24) * rng.normal(1, 0.03, len(t))
        for metric, unit, y in (("rps", "req/s", rps), ("cpu", "cores", 0.02 * rps + 1)):
            rows.append(
                pd.DataFrame(
                    {
                        "ts": ds.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "service": service,
                        "metric": metric,
                        "value": y.round(4),
                        "unit": unit,
                    }
                )
            )
    pd.concat(rows).to_csv(folder / "usage.csv", index=False)
    days_idx = pd.date_range(ds[0], ds[-1], freq="D")
    pd.DataFrame(
        {
            "ts": days_idx.strftime("%Y-%m-%d"),
            "kpi": "active_users",
            "value": np.linspace(1000, 1150, len(days_idx)).round(),
        }
    ).to_csv(folder / "kpis.csv", index=False)
    (folder / "events.csv").write_text(
        "name,kind,start,end,services,expected_uplift\n"
        f"spring_sale,sale,{(END + pd.Timedelta(days=2)):%Y-%m-%d},{(END + pd.Timedelta(days=3)):%Y-%m-%d},web,2.0\n"
    )
    (folder / "inventory.csv").write_text(
        "service,resource,capacity_per_instance,unit,instances,target_utilization,max_instances,cost_per_instance_hour,instance_type\n"
        "web,cpu,2,cores,4,0.7,6,0.10,small\nweb,rps,40,req/s,4,0.7,6,0.10,small\n"
        "api,cpu,4,cores,20,0.7,40,0.20,large\napi,rps,80,req/s,20,0.7,40,0.20,large\n"
    )
    n = np.arange(1, 17)
    x = 50 * n / (1 + 0.05 * (n - 1) + 0.002 * n * (n - 1))
    pd.DataFrame(
        {"service": "web", "instances": n, "throughput": x.round(3), "latency_p99_ms": 20 + n}
    ).to_csv(folder / "loadtests.csv", index=False)
    models_toml = ", ".join(f'"{m}"' for m in models)
    cfg = folder / "capplan.toml"
    cfg.write_text(
        f"""
[warehouse]
path = "wh.duckdb"

[[sources]]
name = "usage"
kind = "metrics"
path = "usage.csv"

[[sources]]
name = "kpis"
kind = "kpis"
path = "kpis.csv"

[[sources]]
name = "events"
kind = "events"
path = "events.csv"

[[sources]]
name = "inventory"
kind = "inventory"
path = "inventory.csv"

[[sources]]
name = "loadtests"
kind = "loadtests"
path = "loadtests.csv"

[forecast]
horizon = "3D"
models = [{models_toml}]
train_window = "28D"
min_history = 2

[forecast.backtest]
folds = 2

[mlflow]
tracking_uri = "sqlite:///mlruns/mlflow.db"
artifact_location = "mlruns/artifacts"
experiment = "tiny"

[planning]
runway_alert_days = 10

[export]
out_dir = "exports"
"""
    )
    return cfg
