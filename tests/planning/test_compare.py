"""compare_plans: what changed between two plans, on hand-built tables."""

from __future__ import annotations

import math

import pandas as pd

from capplan.planning.compare import CHANGE_COLUMNS, compare_plans


def _plan(days_api: float, inst_api: int, cost_api: float, alerts: list[tuple]) -> dict[str, pd.DataFrame]:
    runway = pd.DataFrame(
        {"service": ["api", "web"], "resource": "cpu", "scenario": "expected",
         "status": ["within_horizon" if math.isfinite(days_api) else "not_within_horizon", "not_within_horizon"],
         "days_left": [days_api, math.inf]}
    )  # fmt: skip
    cost = pd.DataFrame(
        {"service": ["api", "web"], "scenario": "expected", "instances_required": [inst_api, 4],
         "instances_uncapped": [inst_api, 4], "monthly_cost": [cost_api, 2920.0]}
    )  # fmt: skip
    al = pd.DataFrame(alerts, columns=["service", "resource", "kind", "severity", "message"])
    return {"runway": runway, "cost": cost, "alerts": al}


def test_compare_plans_lists_runway_instances_cost_and_alert_changes():
    old = _plan(40.0, 10, 7300.0, [("api", "cpu", "runway_short", "info", "in 40 days"),
                                   ("web", "rps", "cap_hit", "critical", "raise")])  # fmt: skip
    new = _plan(12.0, 12, 8760.0, [("api", "cpu", "runway_short", "warning", "in 12 days"),
                                   ("api", "memory", "over_target_utilization", "warning", "85%")])  # fmt: skip
    out = compare_plans(new, old)
    assert tuple(out.columns) == CHANGE_COLUMNS
    got = {
        (r.measure, r.service, r.resource, r.scenario): (r.before, r.after, r.change)
        for r in out.itertuples()
    }
    assert got[("days_left", "api", "cpu", "expected")] == (40.0, 12.0, -28.0)
    assert got[("instances_required", "api", "", "expected")] == (10, 12, 2)
    assert got[("monthly_cost", "api", "", "expected")] == (7300.0, 8760.0, 1460.0)
    alerts = out[out["measure"] == "alert"].set_index(["service", "resource"])["scenario"].to_dict()
    assert alerts == {("api", "cpu"): "severity", ("api", "memory"): "new", ("web", "rps"): "cleared"}
    # web did not change: not listed (beyond the horizon in both plans)
    assert not ((out["service"] == "web") & (out["measure"] != "alert")).any()
    assert out["measure"].iloc[0] == "alert"


def test_the_same_plan_twice_has_no_changes():
    p = _plan(12.0, 12, 8760.0, [("api", "cpu", "runway_short", "warning", "x")])
    assert compare_plans(p, p).empty


def test_an_older_plan_with_one_alert_per_scenario_compares_by_its_worst():
    old = _plan(12.0, 12, 8760.0, [("api", "cpu", "runway_short", "warning", "x"),
                                   ("api", "cpu", "runway_short", "critical", "y")])  # fmt: skip
    new = _plan(12.0, 12, 8760.0, [("api", "cpu", "runway_short", "warning", "z")])
    out = compare_plans(new, old)
    assert out["note"].tolist() == ["runway_short critical -> warning: z"]
