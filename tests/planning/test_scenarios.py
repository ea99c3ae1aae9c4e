"""Scenario demand: quantile brackets, event multipliers and their precedence, peaks, regions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capplan.planning.scenarios import (
    apply_events,
    daily_peaks,
    event_windows,
    quantile_bracket,
    resource_demand,
    traffic_series,
)

QCOLS = ["p10", "p50", "p90"]


def test_quantile_bracket_takes_the_neighbours():
    assert quantile_bracket(0.5, QCOLS) == ("p10", "p50", "p90")
    assert quantile_bracket(0.9, QCOLS) == ("p50", "p90", "p90")
    with pytest.raises(ValueError, match="0.95"):
        quantile_bracket(0.95, QCOLS)


def _events():
    return pd.DataFrame(
        {
            "name": ["bf", "promo", "down"],
            "kind": ["sale", "campaign", "outage"],
            "start": pd.to_datetime(["2026-01-10", "2026-01-11", "2026-01-12"]),
            "end": pd.to_datetime(["2026-01-11", "2026-01-12", "2026-01-13"]),
            "services": [["*"], ["web"], ["*"]],
            "expected_uplift": [np.nan, 1.5, np.nan],
        }
    )


def test_event_multiplier_precedence_scenario_then_stated_then_learned():
    series = pd.DataFrame({"unique_id": ["web:cpu", "db:cpu"], "service": ["web", "db"]})
    start, end = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-31")
    learned = {("web:cpu", "name:bf"): 3.0, ("db:cpu", "kind:sale"): 2.0}
    w = event_windows(_events(), series, start, end, {}, learned).set_index(["unique_id", "name"])
    assert w.loc[("web:cpu", "bf"), "multiplier"] == 3.0 and "past 'bf'" in w.loc[("web:cpu", "bf"), "source"]
    assert (
        w.loc[("db:cpu", "bf"), "multiplier"] == 2.0 and "'sale' events" in w.loc[("db:cpu", "bf"), "source"]
    )
    assert w.loc[("web:cpu", "promo"), "multiplier"] == 1.5  # stated on the event
    assert ("db:cpu", "promo") not in w.index  # promo is for web only
    assert "down" not in w.index.get_level_values("name")  # outages never raise demand
    w2 = event_windows(_events(), series, start, end, {"bf": 10.0}, learned)
    assert set(w2.loc[w2["name"] == "bf", "multiplier"]) == {10.0}


def test_storage_is_not_traffic_stated_uplifts_move_traffic_only():
    series = pd.DataFrame(
        {"unique_id": ["web:rps", "web:storage", "web:memory"], "service": "web",
         "metric": ["rps", "storage", "memory"], "kind": ["rate", "gauge", "gauge"]}
    )  # fmt: skip
    traffic = traffic_series(series, {"rps": "rps", "storage": "storage", "memory": "memory"})
    assert traffic == {"web:rps"}
    start, end = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-31")
    learned = {("web:storage", "name:bf"): 1.12}  # last year's Black Friday moved storage 12%
    w = event_windows(_events(), series, start, end, {"bf": 6.0}, learned, traffic)
    w = w.set_index(["unique_id", "name"])
    assert w.loc[("web:rps", "bf"), "multiplier"] == 6.0  # the scenario's x6 is a traffic multiplier
    assert w.loc[("web:storage", "bf"), "multiplier"] == 1.12  # storage: only its own learned uplift
    assert "not traffic" in w.loc[("web:storage", "bf"), "source"]
    assert ("web:memory", "bf") not in w.index  # nothing learned for memory: no uplift at all
    assert ("web:storage", "promo") not in w.index and w.loc[("web:rps", "promo"), "multiplier"] == 1.5
    # the assumptions state both rules for one event, one row each (their key stays unique)
    from capplan.planning.assumptions import _event_rows

    keys = [r["key"] for r in _event_rows(w.reset_index().assign(scenario="bf"))]
    assert len(keys) == len(set(keys)) and any("not traffic" in k for k in keys)


def test_apply_events_raises_demand_to_the_week_earlier_baseline_times_the_multiplier():
    ds = pd.date_range("2026-01-01", periods=14 * 24, freq="h")
    base = 10 + (ds.hour == 12) * 5.0  # a daily noon peak
    fc = pd.DataFrame({"unique_id": "web:cpu", "ds": ds, "p10": base - 1, "p50": base, "p90": base + 1})
    fc.loc[fc["ds"].dt.normalize() == "2026-01-10", QCOLS] += 100  # the model already forecast a bigger spike
    windows = pd.DataFrame(
        {
            "unique_id": ["web:cpu", "web:cpu"],
            "start": pd.to_datetime(["2026-01-09", "2026-01-10"]),
            "end": pd.to_datetime(["2026-01-10", "2026-01-11"]),
            "multiplier": [3.0, 2.0],
        }
    )
    out = apply_events(fc, windows, QCOLS).set_index("ds")
    assert out.loc["2026-01-09 12:00", "p50"] == 45.0  # 3 x the noon peak of 2026-01-02
    assert out.loc["2026-01-09 03:00", "p90"] == 33.0  # 3 x 11
    assert out.loc["2026-01-10 12:00", "p50"] == 115.0  # max(forecast 115, 2 x 15)
    assert out.loc["2026-01-11 12:00", "p50"] == 15.0  # outside every window: unchanged
    assert (out[QCOLS].diff(axis=1).iloc[:, 1:] >= 0).all().all()


def test_regions_sum_and_days_take_their_peak():
    ds = pd.date_range("2026-01-01", periods=48, freq="h")
    fc = pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": ds, "p10": 1.0, "p50": np.arange(48.0), "p90": 100.0})
            for u in ("web:cpu:eu", "web:cpu:us", "web:requests:eu")
        ]
    )
    series = pd.DataFrame(
        {
            "unique_id": ["web:cpu:eu", "web:cpu:us", "web:requests:eu"],
            "service": "web",
            "metric": ["cpu", "cpu", "requests"],
        }
    )
    rd = resource_demand(fc, series, {"cpu": "cpu", "requests": None}, QCOLS)
    assert set(rd["resource"]) == {"cpu"}  # requests maps to no resource
    assert rd.loc[rd["ds"] == ds[5], "p50"].item() == 10.0  # 5 + 5
    peaks = daily_peaks(rd, ["service", "resource"], QCOLS)
    assert peaks["p50"].tolist() == [46.0, 94.0]
