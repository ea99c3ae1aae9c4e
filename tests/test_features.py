"""Features: planning frequency by metric kind, explicit gap filling, history status, covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capplan.core.config import horizon_steps
from capplan.core.errors import SeriesError
from capplan.features import event_features, fill_gaps, history_status, kpi_features, to_planning_frequency

SERIES = pd.DataFrame(
    {
        "unique_id": ["web:cpu", "web:requests", "db:cpu"],
        "service": ["web", "web", "db"],
        "metric": ["cpu", "requests", "cpu"],
        "kind": ["gauge", "counter", "gauge"],
        "frequency": ["5min", "5min", "h"],
    }
)


def _obs():
    five = pd.date_range("2025-01-01", periods=24, freq="5min")
    hour = pd.date_range("2025-01-01", periods=2, freq="h")
    return pd.concat(
        [
            pd.DataFrame({"unique_id": "web:cpu", "ds": five, "y": np.arange(24.0)}),
            pd.DataFrame({"unique_id": "web:requests", "ds": five, "y": np.ones(24)}),
            pd.DataFrame({"unique_id": "db:cpu", "ds": hour, "y": [5.0, 6.0]}),
        ],
        ignore_index=True,
    )


def test_resampling_follows_the_metric_kind():
    out, freq = to_planning_frequency(_obs(), SERIES, "h", peak="max")
    got = out.set_index(["unique_id", "ds"])["y"]
    assert got[("web:cpu", pd.Timestamp("2025-01-01 00:00"))] == 11.0  # gauge: peak of 0..11
    assert got[("web:cpu", pd.Timestamp("2025-01-01 01:00"))] == 23.0
    assert got[("web:requests", pd.Timestamp("2025-01-01 00:00"))] == 12.0  # counter: sum of 12 ones
    assert got[("db:cpu", pd.Timestamp("2025-01-01 01:00"))] == 6.0  # already hourly: unchanged
    assert freq == {"web:cpu": "h", "web:requests": "h", "db:cpu": "h"}
    mean, _ = to_planning_frequency(_obs(), SERIES, "h", peak="mean")
    assert mean.set_index(["unique_id", "ds"])["y"][("web:cpu", pd.Timestamp("2025-01-01"))] == 5.5


def test_without_planning_frequency_each_series_keeps_its_own():
    out, freq = to_planning_frequency(_obs(), SERIES, None)
    assert freq == {"web:cpu": "5min", "web:requests": "5min", "db:cpu": "h"}
    assert len(out) == len(_obs())


def test_gap_policies_are_explicit():
    ds = pd.date_range("2025-01-01", periods=6, freq="h").delete([2, 3])
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [0.0, 1.0, 4.0, 5.0]})
    assert fill_gaps(df, "h", "interpolate")["y"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert fill_gaps(df, "h", "zero")["y"].tolist() == [0.0, 1.0, 0.0, 0.0, 4.0, 5.0]
    with pytest.raises(SeriesError, match=r"a \(2 missing\)"):
        fill_gaps(df, "h", "error")


def test_history_status_names_stopped_and_short_series():
    ds = pd.date_range("2025-01-01", periods=100, freq="h")
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": "live", "ds": ds, "y": 1.0}),
            pd.DataFrame({"unique_id": "gone", "ds": ds[:40], "y": 1.0}),
            pd.DataFrame({"unique_id": "new", "ds": ds[-5:], "y": 1.0}),
        ]
    )
    st = history_status(df, {"live": "h", "gone": "h", "new": "h"}, min_points=10, stale_after=48).set_index(
        "unique_id"
    )
    assert st.loc["live", "status"] == "ok"
    assert st.loc["gone", "status"] == "stopped" and "stopped reporting" in st.loc["gone", "note"]
    assert st.loc["new", "status"] == "short"


def test_events_cover_the_horizon_and_kpis_are_forward_filled():
    ds = pd.date_range("2025-01-01", periods=48, freq="h")
    df = pd.DataFrame({"unique_id": "web:cpu", "ds": ds, "y": 1.0})
    series = pd.DataFrame({"unique_id": ["web:cpu"], "service": ["web"]})
    events = pd.DataFrame(
        {
            "name": ["sale"],
            "kind": ["sale"],
            "start": [pd.Timestamp("2025-01-03 02:00")],
            "end": [pd.Timestamp("2025-01-03 04:00")],
            "services": [["web"]],
            "expected_uplift": [None],
        }
    )
    fut = event_features(df, series, events, {"web:cpu": "h"}, horizon=24)
    assert fut["ds"].max() == pd.Timestamp("2025-01-03 23:00")
    assert fut.loc[fut["event_sale"] == 1, "ds"].tolist() == [
        pd.Timestamp("2025-01-03 02:00"),
        pd.Timestamp("2025-01-03 03:00"),
    ]
    kpis = pd.DataFrame(
        {
            "kpi": "users",
            "ds": [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02")],
            "value": [10.0, 20.0],
        }
    )
    past = kpi_features(df, kpis, {"web:cpu": "h"})
    assert past["ds"].max() == ds[-1]  # past covariates stop at the history's end
    assert past.loc[past["ds"] == pd.Timestamp("2025-01-01 23:00"), "kpi_users"].item() == 10.0
    assert past.loc[past["ds"] == pd.Timestamp("2025-01-02 05:00"), "kpi_users"].item() == 20.0


def test_horizons_in_steps_or_durations():
    assert horizon_steps("14D", "h") == 336
    assert horizon_steps(48, "5min") == 48
    assert horizon_steps("2h", "5min") == 24
    with pytest.raises(ValueError):
        horizon_steps("10min", "h")
