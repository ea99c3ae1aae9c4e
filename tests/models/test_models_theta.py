"""The numpy Theta method (models/_theta.py) and its adapter: exact values on hand-built series,
agreement with a plain per-series reference loop, and the fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_synthetic import SPEC, hourly

from capplan.models import _theta
from capplan.models._theta import ses_fit, theta_fit, theta_forecast
from capplan.models.naive import SeasonalNaive
from capplan.models.statistical import Theta

QS = (0.1, 0.5, 0.9)
QCOLS = ["p10", "p50", "p90"]


def _season24() -> np.ndarray:
    s = np.sin(2 * np.pi * np.arange(24) / 24) * 10.0 + np.r_[np.zeros(12), np.full(12, 3.0)]
    return s - s.mean()


# ---- exact values on hand-built series --------------------------------------------------------
def test_linear_trend_plus_season_is_decomposed_exactly_and_forecast_as_theta_says():
    # y = 5 + 0.3 t + season: the decomposition and the drift are exact, the theta line is the
    # trend itself, so SES picks alpha = 1 (one-step error = the slope, the least any alpha gives)
    # and its level is the last trend value. Theta forecasts 0.5 * level + 0.5 * trend: it lags a
    # pure line by half the slope a step, k * 0.15 here (the Theta method's known behaviour).
    n, h = 24 * 10, 30
    t = np.arange(n + h)
    season = _season24()
    y = 5.0 + 0.3 * t + season[t % 24]
    (fit,) = theta_fit([y[:n]], 24, QS)
    np.testing.assert_allclose(fit.season, season, atol=1e-9)
    assert (fit.slope, fit.intercept) == pytest.approx((0.3, 5.0), abs=1e-9)
    assert fit.alpha == 1.0
    k = np.arange(1, h + 1)
    expected = 5.0 + 0.3 * (n - 1) + 0.15 * k + season[(n - 1 + k) % 24]
    values = theta_forecast(fit, h)
    np.testing.assert_allclose(values[:, 1], expected, atol=1e-9)
    # every in-sample residual is the same (0.5 * slope, the first one 0): a narrow band
    assert np.ptp(values[0]) < 0.2


def test_constant_series_gives_a_flat_forecast_and_no_band():
    (fit,) = theta_fit([np.full(24 * 5, 7.0)], 24, QS)
    np.testing.assert_allclose(theta_forecast(fit, 50), np.full((50, 3), 7.0), atol=1e-12)


def test_season_without_trend_is_repeated_exactly():
    season = _season24()
    y = 40.0 + np.tile(season, 6)
    (fit,) = theta_fit([y], 24, QS)
    np.testing.assert_allclose(theta_forecast(fit, 48)[:, 1], 40.0 + np.tile(season, 2), atol=1e-9)


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.7])
def test_ses_alpha_is_recovered_from_an_ses_process(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    e = rng.normal(0.0, 1.0, 4000)
    level = 100.0 + alpha * np.cumsum(e)  # level after each observation
    y = np.r_[100.0, level[:-1]] + e  # y_t = level_{t-1} + e_t
    est, _, _ = ses_fit([y])
    assert est[0] == pytest.approx(alpha, abs=0.03)
    # through the Theta model (no season, the drift of a random walk is small): close too
    (fit,) = theta_fit([y], 1, QS)
    assert fit.alpha == pytest.approx(alpha, abs=0.05)


def test_ses_initial_level_matches_statsmodels_for_a_given_alpha():
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing

    rng = np.random.default_rng(3)
    y = 20.0 + np.cumsum(rng.normal(0, 1, 300)) * 0.3 + rng.normal(0, 1, 300)
    alpha, last, fitted = ses_fit([y])
    sm = SimpleExpSmoothing(y, initialization_method="estimated").fit(
        smoothing_level=float(alpha[0]), optimized=True
    )
    np.testing.assert_allclose(fitted[0], sm.fittedvalues, atol=1e-4)
    assert last[0] == pytest.approx(sm.forecast(1)[0], abs=1e-4)
    # the zoomed grid finds the least SSE over alpha as well as statsmodels' optimiser (to 1e-6)
    free = SimpleExpSmoothing(y, initialization_method="estimated").fit()
    assert ((y - fitted[0]) ** 2).sum() <= free.sse * (1 + 1e-6)


def test_quantiles_ordered_and_finite_on_wild_series():
    rng = np.random.default_rng(5)
    ys = [
        rng.normal(0, 1, 500) * 1e6,
        -50.0 + rng.normal(0, 1, 100),  # negative
        np.r_[np.zeros(200), rng.exponential(1, 30)],  # mostly zero, then bursty
        np.arange(3.0),  # tiny
        rng.normal(0, 1e-9, 300),
    ]
    for fit in theta_fit(ys, 24, (0.01, 0.1, 0.5, 0.9, 0.99)):
        v = theta_forecast(fit, 200)
        assert np.isfinite(v).all()
        assert (np.diff(v, axis=1) >= 0).all()


def test_chunks_give_the_same_fits(monkeypatch):
    rng = np.random.default_rng(6)
    ys = [rng.normal(0, 1, n).cumsum() for n in (120, 60, 120, 90, 30)]
    whole = theta_fit(ys, 24, QS)
    monkeypatch.setattr(_theta, "CHUNK", 2)
    for a, b in zip(theta_fit(ys, 24, QS), whole, strict=True):
        np.testing.assert_allclose(theta_forecast(a, 10), theta_forecast(b, 10), rtol=1e-12)


# ---- agreement with a plain per-series reference ----------------------------------------------
def _ref_sse(u: np.ndarray, alpha: float) -> tuple[float, float]:
    a, b, sdd, sbd, sbb = 0.0, 1.0, 0.0, 0.0, 0.0
    for x in u:
        d = x - a
        sdd, sbd, sbb = sdd + d * d, sbd + b * d, sbb + b * b
        a, b = a + alpha * d, b * (1.0 - alpha)
    return sdd - sbd * sbd / sbb, sbd / sbb


def _ref_ses(w: np.ndarray) -> tuple[float, np.ndarray, float]:
    u = w - w[0]
    grid = list(_theta.ALPHA_GRID)
    step = grid[1] - grid[0]
    for _ in range(_theta.ZOOM_STAGES):
        alpha = min(grid, key=lambda a: _ref_sse(u, a)[0])  # the first of equal minima, as argmin
        lo, hi = max(alpha - step, 0.0), min(alpha + step, 1.0)
        grid = list(lo + (hi - lo) * np.linspace(0, 1, _theta.ZOOM_POINTS))
        step = 2 * step / (_theta.ZOOM_POINTS - 1)
    sse = [_ref_sse(u, a)[0] for a in grid]
    j = int(np.argmin(sse))
    candidates = [grid[j]]
    if 0 < j < len(grid) - 1 and sse[j - 1] - 2 * sse[j] + sse[j + 1] > 0:
        h = grid[j + 1] - grid[j]
        vertex = grid[j] + h * (sse[j - 1] - sse[j + 1]) / (2 * (sse[j - 1] - 2 * sse[j] + sse[j + 1]))
        candidates.append(min(max(vertex, grid[j] - h, 0.0), grid[j] + h, 1.0))
    scored = [(_ref_sse(u, a), a) for a in candidates]
    (_, l0), alpha = min(scored, key=lambda s: s[0][0])
    level, fitted = l0, []
    for x in u:
        fitted.append(level)
        level += alpha * (x - level)
    return alpha, np.array(fitted) + w[0], level + w[0]


def _ref_forecast(y: np.ndarray, m: int, h: int, qs) -> np.ndarray:
    from statsmodels.tsa.seasonal import seasonal_decompose

    n = len(y)
    season = np.zeros(n + h)
    if n >= 2 * m:
        dec = seasonal_decompose(y, model="additive", period=m, extrapolate_trend=m - 1)
        season = np.tile(dec.seasonal[:m], (n + h) // m + 1)[: n + h]
    z = y - season[:n]
    slope, intercept = np.polyfit(np.arange(n), z, 1)
    trend = intercept + slope * np.arange(n + h)
    alpha, fitted_w, level = _ref_ses(2 * z - trend[:n])
    fitted = 0.5 * fitted_w + 0.5 * trend[:n] + season[:n]
    point = 0.5 * level + 0.5 * trend[n:] + season[n:]
    r = y - fitted
    offsets = np.quantile(r, qs) - np.quantile(r, 0.5)
    return point[:, None] + np.sqrt(1 + np.arange(h) * alpha**2)[:, None] * offsets


def test_vectorised_fit_equals_a_per_series_reference_loop():
    rng = np.random.default_rng(11)
    ys = []
    for n in (300, 300, 251, 120, 47, 30, 300, 75):  # equal and different lengths, some < 2 seasons
        t = np.arange(n)
        y = 30 + rng.normal(0, 0.05) * t + rng.normal(0, 5) * np.sin(2 * np.pi * t / 24)
        ys.append(y + np.cumsum(rng.normal(0, rng.uniform(0.1, 1), n)) + rng.normal(0, 1, n))
    fits = theta_fit(ys, 24, QS)
    for y, fit in zip(ys, fits, strict=True):
        np.testing.assert_allclose(theta_forecast(fit, 60), _ref_forecast(y, 24, 60, QS), rtol=0, atol=1e-9)


@pytest.mark.filterwarnings("ignore:`extrapolate_trend='freq'`:FutureWarning")  # inside Darts
def test_same_model_as_darts_four_theta():
    # the model this replaced: FourTheta(theta=2), additive, linear trend, no normalisation
    import pandas as pd
    from darts import TimeSeries
    from darts.models import FourTheta
    from darts.utils.utils import ModelMode, SeasonalityMode, TrendMode

    rng = np.random.default_rng(8)
    ys = [30 + np.cumsum(rng.normal(0, 0.5, n)) + 5 * np.sin(np.arange(n) * np.pi / 12) for n in (400, 250)]
    for y, fit in zip(ys, theta_fit(ys, 24, QS), strict=True):
        darts = FourTheta(
            theta=2,
            seasonality_period=24,
            season_mode=SeasonalityMode.ADDITIVE,
            model_mode=ModelMode.ADDITIVE,
            trend_mode=TrendMode.LINEAR,
            normalization=False,
        ).fit(TimeSeries.from_times_and_values(pd.date_range("2024-01-01", periods=len(y), freq="h"), y))
        assert fit.alpha == pytest.approx(darts.model.params["smoothing_level"], abs=2e-3)
        point = darts.predict(48).values()[:, 0]
        np.testing.assert_allclose(theta_forecast(fit, 48)[:, 1], point, rtol=1e-3)


# ---- the adapter --------------------------------------------------------------------------------
def test_adapter_notes_short_series_and_forecasts_it_without_season():
    rng = np.random.default_rng(2)
    y = 10.0 + rng.normal(0, 1, 30)
    model = Theta(SPEC).fit(hourly("short:cpu", "2024-01-20", y))
    out = model.predict(30)
    assert "under two seasons (48)" in model.notes["short:cpu"]
    expected = _ref_forecast(y, 24, 30, model.quantiles)
    np.testing.assert_allclose(out["p50"], expected[:, model.quantiles.index(0.5)], atol=1e-9)


def test_adapter_falls_back_to_seasonal_naive_when_the_fit_raises(monkeypatch):
    def broken(ys, m, qs):
        raise FloatingPointError("overflow")

    monkeypatch.setattr("capplan.models.statistical.theta_fit", broken)
    rng = np.random.default_rng(4)
    df = hourly("a:cpu", "2024-01-01", 50 + rng.normal(0, 1, 24 * 5))
    model = Theta(SPEC).fit(df)
    out = model.predict(30)
    naive = SeasonalNaive(SPEC).fit(df).predict(30)
    np.testing.assert_allclose(out[QCOLS], naive[QCOLS])
    assert model.notes["a:cpu"] == "theta fit failed (FloatingPointError: overflow): seasonal naive"


def test_adapter_falls_back_per_series_on_nan(monkeypatch):
    real = theta_fit

    def half_nan(ys, m, qs):
        fits = real(ys, m, qs)
        return [fits[0].__class__(**{**fits[0].__dict__, "level": np.nan}), *fits[1:]]

    monkeypatch.setattr("capplan.models.statistical.theta_fit", half_nan)
    rng = np.random.default_rng(4)
    a_df = hourly("a:cpu", "2024-01-01", 50 + rng.normal(0, 1, 24 * 5))
    df = pd.concat([a_df, hourly("b:cpu", "2024-01-01", 20 + rng.normal(0, 1, 24 * 5))], ignore_index=True)
    model = Theta(SPEC).fit(df)
    out = model.predict(30)
    naive = SeasonalNaive(SPEC).fit(df).predict(30)
    a = out.unique_id == "a:cpu"
    np.testing.assert_allclose(out.loc[a, QCOLS], naive.loc[naive.unique_id == "a:cpu", QCOLS])
    assert model.notes == {"a:cpu": "theta fit had NaN: seasonal naive"}
    assert not np.allclose(out.loc[~a, "p50"], naive.loc[naive.unique_id == "b:cpu", "p50"])
