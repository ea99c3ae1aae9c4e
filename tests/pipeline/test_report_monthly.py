"""The report's monthly roll-up of the daily plan (moved here from the export tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.pipelines.report import monthly_plan


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
                    # planning's name until its rename to instances_required lands
                    "required_instances": 4 + np.arange(len(ds)) // 6,
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
