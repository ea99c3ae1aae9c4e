"""Published intervals are calibrated on the model's own backtest residuals: on a stationary
series they cover within 5 points of nominal, for models with and without native intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capplan.evaluation import TrainParams, forecast_group, train_group
from capplan.evaluation.backtest import apply_conformal, calibration_offsets, cross_calibrate
from capplan.evaluation.metrics import interval_nominals
from capplan.models import ModelSpec

QUANTILES = (0.1, 0.5, 0.9, 0.95)
SPEC = ModelSpec(freq="h", season_length=24, quantiles=QUANTILES)


def _stationary(n_series: int, hours: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    ds = pd.date_range("2026-01-01", periods=hours, freq="h")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{k:02d}",
                    "ds": ds,
                    "y": 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, hours),
                }
            )
            for k in range(n_series)
        ],
        ignore_index=True,
    )


def _cover(frame: pd.DataFrame) -> dict[str, float]:
    return {
        "coverage_p10_p90": float(((frame["y"] >= frame["p10"]) & (frame["y"] <= frame["p90"])).mean()),
        "coverage_p95": float((frame["y"] <= frame["p95"]).mean()),
    }


def test_interval_nominals_name_every_configured_interval():
    assert interval_nominals(QUANTILES) == {"coverage_p10_p90": 0.8, "coverage_p95": 0.95}


@pytest.mark.parametrize("model", ["seasonal_naive", "seasonal_profile"])
def test_published_intervals_cover_within_5_points_on_a_stationary_series(model):
    h = 24
    full = _stationary(40, 24 * 22)
    last = full["ds"].max()
    train = full[full["ds"] <= last - pd.Timedelta(hours=h)]
    future = full[full["ds"] > last - pd.Timedelta(hours=h)]
    params = TrainParams(models=(model,), horizon=h, folds=6, min_history=2)
    result = train_group(train, SPEC, params)
    fc = forecast_group(result, h).merge(future, on=["unique_id", "ds"])
    assert len(fc) == 40 * h
    for col, got in _cover(fc).items():
        assert abs(got - interval_nominals(QUANTILES)[col]) <= 0.05, (model, col, got)
    # the backtest metrics are of the out-of-sample calibrated folds, near nominal too
    m = result.metrics[result.metrics["model"] == model][["coverage_p10_p90", "coverage_p95"]].mean()
    assert abs(m["coverage_p10_p90"] - 0.8) <= 0.05 and abs(m["coverage_p95"] - 0.95) <= 0.05


def _native_backtest(width: float, folds: int = 6, seed: int = 2) -> pd.DataFrame:
    """A model with native intervals that are too narrow (``width`` x the true spread)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(30):
        for f in range(folds):
            cutoff = pd.Timestamp("2026-02-01") + pd.Timedelta(hours=24 * f)
            ds = pd.date_range(cutoff + pd.Timedelta(hours=1), periods=24, freq="h")
            y = 100 + rng.normal(0, 5, 24)
            z = {0.1: -1.2816, 0.5: 0.0, 0.9: 1.2816, 0.95: 1.6449}
            rows.append(
                pd.DataFrame(
                    {
                        "unique_id": f"n{k}",
                        "model": "ets",
                        "cutoff": cutoff,
                        "ds": ds,
                        "y": y,
                        **{f"p{int(q * 100)}": 100 + width * 5 * zq for q, zq in z.items()},
                    }
                )  # fmt: skip
            )
    return pd.concat(rows, ignore_index=True)


def test_native_intervals_are_recalibrated_on_their_own_residuals():
    narrow = _native_backtest(width=0.4)
    assert _cover(narrow)["coverage_p10_p90"] < 0.4  # the model's own bands are far too narrow
    calibrated = cross_calibrate(narrow, QUANTILES, "quantile", pool=24)
    for col, got in _cover(calibrated).items():
        assert abs(got - interval_nominals(QUANTILES)[col]) <= 0.05, (col, got)
    assert (calibrated["p50"] == narrow.sort_values(["unique_id", "cutoff", "ds"])["p50"].to_numpy()).all()
    # a forecast gets the offsets of every fold, applied to its own quantiles
    offsets = calibration_offsets(narrow, QUANTILES, "quantile", pool=24)
    fresh = _native_backtest(width=0.4, folds=1, seed=9).drop(columns=["cutoff", "model"])
    out = apply_conformal(fresh.drop(columns="y"), offsets.drop(columns="model"), QUANTILES, relative="own")
    assert abs(_cover(out.assign(y=fresh["y"].to_numpy()))["coverage_p10_p90"] - 0.8) <= 0.08
