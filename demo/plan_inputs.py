"""A plan's inputs straight from the demo frames, with a stub forecast: no warehouse, no training.

For tests and benchmarks of ``build_plan`` on the demo company. The forecast is the seasonal
naive: the last week's hourly peaks repeated over ``horizon_days``, quantiles as fixed ratios of it
(``p10`` x0.9, ``p50`` x1, ``p90`` x1.1, ``p95`` x1.15, ``p99`` x1.25). ``history`` holds the
observations of the :data:`HISTORY_DAYS` before the cutoff (as ``capplan plan`` reads them),
``daily_peaks`` each day's peak over the whole history (what the warehouse computes in SQL).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.bundles import PlanInputs

from .generate import DemoData

HISTORY_DAYS = 400
RATIOS = {"p10": 0.9, "p50": 1.0, "p90": 1.1, "p95": 1.15, "p99": 1.25}


def demo_plan_inputs(data: DemoData, horizon_days: int = 14) -> PlanInputs:
    """``PlanInputs`` for the demo company (see the module docstring)."""
    m = data.metrics
    uid = m["service"].astype(str) + ":" + m["metric"].astype(str)
    obs = (
        pd.DataFrame({"unique_id": uid.to_numpy(), "ds": m["ts"].to_numpy(), "y": m["value"].to_numpy(float)})
        .groupby(["unique_id", "ds"], as_index=False)["y"]
        .sum()
    )  # one series per service and metric: regions summed (a (unique_id, ds) key, as the warehouse has)
    series = (
        pd.DataFrame({"unique_id": uid, "service": m["service"].astype(str), "metric": m["metric"].astype(str),
                      "region": m["region"].astype(str), "unit": m["unit"].astype(str)})
        .drop_duplicates("unique_id").reset_index(drop=True)
    )  # fmt: skip
    series["kind"] = np.where(series["metric"] == "rps", "rate", "gauge")
    series[["frequency", "source"]] = ["h", "demo"]
    cutoff = obs["ds"].max().floor("h")
    hourly = obs.assign(ds=obs["ds"].dt.floor("h"))
    hourly = hourly[hourly["ds"] > cutoff - pd.Timedelta(days=7)]  # 168 hours: the copies do not overlap
    week = hourly.groupby(["unique_id", "ds"], as_index=False)["y"].max()
    reps = -(-horizon_days // 7)
    fc = pd.concat([week.assign(ds=week["ds"] + pd.Timedelta(days=7 * k)) for k in range(1, reps + 1)])
    fc = fc[fc["ds"] <= cutoff + pd.Timedelta(days=horizon_days)]
    fc = fc.assign(model="seasonal_naive_stub", cutoff=cutoff, **{q: fc["y"] * r for q, r in RATIOS.items()})
    peaks = obs.assign(ds=obs["ds"].dt.floor("D")).groupby(["unique_id", "ds"], as_index=False)["y"].max()
    return PlanInputs(
        run_id="demo-stub",
        forecasts=fc.drop(columns="y").reset_index(drop=True),
        series=series,
        inventory=data.inventory,
        loadtests=data.loadtests.assign(point=data.loadtests["instances"]),
        events=data.events,
        kpis=data.kpis.rename(columns={"ts": "ds"}),
        history=obs[obs["ds"] > cutoff - pd.Timedelta(days=HISTORY_DAYS)].reset_index(drop=True),
        daily_peaks=peaks,
    )
