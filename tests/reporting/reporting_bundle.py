"""A small plan bundle with hostile names (formula, script) for the reporting tests, and helpers."""

from __future__ import annotations

import math
import re
import zipfile
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capplan.reporting import PlanBundle

EVIL = '=HYPERLINK("http://x","y")'
SCRIPT = "<script>alert(1)</script>"
SERVICES = ("api", SCRIPT, EVIL)
RESOURCES = ("cpu", "memory")
SCENARIOS = ("conservative", "expected", "aggressive")
EXPECTED = "expected"
PERIODS = pd.to_datetime(["2025-01-01", "2025-02-01"])
SHEETS = [
    "Actions",
    "Summary",
    "Scenarios",
    "Runway",
    "Bottlenecks",
    "Right-sizing",
    "Frontier",
    "Forecasts",
    "Accuracy",
    "Alerts",
    "Assumptions",
    "ChartData",
]
# days left in the expected scenario: EVIL shortest, then SCRIPT, then api (memory never short)
DAYS = {("api", "cpu"): 40.0, ("api", "memory"): math.inf, (SCRIPT, "cpu"): 20.0, (SCRIPT, "memory"): 90.0}
DAYS |= {(EVIL, "cpu"): 0.0, (EVIL, "memory"): 5.5}


def plan_rows() -> pd.DataFrame:
    rows = []
    for i, (svc, res, scen, period) in enumerate(product(SERVICES, RESOURCES, SCENARIOS, PERIODS)):
        req = 2 + i % 5
        rows.append(
            {
                "service": svc,
                "resource": res,
                "scenario": scen,
                "period": period,
                "demand_peak": 10.25 + i,
                "unit": "cores" if res == "cpu" else "GiB",
                "usable_capacity": 32.0,
                "instances": 3,
                "instances_required": req,
                "instances_uncapped": req + (1 if i % 7 == 0 else 0),
                "capped": i % 7 == 0,
                "monthly_cost": 730.0 * req,
                "notes_extra": f"row {i}",  # a column the exporter does not know
            }
        )
    return pd.DataFrame(rows)


def totals_of(plan: pd.DataFrame) -> pd.DataFrame:
    """What planning gives as totals: per scenario and period, each service once (its largest value
    over resources), summed over services; scenarios in first-appearance (config) order."""
    values = [c for c in ("monthly_cost", "instances_required", "instances") if c in plan]
    per_service = plan.groupby(["service", "scenario", "period"], sort=False)[values].max()
    totals = per_service.groupby(level=["scenario", "period"], sort=False).sum().reset_index()
    if "days_planned" in plan:
        totals["days_planned"] = totals["period"].map(plan.groupby("period")["days_planned"].max())
    return totals.sort_values("period", kind="stable", ignore_index=True)


def runway_rows() -> pd.DataFrame:
    rows = []
    as_of = pd.Timestamp("2025-01-01")
    for (svc, res), scen in product(DAYS, SCENARIOS):
        days = DAYS[(svc, res)] * (0.5 if scen == "aggressive" else 1.0)
        crossing = pd.NaT if math.isinf(days) else as_of + pd.Timedelta(days=days)
        status = (
            "already_short" if days == 0 else ("not_within_horizon" if math.isinf(days) else "within_horizon")
        )
        rows.append(
            {
                "service": svc,
                "resource": res,
                "scenario": scen,
                "status": status,
                "crossing": crossing,
                "crossing_earliest": crossing - pd.Timedelta(days=min(days, 2))
                if pd.notna(crossing)
                else pd.NaT,
                "crossing_latest": crossing + pd.Timedelta(days=3) if pd.notna(crossing) else pd.NaT,
                "days_left": days,
                "days_left_min": max(days - 2, 0.0),
                "days_left_max": days + 3,
                "horizon_days": 120.0,
            }
        )
    return pd.DataFrame(rows)


def forecast_rows() -> pd.DataFrame:
    ts = pd.date_range("2025-01-01", periods=6, freq="h")
    rows = []
    for svc, metric in product(SERVICES, RESOURCES):
        for k, t in enumerate(ts):
            mid = 10.0 + k
            rows.append(
                {
                    "service": svc,
                    "metric": metric,
                    "ts": t,
                    "model": "lgbm",
                    "p10": mid - 1.5,
                    "p50": mid,
                    "p90": mid + 1.5,
                    "p99": mid + 3.0,
                    "capacity": 14.0,
                    "planned_demand": mid * 1.2,
                    "required_capacity": 16.0 + k,
                    "max_instances_capacity": 28.0,
                    "region": "eu",
                }
            )
    return pd.DataFrame(rows)


