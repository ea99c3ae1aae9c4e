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


def test_alert_rules():
    accuracy = pd.DataFrame({"unique_id": ["a:cpu", "b:memory"], "mase": [0.8, 1.5]})
    out = build_alerts(
        _runway(), _plan(), accuracy, PlanningConfig(runway_alert_days=30, low_confidence_mase=1.0)
    )
    assert tuple(out.columns) == ALERT_COLUMNS
    got = {(r.service, r.kind): r.severity for r in out.itertuples()}
    assert got == {
        ("a", "runway_short"): "critical",  # already short
        ("b", "runway_short"): "critical",  # 10 days < 30 / 2
        ("c", "runway_short"): "warning",  # 15 <= 20 < 30
        ("f", "over_target_utilization"): "warning",  # 90% > 70% target
        ("f", "cap_hit"): "critical",
        ("g", "over_target_utilization"): "critical",  # 120% >= 100%
        ("b", "low_confidence"): "info",
    }
    assert out["severity"].tolist() == ["critical"] * 4 + ["warning"] * 2 + ["info"]
    cap = out[out["kind"] == "cap_hit"].iloc[0]
    assert "12" in cap["message"] and "8" in cap["message"] and "2026-01-02" in cap["message"]
    assert out[out["kind"] == "low_confidence"].iloc[0]["resource"] == "memory"


def test_no_accuracy_frame_and_nothing_to_say():
    calm = _runway().iloc[[3, 4]]
    plan = _plan()
    plan = plan[plan["service"] == "a"]
    out = build_alerts(calm, plan, None, PlanningConfig(runway_alert_days=30))
    assert out.empty and tuple(out.columns) == ALERT_COLUMNS


def test_cap_hit_beyond_the_usl_peak_has_a_readable_message():
    import numpy as np
    import pandas as pd

    from capplan.core.config import PlanningConfig
    from capplan.planning.alerts import build_alerts

    plan = pd.DataFrame(
        {
            "service": ["web"],
            "resource": ["rps"],
            "scenario": ["expected"],
            "ds": [pd.Timestamp("2026-11-27")],
            "utilization_at_current": [0.5],
            "target_utilization": [0.7],
            "capped": [True],
            "instances_required": [40],
            "instances_uncapped": [np.inf],
        }
    )
    runway = pd.DataFrame(
        columns=[
            "service",
            "resource",
            "scenario",
            "status",
            "crossing",
            "days_left",
            "days_left_min",
            "days_left_max",
        ]
    )
    alerts = build_alerts(runway, plan, None, PlanningConfig())
    assert alerts["kind"].tolist() == ["cap_hit"]
    assert "exceeds what scaling out can serve" in alerts["message"].iloc[0]
