"""Behavioural contract of every adapter on one small panel (fitted once per model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_synthetic import RISE_SLOPE, SPEC, H

from capplan.core.contracts import quantile_cols
from capplan.models import EnsembleForecaster, Forecaster, ModelSpec, build_model
from capplan.models.gbm import LightGBM
from capplan.models.naive import SeasonalNaive
from capplan.models.statistical import ETS

QCOLS = quantile_cols(SPEC.quantiles)
NAMES = ["seasonal_naive", "seasonal_profile", "ets", "theta", "lightgbm", "nhits", "ensemble"]


def small(name: str):
    """Registry models, with LightGBM and the ensemble made small enough for a unit test."""
    if name == "lightgbm":
        return LightGBM(SPEC, n_estimators=40)
    if name == "ensemble":
        return EnsembleForecaster(
            [build_model(n, SPEC) for n in ("seasonal_naive", "seasonal_profile", "theta")]
        )
    return build_model(name, SPEC)


@pytest.fixture(scope="module")
def forecasts(panel) -> dict:
    out = {}
    for name in NAMES:
        model = small(name).fit(panel)
        out[name] = (model, model.predict(H))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_shape_grid_and_start(forecasts, panel, name):
    _, fc = forecasts[name]
    assert list(fc.columns) == ["unique_id", "ds", *QCOLS]
    last = panel.groupby("unique_id")["ds"].max()
    assert sorted(fc["unique_id"].unique()) == sorted(last.index)
    for uid, g in fc.groupby("unique_id"):
        expected = pd.date_range(last[uid] + pd.Timedelta(hours=1), periods=H, freq="h")
        assert g["ds"].tolist() == expected.tolist(), uid


@pytest.mark.parametrize("name", NAMES)
def test_quantiles_ordered_finite(forecasts, name):
    _, fc = forecasts[name]
    values = fc[QCOLS].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= 0).all()
    assert (values[:, -1] > values[:, 0]).any()  # a real band somewhere, not all degenerate


@pytest.mark.parametrize("name", NAMES)
def test_constant_and_zero_series(forecasts, name):
    model, fc = forecasts[name]
    flat = fc.loc[fc.unique_id == "flat:cpu", QCOLS].to_numpy()
    zero = fc.loc[fc.unique_id == "zero:cpu", QCOLS].to_numpy()
    np.testing.assert_allclose(flat, 7.0)
    assert (zero == 0.0).all()
    assert "flat:cpu" in model.notes


@pytest.mark.parametrize("name", NAMES)
def test_short_series_gets_a_forecast(forecasts, name):
    model, fc = forecasts[name]
    short = fc.loc[fc.unique_id == "short:cpu", QCOLS].to_numpy()
    assert short.shape == (H, len(QCOLS))
    assert 5 < short[:, QCOLS.index("p50")].mean() < 15  # history is 10 +- 1
    assert "short:cpu" in model.notes


@pytest.mark.parametrize("name", ["seasonal_profile", "ets", "lightgbm", "theta"])
def test_rising_trend_forecast_goes_up(forecasts, panel, name):
    _, fc = forecasts[name]
    hist = panel.loc[panel.unique_id == "rise:cpu", "y"].to_numpy()
    p50 = fc.loc[fc.unique_id == "rise:cpu", "p50"].to_numpy()
    # same hours of the same weekday one week earlier, plus half the rise over a week
    same_hours_last_week = hist[-168:-144].mean()
    assert p50[:24].mean() > same_hours_last_week + 0.5 * RISE_SLOPE * 168


@pytest.mark.parametrize("name", NAMES)
def test_tracks_level_of_big_series(forecasts, panel, name):
    _, fc = forecasts[name]
    last_week = panel.loc[panel.unique_id == "b:rps", "y"].tail(168).mean()
    p50 = fc.loc[fc.unique_id == "b:rps", "p50"].mean()
    assert abs(p50 / last_week - 1) < (0.2 if name == "nhits" else 0.1)  # nhits: 1 epoch only


def test_ets_falls_back_per_series_on_failure(panel, monkeypatch):
    real = ETS._fit_one

    def flaky(self, hist):
        if hist.uid == "a:cpu":
            raise ValueError("optimizer blew up")
        return real(self, hist)

    monkeypatch.setattr(ETS, "_fit_one", flaky)
    df = panel[panel.unique_id.isin(["a:cpu", "short:cpu"])]
    out = ETS(SPEC, num_samples=50).fit(df).predict(H)
    naive = SeasonalNaive(SPEC).fit(df).predict(H)
    a = out.unique_id == "a:cpu"
    np.testing.assert_allclose(out.loc[a, QCOLS], naive.loc[naive.unique_id == "a:cpu", QCOLS])
    assert not np.allclose(out.loc[~a, "p50"], naive.loc[naive.unique_id != "a:cpu", "p50"])


def test_ets_nan_forecast_falls_back(panel, monkeypatch):
    monkeypatch.setattr(ETS, "_predict_one", lambda self, model, hist, h: np.full((h, 6), np.nan))
    df = panel[panel.unique_id == "a:cpu"]
    model = ETS(SPEC, num_samples=20).fit(df)
    out = model.predict(H)
    assert np.isfinite(out[QCOLS].to_numpy()).all()
    assert "NaN" in model.notes["a:cpu"]


def test_ets_is_reproducible(panel):
    df = panel[panel.unique_id == "a:cpu"]
    a = ETS(SPEC, num_samples=100).fit(df).predict(H)
    b = ETS(SPEC, num_samples=100).fit(df).predict(H)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("name", ["seasonal_naive", "seasonal_profile", "ets", "theta", "lightgbm"])
def test_daily_series_with_microsecond_timestamps(name):
    spec = ModelSpec(freq="D", season_length=7, quantiles=(0.1, 0.5, 0.9))
    rng = np.random.default_rng(2)
    n = 120
    ds = pd.date_range("2023-01-01", periods=n, freq="D").astype("datetime64[us]")
    frames = [
        pd.DataFrame(
            {"unique_id": uid, "ds": ds, "y": lvl + 3 * (ds.day_of_week >= 5) + rng.normal(0, 0.3, n)}
        )
        for uid, lvl in (("d1:cpu", 10.0), ("d2:cpu", 30.0))
    ]
    model = LightGBM(spec, n_estimators=30) if name == "lightgbm" else build_model(name, spec)
    out = model.fit(pd.concat(frames, ignore_index=True)).predict(10)
    assert out["ds"].dtype == ds.dtype
    assert out.groupby("unique_id")["ds"].min().tolist() == [ds[-1] + pd.Timedelta(days=1)] * 2
    weekend = out["ds"].dt.day_of_week >= 5
    d2 = out["unique_id"] == "d2:cpu"
    assert out.loc[d2 & weekend, "p50"].mean() > out.loc[d2 & ~weekend, "p50"].mean() + 1.5


def test_every_registry_model_is_a_forecaster():
    assert all(isinstance(build_model(n, SPEC), Forecaster) for n in NAMES)
