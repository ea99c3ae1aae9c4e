"""Hand-computed checks of the numpy kernels, frame helpers, ensemble and registry (no Darts)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from models_synthetic import hourly

from capplan.core.errors import ModelError
from capplan.models import EnsembleForecaster, ModelSpec, available_models, build_ensemble, build_model
from capplan.models._common import History, forecast_frame, seasonal_trend, split_history
from capplan.models.naive import SeasonalNaive, seasonal_naive_kernel
from capplan.models.profile import profile_kernel

QS = (0.1, 0.5, 0.9)


# ---- seasonal naive -------------------------------------------------------------------------
def test_seasonal_naive_kernel_hand_computed():
    y = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 3.0])  # residuals y[3:] - y[:3] = [1, 2, 3]
    values, note = seasonal_naive_kernel(y, h=4, m=3, qs=QS)
    # np.quantile([1,2,3], [.1,.5,.9]) = [1.2, 2, 2.8] -> centred offsets [-0.8, 0, 0.8]
    # scale sqrt(ceil(k/3)) = [1, 1, 1, sqrt(2)]; point = [1, 2, 3, 1]
    r2 = np.sqrt(2.0)
    expected = np.array([[0.2, 1, 1.8], [1.2, 2, 2.8], [2.2, 3, 3.8], [1 - 0.8 * r2, 1, 1 + 0.8 * r2]])
    np.testing.assert_allclose(values, expected)
    assert note is None  # exactly two seasons of history


def test_seasonal_naive_kernel_shorter_than_a_season_uses_last_value():
    values, note = seasonal_naive_kernel(np.array([1.0, 3.0]), h=3, m=24, qs=QS)
    # period 1: point 3; residual [2] -> zero-width band
    np.testing.assert_allclose(values, np.full((3, 3), 3.0))
    assert "shorter than one season" in note


def test_seasonal_naive_adapter_repeats_last_season_exactly():
    y = np.tile(np.arange(24.0), 3)
    df = hourly("s:cpu", "2024-01-01", y)
    out = SeasonalNaive(ModelSpec(freq="h", season_length=24, quantiles=QS)).fit(df).predict(30)
    np.testing.assert_allclose(out["p50"], np.r_[np.arange(24.0), np.arange(6.0)])
    np.testing.assert_allclose(out["p10"], out["p90"])  # residuals all zero


# ---- seasonal profile -----------------------------------------------------------------------
def test_profile_kernel_recovers_trend_plus_weekly_profile():
    rng = np.random.default_rng(1)
    profile = rng.normal(0, 5, 168)
    profile -= profile.mean()
    n = 168 * 3
    t = np.arange(n + 50)
    truth = 2.0 + 0.5 * t + profile[t % 168]
    values, note = profile_kernel(truth[:n], 50, periods=(24, 168), qs=QS)
    assert note is None
    np.testing.assert_allclose(values[:, 1], truth[n:], atol=1e-9)
    np.testing.assert_allclose(values[:, 0], values[:, 2], atol=1e-9)  # perfect fit: no spread


def test_profile_kernel_falls_back_to_seasonal_naive_when_short():
    y = np.arange(30.0)
    values, note = profile_kernel(y, 5, periods=(24, 168), qs=QS)
    np.testing.assert_allclose(values, seasonal_naive_kernel(y, 5, 24, QS)[0])
    assert "seasonal naive" in note


def test_seasonal_trend_ignores_a_whole_period_pattern():
    t = np.arange(24 * 5)
    y = 3.0 + 0.25 * t + 10 * np.sin(2 * np.pi * t / 24)
    slope, intercept = seasonal_trend(y, (24,))
    assert slope == pytest.approx(0.25)
    assert intercept == pytest.approx(3.0)


# ---- frame helpers --------------------------------------------------------------------------
def test_split_history_names_a_series_with_a_gap():
    df = pd.concat([hourly("ok:cpu", "2024-01-01", np.ones(5)), hourly("gap:cpu", "2024-01-01", np.ones(5))])
    df = df.drop(index=df.index[-2])
    with pytest.raises(ModelError, match="gap:cpu"):
        split_history(df.reset_index(drop=True), "h")


def test_split_history_sorts_rows_and_names_the_first_bad_series_in_id_order():
    rng = np.random.default_rng(0)
    parts = [hourly(f"s{i}:cpu", "2024-01-01", rng.normal(size=30) + i) for i in (2, 10, 1)]
    df = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=3)  # rows shuffled
    hists = split_history(df, "h")
    assert [x.uid for x in hists] == sorted(["s2:cpu", "s10:cpu", "s1:cpu"])  # "s10" < "s1:"
    for x, part in zip(hists, [parts[1], parts[2], parts[0]], strict=True):
        np.testing.assert_array_equal(x.y, part["y"].to_numpy())
        assert x.ds.equals(pd.DatetimeIndex(part["ds"]))
    bad = df.copy()
    bad.loc[bad.unique_id == "s2:cpu", "y"] = np.nan  # a NaN in s2, a gap in s10: s10 comes first
    bad = bad.drop(index=bad.index[bad.unique_id == "s10:cpu"][5])
    with pytest.raises(ModelError, match=r"series 's10:cpu': ds is not on the 'h' grid"):
        split_history(bad, "h")
    with pytest.raises(ModelError, match=r"series 's2:cpu': y has NaN"):
        split_history(bad[bad.unique_id != "s10:cpu"], "h")


def test_forecast_frame_keeps_the_unit_of_ds_on_a_daily_grid():
    spec = ModelSpec(freq="D", season_length=7, quantiles=QS)
    ds = pd.date_range("2024-03-30", periods=3, freq="D").astype("datetime64[us]")
    hist = History("d:cpu", ds, np.array([1.0, 2.0, 3.0]))
    out = forecast_frame([hist], {"d:cpu": np.ones((2, 3))}, 2, spec, "stub")
    assert out["ds"].dtype == "datetime64[us]"
    assert out["ds"].tolist() == [pd.Timestamp("2024-04-02"), pd.Timestamp("2024-04-03")]


def test_forecast_frame_repairs_crossings_clips_and_rejects_nan():
    spec = ModelSpec(freq="h", season_length=24, quantiles=QS)
    ds = pd.date_range("2024-01-01", periods=3, freq="h")
    pos = History("pos:cpu", ds, np.array([1.0, 2.0, 3.0]))
    neg = History("neg:x", ds, np.array([-1.0, 2.0, 3.0]))
    crossed = np.array([[3.0, -2.0, 1.0], [0.0, 1.0, 2.0]])
    out = forecast_frame([neg, pos], {"pos:cpu": crossed, "neg:x": crossed}, 2, spec, "stub")
    assert list(out.columns) == ["unique_id", "ds", "p10", "p50", "p90"]
    assert out.loc[out.unique_id == "pos:cpu", "p10"].tolist() == [0.0, 0.0]  # sorted, then clipped at 0
    assert out.loc[out.unique_id == "neg:x", ["p10", "p50", "p90"]].iloc[0].tolist() == [-2.0, 1.0, 3.0]
    assert out.loc[out.unique_id == "pos:cpu", "ds"].tolist() == list(
        pd.date_range("2024-01-01 03:00", periods=2, freq="h")
    )
    with pytest.raises(ModelError, match="pos:cpu"):
        forecast_frame([pos], {"pos:cpu": np.array([[np.nan, 1, 2], [0, 1, 2]])}, 2, spec, "stub")


def test_median_is_computed_even_when_not_configured():
    spec = ModelSpec(freq="h", season_length=2, quantiles=(0.1, 0.9))
    out = SeasonalNaive(spec).fit(hourly("s:cpu", "2024-01-01", np.arange(6.0))).predict(2)
    assert list(out.columns) == ["unique_id", "ds", "p10", "p90"]


# ---- ensemble -------------------------------------------------------------------------------
class Stub:
    """Deterministic member returning fixed quantiles per step."""

    complexity = 0
    native_intervals = False

    def __init__(self, name: str, p10: float, p50: float, p90: float):
        self.name, self.values = name, (p10, p50, p90)
        self.notes = {"s:cpu": f"{name} note"}
        self.fitted = False

    def fit(self, df, cov=None):
        self.fitted = True
        return self

    def predict(self, h, cov=None):
        ds = pd.date_range("2024-01-02", periods=h, freq="h")
        frame = pd.DataFrame({"unique_id": "s:cpu", "ds": ds})
        for col, v in zip(("p10", "p50", "p90"), self.values, strict=True):
            frame[col] = v
        return frame


def test_ensemble_median_and_weighted_mean():
    members = [Stub("a", 1, 2, 3), Stub("b", 2, 4, 9), Stub("c", 0, 10, 12)]
    ens = EnsembleForecaster(members).fit(pd.DataFrame())
    assert all(m.fitted for m in members)
    out = ens.predict(2)
    assert out[["p10", "p50", "p90"]].iloc[0].tolist() == [1.0, 4.0, 9.0]
    weighted = EnsembleForecaster(members, {"a": 1.0, "b": 1.0, "c": 2.0}).predict(2)
    # (1+2+0)/4, (2+4+20)/4, (3+9+24)/4
    assert weighted[["p10", "p50", "p90"]].iloc[1].tolist() == [0.75, 6.5, 9.0]
    assert ens.notes["s:cpu"] == "a: a note; b: b note; c: c note"


def test_ensemble_repairs_crossings_and_checks_weights():
    out = EnsembleForecaster([Stub("x", 5, 1, 3)]).predict(1)
    assert out[["p10", "p50", "p90"]].iloc[0].tolist() == [1.0, 3.0, 5.0]
    with pytest.raises(ModelError, match="cover"):
        EnsembleForecaster([Stub("a", 1, 2, 3), Stub("b", 1, 2, 3)], {"a": 1.0})


# ---- registry -------------------------------------------------------------------------------
def test_registry_names_complexities_and_unknown_name():
    spec = ModelSpec(freq="h", season_length=24)
    names = available_models()
    assert names == (
        "seasonal_naive", "seasonal_profile", "ets", "theta", "lightgbm", "lightgbm_log", "lightgbm_quantile", "nhits",
        "ensemble",
    )  # fmt: skip
    built = {n: build_model(n, spec) for n in names}
    assert {n: m.complexity for n, m in built.items()} == {
        "seasonal_naive": 0,
        "seasonal_profile": 1,
        "ets": 1,
        "theta": 1,
        "lightgbm": 2,
        "lightgbm_log": 2,
        "lightgbm_quantile": 2,
        "nhits": 3,
        "ensemble": 4,
    }
    assert all(m.name == n for n, m in built.items())
    assert build_model("ets", spec) is not build_model("ets", spec)
    with pytest.raises(ModelError, match="unknown model 'arima'"):
        build_model("arima", spec)
    with pytest.raises(ModelError):
        build_ensemble(["ets", "ensemble"], spec)


def test_import_and_build_stay_light():
    code = (
        "import sys, capplan.models as m\n"
        "spec = m.ModelSpec(freq='h', season_length=24)\n"
        "[m.build_model(n, spec) for n in m.available_models()]\n"
        "heavy = [k for k in sys.modules if k.split('.')[0] in ('darts', 'torch', 'lightgbm', 'statsmodels')]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