def history_rows() -> pd.DataFrame:
    ts = pd.date_range("2024-12-31 20:00", periods=4, freq="h")
    return pd.DataFrame(
        [
            {"service": s, "metric": m, "ts": t, "y": 9.0 + j}
            for s, m in product(SERVICES, RESOURCES)
            for j, t in enumerate(ts)
        ]
    )


def _summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": [
                "services short within 30 days",
                "monthly cost expected",
                "mean utilization",
                "champion",
            ],
            "value": [2, 12345.0, 0.42, "lgbm"],
            "note": ["expected scenario", "", "", SCRIPT],
        }
    )


def _small_tables() -> dict[str, pd.DataFrame]:
    return {
        "actions": pd.DataFrame(
            {
                "rank": [1, 2],
                "service": [EVIL, "api"],
                "action": ["raise_max_instances", "right_size_down"],
                "by_date": pd.to_datetime(["2025-01-03", "2025-01-01"]),
                "days_left": [2.0, 0.0],
                "severity": ["critical", "info"],
                "instances": [4.0, 12.0],
                "instances_recommended": [9.0, 8.0],
                "binding_resource": ["cpu", "memory"],
                "monthly_cost_change": [3650.0, -2920.0],
                "scenarios": ["expected, aggressive", "all"],
                "note": ["raise max_instances from 6 to 9, then scale out", "p95 utilization 20%"],
            }
        ),
        "bottlenecks": pd.DataFrame(
            {
                "service": ["api", "api", EVIL],
                "scenario": [EXPECTED] * 3,
                "resource": ["cpu", "memory", "cpu"],
                "rank": [1, 2, 1],
                "binding": [True, False, True],
                "basis": ["runway", "runway", "runway"],
                "lag_days": [0.0, 12.5, 0.0],
                "utilization_gap": [0.0, -0.035, 0.125],
            }
        ),
        "rightsizing": pd.DataFrame(
            {
                "service": ["api", EVIL],
                "instances": [6, 3],
                "instances_recommended": [4, 3],
                "binding_resource": ["cpu", "memory"],
                "over_provisioned": [True, False],
                "monthly_saving": [1460.0, 0.0],
            }
        ),
        "accuracy": pd.DataFrame(
            {
                "service": ["api", EVIL],
                "metric": ["cpu", "cpu"],
                "model": ["lgbm", "lgbm"],
                "mase": [0.8123, 1.25],
                "smape": [12.5, 30.0],
                "coverage_p10_p90": [0.78, 0.91],
            }
        ),
        "alerts": pd.DataFrame(
            {
                "severity": ["critical", "warning", "info"],
                "service": [EVIL, SCRIPT, "api"],
                "resource": ["cpu", "cpu", "cpu"],
                "kind": ["runway_short", "runway_short", "low_confidence"],
                "date": pd.to_datetime(["2026-11-02", "2026-11-22", "2026-11-02"]),
                "days_left": [0.0, 20.0, float("nan")],
                "scenarios": [EXPECTED, EXPECTED, "all"],
                "message": ["already short", "runs out in 20.0 days", "+MASE 1.25"],
            }
        ),
        "frontier": pd.DataFrame(
            {"quantile": [0.5, 0.9], "monthly_cost": [8760.0, 10220.0], "instances_required": [12, 14]}
        ),
        "assumptions": pd.DataFrame({"key": ["headroom", "champion api:cpu"], "value": ["0.1", "@lgbm"]}),
    }


def make_bundle() -> PlanBundle:
    plan = plan_rows()
    return PlanBundle(
        summary=_summary(),
        plan=plan,
        runway=runway_rows(),
        forecasts=forecast_rows(),
        expected_scenario=EXPECTED,
        totals=totals_of(plan),
        history=history_rows(),
        **_small_tables(),
    )


def empty_bundle() -> PlanBundle:
    return PlanBundle(
        summary=pd.DataFrame(columns=["metric", "value", "note"]),
        plan=pd.DataFrame(),
        runway=pd.DataFrame(),
        bottlenecks=pd.DataFrame(),
        rightsizing=pd.DataFrame(),
        forecasts=pd.DataFrame(),
        accuracy=pd.DataFrame(),
        alerts=pd.DataFrame(
            columns=["severity", "service", "resource", "kind", "date", "days_left", "scenarios", "message"]
        ),
        frontier=pd.DataFrame(),
        assumptions=pd.DataFrame(),
        expected_scenario=EXPECTED,
    )


def sheet(ws) -> tuple[list, list[list]]:
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def expected_cell(value, column: str):
    """What openpyxl should read back for a bundle value."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "beyond horizon" if column.startswith("days_left") else str(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.number)):
        return pytest.approx(float(value))
    return value


def zip_texts(path: Path, pattern: str) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if re.fullmatch(pattern, n)}
