import math

import pandas as pd

from capplan.planning.bottlenecks import find_bottlenecks

DS = pd.date_range("2026-01-01", periods=3, freq="D")


def _plan(rows):
    out = []
    for service, resource, utils in rows:
        for ds, u in zip(DS, utils, strict=True):
            out.append(
                dict(service=service, resource=resource, scenario="expected", ds=ds, utilization_at_current=u)
            )
    return pd.DataFrame(out)


def test_earliest_runway_binds_and_others_lag_in_days():
    runway = pd.DataFrame(
        {
            "service": "api",
            "resource": ["cpu", "memory", "network"],
            "scenario": "expected",
            "days_left": [40.0, 12.5, math.inf],
        }
    )
    plan = _plan(
        [("api", "cpu", [0.5, 0.6, 0.7]), ("api", "memory", [0.6, 0.7, 0.9]), ("api", "network", [0.1] * 3)]
    )
    out = find_bottlenecks(runway, plan)
    assert out["resource"].tolist() == ["memory", "cpu", "network"]
    assert out["binding"].tolist() == [True, False, False]
    assert set(out["basis"]) == {"runway"}
    assert out["lag_days"].tolist() == [0.0, 27.5, math.inf]
    assert out["peak_utilization"].tolist() == [0.9, 0.7, 0.1]


def test_highest_peak_utilization_binds_when_nothing_crosses():
    runway = pd.DataFrame(
        {
            "service": "db",
            "resource": ["cpu", "storage"],
            "scenario": "expected",
            "days_left": [math.inf, math.inf],
        }
    )
    plan = _plan([("db", "cpu", [0.3, 0.35, 0.4]), ("db", "storage", [0.5, 0.55, 0.62])])
    out = find_bottlenecks(runway, plan)
    assert out["resource"].tolist() == ["storage", "cpu"]
    assert out["basis"].tolist() == ["utilization", "utilization"]
    assert out["utilization_gap"].tolist() == [0.0, 0.62 - 0.4]
    assert out["lag_days"].isna().all()


def test_tie_on_days_broken_by_utilization():
    runway = pd.DataFrame(
        {"service": "api", "resource": ["cpu", "memory"], "scenario": "expected", "days_left": [10.0, 10.0]}
    )
    plan = _plan([("api", "cpu", [0.5, 0.6, 0.7]), ("api", "memory", [0.6, 0.7, 0.8])])
    assert find_bottlenecks(runway, plan)["resource"].iloc[0] == "memory"
