import math

import pandas as pd

from capplan.core.config import PlanningConfig
from capplan.planning.alerts import ALERT_COLUMNS, build_alerts

T0 = pd.Timestamp("2026-01-01")


def _runway():
    days = [0.0, 10.0, 20.0, 40.0, math.inf]
    return pd.DataFrame(
        {
            "service": ["a", "b", "c", "d", "e"],
            "resource": "cpu",
            "scenario": "expected",
            "status": ["already_short"] + ["within_horizon"] * 3 + ["not_within_horizon"],
            "crossing": [T0 + pd.Timedelta(days=d) if math.isfinite(d) else pd.NaT for d in days],
            "days_left": days,
            "days_left_min": days,
            "days_left_max": days,
        }
    )


def _plan():
    rows = []
    for service, utils, capped in [
        ("a", [0.5, 0.6], [False, False]),
        ("f", [0.9, 0.95], [False, True]),
        ("g", [1.2, 1.3], [False, False]),
    ]:
        for i, (u, c) in enumerate(zip(utils, capped, strict=True)):
            rows.append(
                dict(
                    service=service,
                    resource="cpu",
                    scenario="expected",
                    ds=T0 + pd.Timedelta(days=i),
                    utilization_at_current=u,
                    target_utilization=0.7,
                    capped=c,
                    instances_required=8 if c else 5,
                    instances_uncapped=12 if c else 5,
                )
            )
    return pd.DataFrame(rows)


def test_alert_rules_severity_from_time_left():
    accuracy = pd.DataFrame({"unique_id": ["a:cpu", "b:memory"], "mase": [0.8, 1.5]})
    cfg = PlanningConfig(runway_alert_days=30, low_confidence_mase=1.0)
    out = build_alerts(_runway(), _plan(), accuracy, cfg, as_of=T0, resource_of={"memory": "memory"})
    assert tuple(out.columns) == ALERT_COLUMNS
    got = {(r.service, r.resource, r.kind): r.severity for r in out.itertuples()}
    assert got == {
        ("a", "cpu", "runway_short"): "critical",  # already short
        ("b", "cpu", "runway_short"): "warning",  # 10 days: within 30, not within 7
        ("c", "cpu", "runway_short"): "warning",  # 20 days
        ("d", "cpu", "runway_short"): "info",  # 40 days: beyond the threshold, within the horizon
        ("f", "cpu", "over_target_utilization"): "warning",  # 90% > 70% target
        ("f", "cpu", "cap_hit"): "critical",  # capped from day 1: within a week
        ("g", "cpu", "over_target_utilization"): "critical",  # 120% >= 100%
        ("b", "memory", "low_confidence"): "warning",
    }
    assert out["severity"].map({"critical": 0, "warning": 1, "info": 2}).is_monotonic_increasing
    cap = out[out["kind"] == "cap_hit"].iloc[0]
    assert cap["message"] == "raise max_instances from 8 to 12 before 2026-01-02"
    assert cap["date"] == T0 + pd.Timedelta(days=1) and cap["days_left"] == 1.0
    assert out.set_index(["service", "kind"]).loc[("b", "runway_short"), "days_left"] == 10.0


def test_one_alert_per_service_resource_and_kind_listing_the_scenarios():
    rw = pd.concat([_runway().iloc[[1]].assign(scenario=s, days_left=d, crossing=T0 + pd.Timedelta(days=d))
                    for s, d in (("aggressive", 3.0), ("expected", 10.0), ("conservative", 12.0))])  # fmt: skip
    plan = pd.concat(
        [_plan()[_plan()["service"] == "f"].assign(scenario=s) for s in ("expected", "aggressive")]
    )
    cfg = PlanningConfig(runway_alert_days=30)
    out = build_alerts(rw, plan, None, cfg, as_of=T0, scenarios=["conservative", "expected", "aggressive"])
    short = out[out["kind"] == "runway_short"]
    assert len(short) == 1 and short["scenarios"].iloc[0] == "conservative, expected, aggressive"
    # the earliest date over the scenarios decides: 3 days (aggressive) -> critical
    assert short["date"].iloc[0] == T0 + pd.Timedelta(days=3) and short["severity"].iloc[0] == "critical"
    assert (out["kind"] == "cap_hit").sum() == 1
    assert out.loc[out["kind"] == "cap_hit", "scenarios"].iloc[0] == "expected, aggressive"


def test_no_accuracy_frame_and_nothing_to_say():
    calm = _runway().iloc[[4]]
    plan = _plan()
    plan = plan[plan["service"] == "a"]
    out = build_alerts(calm, plan, None, PlanningConfig(runway_alert_days=30))
    assert out.empty and tuple(out.columns) == ALERT_COLUMNS


def test_not_planned_and_beyond_scale_out_alerts():
    plan = pd.DataFrame(
        {"service": ["web"], "resource": ["rps"], "scenario": ["expected"], "ds": [pd.Timestamp("2026-11-27")],
         "utilization_at_current": [0.5], "target_utilization": [0.7], "capped": [False],
         "instances_required": [12], "instances_uncapped": [12], "sizing_basis": ["usl: beyond peak throughput"],
         "demand_unserved": [250.0]}
    )  # fmt: skip
    runway = _runway().iloc[[4]]
    problems = pd.DataFrame({"service": ["auth"], "resource": ["cpu"], "reason": ["no inventory row"]})
    out = build_alerts(
        runway, plan, None, PlanningConfig(), as_of=pd.Timestamp("2026-11-01"), problems=problems
    )
    got = out.set_index("kind")
    assert got.loc["not_planned", "severity"] == "critical" and got.loc["not_planned", "service"] == "auth"
    assert "no inventory row" in got.loc["not_planned", "message"]
    # 26 days ahead, within runway_alert_days 30: a warning; more instances do not help
    assert got.loc["beyond_scale_out", "severity"] == "warning"
    assert "re-architect" in got.loc["beyond_scale_out", "message"]
