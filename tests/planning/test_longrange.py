"""The long-range plan's kernels on hand-built frames: exact numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from capplan.core.config import config_from_dict
from capplan.core.errors import CapplanError
from capplan.planning.longrange import (
    MODEL_LOG,
    MODEL_STORAGE,
    QUARTER_DAYS,
    WIDEN_DAYS,
    baseline,
    driver_uplift,
    event_multipliers,
    fit_all,
    fit_trend,
    growth_factor,
    project,
    score_long_range,
    to_resolution,
)
from capplan.planning.procurement import extend_runway, lead_times, purchase_plan

START = pd.Timestamp("2025-01-06")  # a Monday
WEEKDAY = np.array([1.0, 1.1, 1.2, 1.15, 1.05, 0.8, 0.7])  # Monday .. Sunday


def _exp_series(days: int, rate: float = 0.002, level: float = 100.0):
    ds = pd.date_range(START, periods=days, freq="D")
    t = np.arange(days, dtype=float)
    return ds, level * np.exp(rate * t) * WEEKDAY[ds.dayofweek]


def test_trend_recovered_on_an_exponential_series_with_a_weekly_shape():
    ds, y = _exp_series(120)
    fit = fit_trend(ds, y)
    assert fit.slope == pytest.approx(0.002, abs=1e-12)
    assert fit.sigma == pytest.approx(0.0, abs=1e-9)
    assert fit.model == MODEL_LOG and not fit.yearly
    future = pd.date_range(ds[-1] + pd.Timedelta(days=1), periods=200, freq="D")
    p = project(fit, future, ["p10", "p50", "p90"])
    t = (future - START).days.to_numpy(float)
    expected = 100.0 * np.exp(0.002 * t) * WEEKDAY[future.dayofweek]
    np.testing.assert_allclose(p["p50"], expected, rtol=1e-9)
    np.testing.assert_allclose(p["p10"], expected, rtol=1e-6)  # no residual spread: no interval


def test_yearly_shape_is_fitted_only_with_a_year_of_history():
    ds, y = _exp_series(400)
    yearly = fit_trend(ds, y * np.exp(0.2 * np.sin(2 * np.pi * np.arange(400) / 365.25)))
    assert yearly.yearly and yearly.model == f"{MODEL_LOG} + yearly"
    assert yearly.slope == pytest.approx(0.002, abs=1e-9)
    assert not fit_trend(*_exp_series(300)).yearly


def test_too_short_a_history_is_refused_and_past_events_are_left_out():
    ds, y = _exp_series(27)
    with pytest.raises(CapplanError, match="28 days"):
        fit_trend(ds, y)
    ds, y = _exp_series(90)
    spiked = y.copy()
    spiked[40:44] *= 6  # a past sale: left out of the fit, the trend is unchanged
    fit = fit_trend(ds, spiked, exclude=np.isin(np.arange(90), range(40, 44)))
    assert fit.slope == pytest.approx(0.002, abs=1e-12)


def test_storage_is_a_cumulative_growth_curve_without_weekday_or_events():
    ds = pd.date_range(START, periods=60, freq="D")
    y = 50.0 + 2.0 * np.arange(60)
    fit = fit_trend(ds, y, cumulative=True)
    assert fit.model == MODEL_STORAGE and len(fit.coef) == 2  # level and growth only
    assert fit.slope == pytest.approx(2.0, abs=1e-9)
    future = pd.date_range(ds[-1] + pd.Timedelta(days=1), periods=30, freq="D")
    np.testing.assert_allclose(
        project(fit, future, ["p50"])["p50"], 50.0 + 2.0 * np.arange(60, 90), rtol=1e-9
    )
    windows = pd.DataFrame(
        [{"unique_id": "web:storage", "start": future[0], "end": future[5], "multiplier": 6.0},
         {"unique_id": "web:rps", "start": future[0], "end": future[5], "multiplier": 6.0}]
    )  # fmt: skip
    series = pd.DataFrame(
        {"unique_id": ["web:storage", "web:rps"], "service": "web", "metric": ["storage", "rps"]}
    )
    base = pd.DataFrame(
        {"service": "web", "resource": ["storage"] * 3 + ["rps"] * 3, "ds": list(future[[0, 4, 5]]) * 2}
    )
    mult = event_multipliers(windows, series, {"storage": "storage", "rps": "rps"}, base)
    assert mult.tolist() == [1.0, 1.0, 1.0, 6.0, 6.0, 1.0]  # storage never moves; rps inside [start, end)


def test_intervals_widen_with_the_horizon():
    ds, y = _exp_series(200)
    rng = np.random.default_rng(3)
    fit = fit_trend(ds, y * np.exp(rng.normal(0, 0.05, 200)))
    assert fit.sigma > 0
    days = pd.DatetimeIndex([ds[-1] + pd.Timedelta(days=h) for h in (1, 30, 300)])
    p = project(fit, days, ["p10", "p50", "p90"])
    width = np.log(p["p90"] / p["p50"]).to_numpy()
    z = 1.2815515655446004
    np.testing.assert_allclose(
        width, z * fit.sigma * np.sqrt(1 + np.array([1, 30, 300]) / WIDEN_DAYS), rtol=1e-9
    )
    assert width[0] < width[1] < width[2]


def test_growth_path_compounds_per_quarter_and_the_last_value_repeats():
    g = growth_factor([0.1, 0.2], np.array([0, 1, 2, 3, 0.5]) * QUARTER_DAYS)
    np.testing.assert_allclose(g, [1.0, 1.1, 1.32, 1.584, math.sqrt(1.1)], rtol=1e-12)


def test_kpi_growth_path_moves_demand_through_the_driver_model():
    days = pd.date_range(START, periods=40, freq="D")
    users = 1000.0 + 10 * np.arange(40)
    pk = pd.DataFrame({"service": "api", "resource": "cpu", "ds": days, "y": 0.002 * users})
    kpis = pd.DataFrame({"kpi": "active_users", "ds": days, "value": users})
    as_of = days[-1]
    base = pd.DataFrame(
        {"service": "api", "resource": "cpu", "ds": [as_of + pd.Timedelta(days=QUARTER_DAYS * 2)]}
    )
    up = driver_uplift(pk, kpis, {"active_users": [0.1, 0.2]}, base, as_of)
    level = users[-7:].mean()
    assert up[0] == pytest.approx(0.002 * level * (1.32 - 1.0), rel=1e-9)


def test_weekly_resolution_keeps_each_weeks_peak():
    days = pd.date_range(START, periods=14, freq="D")
    f = pd.DataFrame({"service": "a", "ds": days, "demand": np.arange(14.0)})
    w = to_resolution(f, "weekly", ["demand"])
    assert w["ds"].tolist() == [START, START + pd.Timedelta(days=7)] and w["demand"].tolist() == [6.0, 13.0]
    assert to_resolution(f, "daily", ["demand"]) is f


def test_backtest_score_of_an_exact_series():
    ds, y = _exp_series(200)
    pk = pd.DataFrame({"service": "api", "resource": "cpu", "ds": ds, "y": y})
    score = score_long_range(pk, pd.DataFrame(), ["p10", "p50", "p90"], days=90)
    row = score.iloc[0]
    assert (row["holdout_days"], row["n"]) == (90, 90)
    assert row["mase"] == pytest.approx(0.0, abs=1e-8) and row["nominal_coverage"] == pytest.approx(0.8)
    noisy = pk.assign(y=y * np.exp(np.random.default_rng(5).normal(0, 0.05, len(y))))
    row = score_long_range(noisy, pd.DataFrame(), ["p10", "p50", "p90"], days=90).iloc[0]
    assert 0 < row["mase"] < 1 and 0.7 <= row["coverage"] <= 1.0  # better than the weekly naive; honest bands
    assert baseline(fit_all(pk, pd.DataFrame()), ds[:2], ["p50"])["model"].tolist() == [MODEL_LOG] * 2


def _cfg(**planning):
    return config_from_dict({"planning": {"lead_time_days": {"cpu": 2.0}, **planning}})


def test_lead_time_from_the_inventory_else_the_config_else_zero():
    inv = pd.DataFrame({"service": ["a", "b", "c"], "resource": ["cpu", "cpu", "memory"],
                        "lead_time_days": [45.0, np.nan, np.nan]})  # fmt: skip
    assert lead_times(inv, _cfg())["lead_time_days"].tolist() == [45.0, 2.0, 0.0]
    assert lead_times(inv.drop(columns="lead_time_days"), _cfg())["lead_time_days"].tolist() == [
        2.0,
        2.0,
        0.0,
    ]


def test_order_by_date_is_the_long_range_crossing_minus_the_lead_time():
    as_of = pd.Timestamp("2026-11-01")
    runway = pd.DataFrame({"service": ["a"], "resource": ["cpu"], "scenario": ["expected"],
                           "status": ["not_within_horizon"], "days_left": [np.inf]})  # fmt: skip
    lr = pd.DataFrame({"service": ["a"], "resource": ["cpu"], "scenario": ["expected"], "status": ["within_horizon"],
                       "crossing": [as_of + pd.Timedelta(days=91.3125)], "crossing_earliest": [as_of + pd.Timedelta(days=60.875)],
                       "days_left": [91.3125], "days_left_min": [60.875]})  # fmt: skip
    leads = pd.DataFrame({"service": ["a"], "resource": ["cpu"], "lead_time_days": [45.0]})
    out = extend_runway(runway, lr, leads).iloc[0]
    assert out["order_by_date"] == as_of + pd.Timedelta(days=91.3125 - 45)
    assert out["months_left"] == pytest.approx(3.0) and out["months_left_min"] == pytest.approx(2.0)
    assert out["long_range_status"] == "within_horizon" and out["status"] == "not_within_horizon"


def test_purchase_plan_has_a_row_per_month_and_adds_what_each_month_needs():
    days = pd.date_range("2026-11-20", "2027-02-10", freq="D")
    need = np.where(days < "2026-12-15", 3, np.where(days < "2027-01-20", 5, 4))  # a dip is not a sale
    sized = pd.DataFrame({"service": "db", "resource": "cpu", "scenario": "expected", "ds": days,
                          "instances": 3.0, "instances_uncapped": need, "max_instances": 10.0,
                          "cost_per_instance_hour": 2.0})  # fmt: skip
    leads = pd.DataFrame({"service": ["db"], "resource": ["cpu"], "lead_time_days": [45.0]})
    p = purchase_plan(sized, leads, as_of=days[0], scenarios=["expected"])
    assert p["period"].dt.strftime("%Y-%m").tolist() == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert p["instances_needed"].tolist() == [3.0, 5.0, 5.0, 5.0]
    assert p["instances_to_add"].tolist() == [0.0, 2.0, 0.0, 0.0]
    assert p["monthly_cost_change"].tolist() == [0.0, 2 * 2.0 * 730, 2 * 2.0 * 730, 2 * 2.0 * 730]
    assert p["order_by_date"].iloc[1] == pd.Timestamp("2026-12-15") - pd.Timedelta(days=45)
    assert p["order_by_date"].iloc[[0, 2, 3]].isna().all()
