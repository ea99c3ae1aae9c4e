"""Scaled split-conformal intervals (evaluation/calibration.py), pinned on hand-built frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capplan.evaluation import TrainParams, forecast_group, train_group
from capplan.evaluation.backtest import apply_conformal, cross_calibrate
from capplan.evaluation.calibration import (
    IntervalProfile,
    finite_quantiles,
    interval_profile,
    scaled_conformal_quantiles,
    season_position,
)
from capplan.models import ModelSpec

T0 = pd.Timestamp("2026-01-01 00:00")


def _bt(residuals: dict[str, list[list[float]]], point: float = 10.0) -> pd.DataFrame:
    """A backtest of one model: per series, per fold, the residuals ``y - p50`` of steps 1, 2..."""
    rows = []
    for uid, folds in residuals.items():
        for f, res in enumerate(folds):
            cutoff = T0 + pd.Timedelta(hours=len(res) * f) - pd.Timedelta(hours=1)
            for k, r in enumerate(res):
                ds = cutoff + pd.Timedelta(hours=k + 1)
                rows.append({"unique_id": uid, "cutoff": cutoff, "ds": ds, "y": point + r, "p50": point})
    frame = pd.DataFrame(rows)
    for col in ("p10", "p90"):
        frame[col] = point
    return frame[["unique_id", "cutoff", "ds", "y", "p10", "p50", "p90"]]


def test_finite_quantiles_are_higher_quantiles_at_the_n_plus_1_level():
    values = np.array([5.0, 1, 4, 2, 3, 10, 30, 20])
    codes = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    # alpha 0.5, group 0: n = 5, level ceil(6 x 0.5) / 5 = 0.6, 'higher' index ceil(4 x 0.6) = 3: 4
    # group 1: n = 3, level ceil(4 x 0.5) / 3 = 2/3, index ceil(2 x 2/3) = 2: 30
    assert finite_quantiles(values, codes, 0.5).tolist() == [4.0, 30.0]
    assert np.quantile([5.0, 1, 4, 2, 3], 0.6, method="higher") == 4.0  # numpy's convention
    # alpha 0.2: level ceil(1.2) / 5 = 0.4, index ceil(1.6) = 2: 3; level ceil(0.8) / 3, index 1: 20
    assert finite_quantiles(values, codes, 0.2).tolist() == [3.0, 20.0]
    # alpha 0.8: level ceil(4.8) / 5 = 1 and ceil(3.2) / 3 > 1: the largest of each
    assert finite_quantiles(values, codes, 0.8).tolist() == [5.0, 30.0]


def test_season_position_counts_the_grid_from_the_epoch():
    ds = pd.Series(pd.to_datetime(["2026-01-01 05:00", "2026-01-01 23:00", "2026-01-02 00:00"]))
    assert season_position(ds, "h", 24).tolist() == [5, 23, 0]
    days = pd.Series(pd.to_datetime(["1970-01-01", "1970-01-08", "1970-01-10"]))
    assert season_position(days, "D", 7).tolist() == [0, 0, 2]
    assert season_position(days, "MS", 12).tolist() == [0, 0, 0]  # no fixed length: flat
    assert season_position(ds, "h", 1).tolist() == [0, 0, 0]


def test_interval_profile_is_the_shrunk_seasonal_difference_by_position():
    # season 2 on an hourly grid: even hours are position 0, odd hours position 1
    y = [0, 0, 1, 2, 2, 4, 3, 6]  # |y_t - y_{t-2}|: 1, 2, 1, 2, 1, 2 (position 0, 1, 0, 1, ...)
    history = pd.DataFrame({"unique_id": "a", "ds": pd.date_range(T0, periods=8, freq="h"), "y": y})
    prof = interval_profile(history, "h", 2, shrink=0.3)
    # position means 1 and 2, series mean 1.5: 0.7 x 1 + 0.3 x 1.5 = 1.15, 0.7 x 2 + 0.45 = 1.85,
    # divided by their mean 1.5
    assert prof["position"].tolist() == [0, 1]
    assert prof["scale"].to_numpy() == pytest.approx([1.15 / 1.5, 1.85 / 1.5])
    flat = history.assign(y=5.0)  # no seasonal difference at all: 1 everywhere
    assert interval_profile(flat, "h", 2)["scale"].tolist() == [1.0, 1.0]


def test_scaled_offsets_floor_each_series_quantile_with_the_pooled_one():
    # a: |r| 2, 2, 2, 2 (level 2, z all 1); b: |r| 1, 1 then 3, 3 (level 2, z 0.5, 0.5, 1.5, 1.5)
    # mean z per step is 1 at both steps: no growth
    bt = _bt({"a": [[2, -2], [-2, 2]], "b": [[1, -1], [3, -3]]})
    off = scaled_conformal_quantiles(bt, (0.1, 0.5, 0.9))
    # q = 0.9, alpha 0.8: own (ceil(5 x 0.8) = 4th of 4) a 1, b 1.5; pooled over the 8 z
    # (0.5, 0.5, 1, 1, 1, 1, 1.5, 1.5) at 0.8: 1.3. a: max(1, 1.3) x 2 = 2.6; b: 1.5 x 2 = 3.0
    assert off["unique_id"].tolist() == ["a", "a", "b", "b"]
    assert off["step"].tolist() == [1, 2, 1, 2]
    assert off["p90"].to_numpy() == pytest.approx([2.6, 2.6, 3.0, 3.0])
    assert off["p10"].to_numpy() == pytest.approx([-2.6, -2.6, -3.0, -3.0])
    assert (off["p50"] == 0).all()


def test_scaled_offsets_grow_with_the_step():
    # |r| 1 at step 1 and 3 at step 2 in both folds: level 2, mean z 0.5 and 1.5 per step, the
    # line through them normalised to mean 1 is the growth 0.5, 1.5; z / growth is 1 everywhere
    bt = _bt({"a": [[1, -3], [-1, 3]]})
    off = scaled_conformal_quantiles(bt, (0.1, 0.5, 0.9))
    assert off["p90"].to_numpy() == pytest.approx([1.0, 3.0])  # 1 x level 2 x growth 0.5, 1.5


def test_apply_multiplies_each_offset_by_the_rows_profile():
    bt = _bt({"a": [[2, -2], [-2, 2]], "b": [[1, -1], [3, -3]]})
    off = scaled_conformal_quantiles(bt, (0.1, 0.5, 0.9))
    profile = IntervalProfile(
        pd.DataFrame({"unique_id": ["a", "a"], "position": [0, 1], "scale": [0.5, 1.5]}), "h", 2
    )
    # a forecast from 23:00: step 1 at 00:00 (position 0), step 2 at 01:00 (position 1)
    fc = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "ds": pd.to_datetime(["2026-02-01 00:00", "2026-02-01 01:00"] * 2),
            "p10": 0.0,
            "p50": 10.0,
            "p90": 0.0,
        }
    )
    out = apply_conformal(fc, off, (0.1, 0.5, 0.9), profile=profile)
    # a: 10 + 2.6 x 0.5 and 10 + 2.6 x 1.5; b has no profile: 10 + 3.0
    assert out["p90"].to_numpy() == pytest.approx([11.3, 13.9, 13.0, 13.0])
    assert out["p10"].to_numpy() == pytest.approx([8.7, 6.1, 7.0, 7.0])


def test_cross_calibrate_scaled_uses_the_other_folds_only():
    # fold 0 of a has |r| 2; fold 1 has |r| 4: each fold gets the other's width
    bt = _bt({"a": [[2, -2], [4, -4]]})
    out = cross_calibrate(bt, (0.1, 0.5, 0.9), "scaled")
    assert out["p90"].tolist() == pytest.approx([10 + 4, 10 + 4, 10 + 2, 10 + 2])


def test_busy_hours_get_wider_intervals_and_every_hour_is_covered():
    """Series whose noise is 5 times larger from 08:00 to 20:00: the published intervals follow
    the hours and the 80% interval covers within 5 points of nominal over the day. The profile is
    shrunk 30% toward flat (noise of a few dozen seasonal differences per hour), so at a ratio this
    strong the busy hours under-cover and the quiet ones over-cover by up to 10 points."""
    rng = np.random.default_rng(3)
    hours, h = 24 * 40, 24
    ds = pd.date_range("2026-01-01", periods=hours, freq="h")
    busy = (ds.hour >= 8) & (ds.hour < 20)
    frames = []
    for k in range(30):
        noise = rng.normal(0, 1, hours) * np.where(busy, 5.0, 1.0)
        y = 100 + 20 * np.sin(2 * np.pi * np.arange(hours) / 24) + noise
        frames.append(pd.DataFrame({"unique_id": f"s{k:02d}", "ds": ds, "y": y}))
    full = pd.concat(frames, ignore_index=True)
    cut = ds[-h - 1]
    train, future = full[full["ds"] <= cut], full[full["ds"] > cut]
    spec = ModelSpec(freq="h", season_length=24, quantiles=(0.1, 0.5, 0.9))
    result = train_group(train, spec, TrainParams(models=("seasonal_profile",), horizon=h, folds=6))
    fc = forecast_group(result, h).merge(future, on=["unique_id", "ds"])
    day = (fc["ds"].dt.hour >= 8) & (fc["ds"].dt.hour < 20)
    width = fc["p90"] - fc["p10"]
    assert width[day].mean() > 2.5 * width[~day].mean()
    covered = (fc["y"] >= fc["p10"]) & (fc["y"] <= fc["p90"])
    assert abs(covered.mean() - 0.8) <= 0.05, covered.mean()
    for part in (day, ~day):
        assert abs(covered[part].mean() - 0.8) <= 0.10, covered[part].mean()
