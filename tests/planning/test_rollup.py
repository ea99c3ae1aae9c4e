"""The plan rolled up per month and per scenario (planning.rollup), pinned on a hand-built plan."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.planning.rollup import monthly_plan, scenario_totals


def _plan():
    ds = pd.date_range("2026-11-20", "2026-12-01", freq="D")
    return pd.concat(
        [
            pd.DataFrame(
                {"service": service, "resource": resource, "scenario": "expected", "ds": ds, "demand": 1.0,
                 "unit": "cores", "usable_capacity": 50.0, "instances": 4, "instances_required": need,
                 "capped": False, "cost_per_hour": need * 0.5, "sizing_basis": "linear"}
            )
            for service, resource, need in (("api", "cpu", 6), ("api", "memory", 3), ("web", "cpu", 2))
        ],
        ignore_index=True,
    )  # fmt: skip


def test_scenario_totals_count_each_service_once_at_its_largest_resource():
    totals = scenario_totals(monthly_plan(_plan()), ["expected"])
    nov = totals[totals["period"] == pd.Timestamp("2026-11-01")].iloc[0]
    assert nov["instances_required"] == 6 + 2  # api's cpu (not cpu + memory) plus web
    assert nov["monthly_cost"] == (3.0 + 1.0) * 730
    assert nov["instances"] == 8 and nov["days_planned"] == 11
    assert list(totals["period"]) == [pd.Timestamp("2026-11-01"), pd.Timestamp("2026-12-01")]


def test_monthly_plan_counts_the_days_each_month_covers_and_keeps_scenario_order():
    ds = pd.date_range("2026-11-20", "2026-12-01", freq="D")
    plan = pd.concat(
        [
            pd.DataFrame(
                {
                    "service": "api",
                    "resource": "cpu",
                    "scenario": scenario,
                    "ds": ds,
                    "demand": np.arange(len(ds), dtype=float) * factor,
                    "unit": "cores",
                    "usable_capacity": 50.0,
                    "instances": 4,
                    "instances_required": 4 + np.arange(len(ds)) // 6,
                    "capped": False,
                    "cost_per_hour": 1.0 + np.arange(len(ds)) // 6,
                    "sizing_basis": "linear",
                }
            )
            for scenario, factor in (("expected", 1.0), ("aggressive", 2.0))
        ],
        ignore_index=True,
    )
    monthly = monthly_plan(plan)
    assert list(dict.fromkeys(monthly["scenario"])) == ["expected", "aggressive"]
    nov = monthly[(monthly["scenario"] == "aggressive") & (monthly["period"] == pd.Timestamp("2026-11-01"))]
    assert nov["days_planned"].item() == 11 and nov["demand_peak"].item() == 20.0
    assert nov["monthly_cost"].item() == 2.0 * 730  # the month's peak hourly cost, as a run rate
    dec = monthly[(monthly["scenario"] == "expected") & (monthly["period"] == pd.Timestamp("2026-12-01"))]
    assert dec["days_planned"].item() == 1
