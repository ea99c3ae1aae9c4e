"""build_plan's long-range plan on hand-built inputs: runway in months, purchase plan, order-by date."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from capplan.core.bundles import PlanInputs
from capplan.core.config import config_from_dict
from capplan.planning import build_plan
from capplan.planning.longrange import DAYS_PER_MONTH

CUTOFF = pd.Timestamp("2026-11-01 23:00")
ORIGIN = pd.Timestamp("2026-09-03")  # 59 days before the cutoff's day
RATE, LEVEL = 0.01, 3.0  # daily peaks 3 x e^(0.01 t) cores; usable capacity 3 x 4 x 0.5 = 6 cores


def _cfg(**planning):
    return config_from_dict(
        {
            "forecast": {"quantiles": [0.1, 0.5, 0.9]},
            "scenarios": {"expected": {"quantile": 0.5}, "high": {"quantile": 0.9}},
            "planning": {"redundancy": "none", "headroom": 0.1, "long_range_months": 2,
                         "long_range_resolution": "daily", **planning},
        }
    )  # fmt: skip


def _inputs(lead_time: float | None = 45.0) -> PlanInputs:
    ds = pd.date_range(CUTOFF + pd.Timedelta(hours=1), periods=72, freq="h")
    fc = pd.DataFrame(
        {
            "unique_id": "db:cpu",
            "ds": ds,
            "model": "stub",
            "cutoff": CUTOFF,
            "p10": 3.6,
            "p50": 4.0,
            "p90": 4.4,
        }
    )
    series = pd.DataFrame(
        [{"unique_id": "db:cpu", "service": "db", "metric": "cpu", "region": None, "unit": "cores",
          "kind": "gauge", "frequency": "h", "source": "test"}]
    )  # fmt: skip
    inventory = pd.DataFrame(
        [{"service": "db", "resource": "cpu", "capacity_per_instance": 4.0, "unit": "cores", "instances": 3,
          "target_utilization": 0.5, "max_instances": 20, "cost_per_instance_hour": 1.0, "instance_type": None,
          "lead_time_days": lead_time}]
    )  # fmt: skip
    days = pd.date_range(ORIGIN, CUTOFF.floor("D"), freq="D")
    peaks = pd.DataFrame(
        {"unique_id": "db:cpu", "ds": days, "y": LEVEL * np.exp(RATE * np.arange(len(days)))}
    )
    events = pd.DataFrame(columns=["name", "kind", "start", "end", "services", "expected_uplift"])
    return PlanInputs(
        run_id="run1",
        forecasts=fc,
        series=series,
        inventory=inventory,
        events=events.astype({"start": "datetime64[ns]", "end": "datetime64[ns]"}),
        kpis=pd.DataFrame(columns=["kpi", "ds", "value"]),
        history=peaks.assign(ds=peaks["ds"] + pd.Timedelta(hours=12)),
        daily_peaks=peaks,
    )


def _y(t):
    return LEVEL * math.exp(RATE * t)


def test_long_range_runway_reaches_months_and_the_order_by_date_is_crossing_minus_lead_time():
    t = build_plan(_inputs(), _cfg())
    r = t.runway.set_index("scenario").loc["expected"]
    assert r["status"] == "not_within_horizon" and r["days_left"] == np.inf  # the short horizon says beyond
    frac = (6.0 - _y(69)) / (_y(70) - _y(69))  # 3 e^(0.01 t) = 6 between day 69 and day 70
    crossing = ORIGIN + pd.Timedelta(days=69 + frac)
    assert r["long_range_crossing"] == pytest.approx(crossing, abs=pd.Timedelta(seconds=1))
    days_left = (crossing - CUTOFF) / pd.Timedelta(days=1)
    assert r["long_range_days_left"] == pytest.approx(days_left, abs=1e-4)
    assert r["months_left"] == pytest.approx(days_left / DAYS_PER_MONTH, abs=1e-5)
    assert r["lead_time_days"] == 45.0
    assert r["order_by_date"] == pytest.approx(crossing - pd.Timedelta(days=45), abs=pd.Timedelta(seconds=1))
    assert set(t.long_range["model"]) == {"trend+seasonal (robust log-linear)"}


def test_purchase_plan_rows_per_month_and_scenario_with_exact_counts():
    t = build_plan(_inputs(), _cfg())
    p = t.purchase_plan
    assert p.groupby("scenario")["period"].apply(lambda s: s.dt.strftime("%Y-%m").tolist()).to_dict() == {
        "expected": ["2026-11", "2026-12", "2027-01"],
        "high": ["2026-11", "2026-12", "2027-01"],
    }
    e = p[p["scenario"] == "expected"]

    def need(day):  # ceil(demand x 1.1 / (4 x 0.5)), never below today's 3
        return max(3, math.ceil(_y((day - ORIGIN).days) * 1.1 / 2.0 - 1e-9))

    assert need(pd.Timestamp("2026-11-30")) == 4 and need(pd.Timestamp("2027-01-01")) == 6
    assert e["instances_needed"].tolist() == [4.0, 6.0, 6.0]
    assert e["instances_to_add"].tolist() == [1.0, 2.0, 0.0]
    assert e["monthly_cost_change"].tolist() == [730.0, 2190.0, 2190.0]
    # the first day each month needs more, minus 45 days of lead time
    assert e["order_by_date"].iloc[0] == pd.Timestamp("2026-11-02") - pd.Timedelta(days=45)
    assert e["order_by_date"].iloc[1] == pd.Timestamp("2026-12-01") - pd.Timedelta(days=45)
    assert pd.isna(e["order_by_date"].iloc[2])


def test_order_hardware_action_when_the_order_by_date_is_due():
    t = build_plan(_inputs(), _cfg())
    a = t.actions.iloc[0]
    r = t.runway.set_index("scenario").loc["expected"]
    assert a["action"] == "order_hardware" and a["severity"] == "critical"  # the order-by date has passed
    assert a["by_date"] == r["long_range_crossing"] and a["order_by_date"] == r["order_by_date"]
    assert a["instances_recommended"] == 4.0 and a["monthly_cost_change"] == 730.0
    assert a["scenarios"] == "expected, high"
    cloud = build_plan(_inputs(lead_time=None), _cfg()).actions.iloc[
        0
    ]  # no lead time: a scale-out by the crossing
    assert cloud["action"] == "scale_out" and cloud["order_by_date"] == cloud["by_date"]


def test_long_range_months_zero_switches_it_off():
    t = build_plan(_inputs(), _cfg(long_range_months=0))
    assert t.long_range.empty and t.purchase_plan.empty and t.long_range_accuracy.empty
    assert t.runway["long_range_crossing"].isna().all() and t.runway["months_left"].isna().all()
    assert t.actions.iloc[0]["action"] == "keep"
    row = t.plan_assumptions.set_index("key").loc["long-range plan"]
    assert row["value"] == "off"
