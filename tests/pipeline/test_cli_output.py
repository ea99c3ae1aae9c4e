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
