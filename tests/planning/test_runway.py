import math

import numpy as np
import pandas as pd
import pytest

from capplan.core.errors import CapplanError
from capplan.planning.runway import runway, runway_frame

DS = pd.date_range("2026-01-01", periods=30, freq="D")
DAY = np.arange(30, dtype=float)


def test_linear_growth_gives_exact_interpolated_date():
    # demand = 10 + day index; capacity 25.5 is crossed half-way between day 15 and day 16
    res = runway(DS, 10 + DAY, 25.5)
    assert res.status == "within_horizon"
    assert res.crossing == pd.Timestamp("2026-01-16 12:00")


def test_hourly_grid_interpolates_in_time():
    ds = pd.date_range("2026-01-01", periods=10, freq="h")
    res = runway(ds, np.arange(10.0) * 4, 10.0)  # 0, 4, 8, 12: gap -2 at 02:00, +2 at 03:00
    assert res.crossing == pd.Timestamp("2026-01-01 02:30")


def test_statuses():
    assert runway(DS, 10 + DAY, 5.0).status == "already_short"
    assert runway(DS, 10 + DAY, 5.0).crossing == DS[0]
    far = runway(DS, 10 + DAY, 100.0)
    assert far.status == "not_within_horizon" and pd.isna(far.crossing)
    # touching capacity is not short: demand must exceed it
    assert runway(DS, np.full(30, 7.0), 7.0).status == "not_within_horizon"


def test_capacity_may_change_over_time():
    cap = np.where(DAY < 10, 100.0, 20.0)  # a planned decommission on day 10
    res = runway(DS, 10 + DAY, cap)
    # gap: day 9 -81, day 10 0 (not short), day 11 +1 -> the gap reaches 0 exactly at day 10
    assert res.crossing == DS[10]
    assert res.status == "within_horizon"


def test_bad_input():
    with pytest.raises(CapplanError, match="increasing"):
        runway(DS[::-1], DAY, 1.0)
    with pytest.raises(CapplanError, match="finite"):
        runway(DS, np.full(30, np.nan), 1.0)


def _group(service, capacity):
    return pd.DataFrame(
        {
            "service": service,
            "resource": "cpu",
            "scenario": "expected",
            "ds": DS,
            "p10": 10 + 0.8 * DAY,
            "p50": 10 + DAY,
            "p90": 10 + 1.25 * DAY,
            "usable_capacity": capacity,
        }
    )


def test_runway_frame_range_from_quantiles():
    frame = pd.concat([_group("api", 30.0), _group("db", 5.0), _group("web", 1000.0)], ignore_index=True)
    out = runway_frame(frame.sample(frac=1, random_state=0), as_of=pd.Timestamp("2025-12-31"))
    api, db, web = (out[out["service"] == s].iloc[0] for s in ("api", "db", "web"))
    # p50 reaches 30 on day 20 (Jan 21), p90 on day 16 (Jan 17), p10 on day 25 (Jan 26)
    assert api["status"] == "within_horizon"
    assert api["crossing"] == pd.Timestamp("2026-01-21")
    assert api["crossing_earliest"] == pd.Timestamp("2026-01-17")
    assert api["crossing_latest"] == pd.Timestamp("2026-01-26")
    assert (api["days_left"], api["days_left_min"], api["days_left_max"]) == (21.0, 17.0, 26.0)
    assert api["horizon_days"] == 30.0
    assert db["status"] == "already_short" and db["days_left"] == 1.0  # first forecast day
    assert web["status"] == "not_within_horizon" and math.isinf(web["days_left"])


def test_runway_frame_reads_as_of_column():
    frame = _group("api", 30.0).assign(as_of=pd.Timestamp("2026-01-01"))
    out = runway_frame(frame)
    assert out.loc[0, "days_left"] == 20.0
    with pytest.raises(CapplanError, match="as_of"):
        runway_frame(frame.drop(columns="as_of"))
