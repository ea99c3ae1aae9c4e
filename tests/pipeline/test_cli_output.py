"""What `capplan plan` prints: a runway pivot per scenario and alerts grouped per service."""

from __future__ import annotations

import math

import pandas as pd

from capplan.reporting.console import print_alerts as _print_alerts
from capplan.reporting.console import print_runway as _print_runway


def _runway():
    rows = []
    days = {
        ("api", "cpu"): {"expected": 5.25, "aggressive": 2.0},
        ("db", "storage"): {"expected": math.inf, "aggressive": 0.0},
        ("web", "memory"): {"expected": math.inf, "aggressive": math.inf},
    }
    t0 = pd.Timestamp("2026-11-17")
    for (service, resource), per in days.items():
        for scenario, d in per.items():
            status = (
                "not_within_horizon" if math.isinf(d) else ("already_short" if d == 0 else "within_horizon")
            )
            rows.append(
                {
                    "service": service,
                    "resource": resource,
                    "scenario": scenario,
                    "status": status,
                    "days_left": d,
                    "crossing": pd.NaT if math.isinf(d) else t0 + pd.Timedelta(days=d),
                }
            )
    return pd.DataFrame(rows)


def test_runway_prints_one_line_per_short_resource_with_days_per_scenario_in_config_order(capsys):
    _print_runway(_runway(), ["expected", "aggressive", "unused"])
    lines = capsys.readouterr().out.splitlines()
    assert "2 service/resources short in some scenario" in lines[1]
    header = lines[2].split()
    assert header[:4] == ["service", "resource", "expected", "aggressive"] and "unused" not in header
    # db is short now in the aggressive scenario, so it comes first; web is never short: absent
    assert lines[4].split()[:4] == ["db", "storage", "beyond", "short"]
    assert lines[5].split()[:4] == ["api", "cpu", "5.2", "2.0"]
    assert "2026-11-19" in lines[5]  # earliest crossing over scenarios (aggressive: 2 days)
    assert not any(line.startswith("web") for line in lines)


def test_runway_says_when_nothing_is_short(capsys):
    rw = _runway()
    _print_runway(rw[rw["service"] == "web"], ["expected"])
    assert "No service runs out of capacity" in capsys.readouterr().out


def test_alerts_are_counted_by_kind_grouped_per_service_and_the_rest_pointed_to(capsys):
    al = pd.DataFrame(
        {
            "severity": ["critical"] * 3 + ["warning", "info"],
            "service": ["api", "api", "db", "db", "web"],
            "resource": ["cpu", "rps", "storage", "storage", "cpu"],
            "scenarios": ["expected", "aggressive", "expected", "expected", "expected"],
            "kind": ["runway_short", "cap_hit", "runway_short", "runway_short", "low_confidence"],
            "message": ["m1", "m2", "m3", "m4", "m5"],
        }
    )
    _print_alerts(al, limit=2)
    out = capsys.readouterr().out
    assert "1 critical cap hit, 2 critical runway short, 1 info low confidence, 1 warning runway short" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["api", "2", "0", "cpu,", "rps", "expected,", "aggressive"] in rows
    assert ["db", "1", "1", "storage", "expected"] in rows
    assert "First 2 alerts (2 more in the alerts table and the Alerts sheet):" in out
    assert "m5" not in out  # info alerts are counted, not listed


def test_demo_prints_the_policy_comparison_of_the_busiest_service(capsys):
    from capplan.reporting.console import print_scaling

    scores = pd.DataFrame(
        {
            "service": ["api"] * 3 + ["web"] * 3,
            "policy": ["reactive", "predictive", "hybrid"] * 2,
            "winner": [False, False, True, True, False, False],
            "under_provisioned_minutes": [120.0, 60.0, 0.0, 0.0, 0.0, 0.0],
            "peak_shortfall": [2.5, 1.0, 0.0, 0.0, 0.0, 0.0],
            "instance_hours": [1000.0, 900.0, 950.0, 10.0, 10.0, 10.0],
            "cost": [500.0, 450.0, 475.0, 1.0, 1.0, 1.0],
            "mean_utilization": [0.61, 0.66, 0.58, 0.2, 0.2, 0.2],
            "scaling_actions": [40, 20, 30, 0, 0, 0],
            "steps": [672] * 6,
        }
    )
    # web has fewer instance-hours but the higher peak in the schedule: it is the busiest
    schedule = pd.DataFrame({"service": ["api", "web"], "instances_recommended": [8, 12]})
    print_scaling(scores, schedule)
    out = capsys.readouterr().out
    assert "busiest service, web" in out and "api" not in out
    print_scaling(scores, None)  # no schedule: the highest instance-hours, api
    lines = capsys.readouterr().out.splitlines()
    assert "busiest service, api (672 steps" in lines[1]
    body = [line.split() for line in lines[4:]]
    assert body == [
        ["reactive", "120", "2.5", "1,000", "500", "61%", "40"],
        ["predictive", "60", "1", "900", "450", "66%", "20"],
        ["*", "hybrid", "0", "0", "950", "475", "58%", "30"],
    ]
    print_scaling(scores.iloc[:0], None)
    assert "No autoscaling replay" in capsys.readouterr().out
