"""Local statistical models over Darts: ``ets`` (ExponentialSmoothing) and ``theta`` (FourTheta).

Both fit one model per series (in ``fit``) and are additive throughout, so zeros and negative
values are fine. Seasonality of period ``season_length`` is used only when the series has at least
two seasons of history; otherwise the seasonal part is dropped (noted).

* ``ets``: Holt-Winters with additive damped trend and additive seasonality (statsmodels via
  Darts). Quantiles are empirical quantiles of ``num_samples`` simulated paths (statsmodels
  ``simulate``, additive errors, seeded). If statsmodels raises, or yields NaN, for a series, that
  series falls back to seasonal naive and ``notes[unique_id]`` says why.
* ``theta``: 4Theta with theta=2, linear trend, additive modes, no normalisation. It is not
  probabilistic, so intervals are centred empirical quantiles of the in-sample one-step residuals
  ``y - fitted_values``, widened with the SES h-step variance factor ``sqrt(1 + (k - 1) alpha^2)``
  (Theta equals SES with drift; alpha is the fitted SES smoothing level). Failures fall back to
  seasonal naive, noted, as for ``ets``.
"""

from __future__ import annotations

import numpy as np

from ._common import Adapter, History, Values, residual_band
from ._darts import quiet, to_timeseries
from .naive import seasonal_naive_kernel


class _LocalDarts(Adapter):
    """Fit one Darts model per series; fall back to seasonal naive per series on failure."""

    def __init__(self, spec):
        super().__init__(spec)
        self._models: dict[str, object] = {}

    def _seasonal(self, hist: History) -> bool:
        m = self.spec.season_length
        if m > 1 and hist.n < 2 * m:
            self.notes[hist.uid] = (
                f"history of {hist.n} steps is under two seasons ({2 * m}): no seasonal term"
            )
        return m > 1 and hist.n >= 2 * m

    def _fit(self, hists: list[History], cov) -> None:
        self._models = {}
        with quiet():
            for hist in hists:
                try:
                    self._models[hist.uid] = self._fit_one(hist)
                except Exception as err:  # statsmodels/Darts raise many types; fall back per series
                    self.notes[hist.uid] = (
                        f"{self.name} fit failed ({type(err).__name__}: {err}): seasonal naive"
                    )

    def _predict(self, hists: list[History], h: int, cov) -> dict[str, Values]:
        out = {}
        with quiet():
            for hist in hists:
                values = None
                if hist.uid in self._models:
                    try:
                        values = self._predict_one(self._models[hist.uid], hist, h)
                    except Exception as err:
                        self.notes[hist.uid] = (
                            f"{self.name} predict failed ({type(err).__name__}): seasonal naive"
                        )
                    if values is not None and not np.isfinite(values).all():
                        self.notes[hist.uid] = f"{self.name} forecast had NaN: seasonal naive"
                        values = None
                if values is None:
                    values, _ = seasonal_naive_kernel(hist.y, h, self.spec.season_length, self.quantiles)
                out[hist.uid] = values
        return out

    def _fit_one(self, hist: History):
        raise NotImplementedError

    def _predict_one(self, model, hist: History, h: int) -> Values:
        raise NotImplementedError


class ETS(_LocalDarts):
    """Darts ExponentialSmoothing per series; quantiles from simulated sample paths."""

    name = "ets"
    complexity = 1
    native_intervals = True

    def __init__(self, spec, num_samples: int = 500, damped: bool = True):
        super().__init__(spec)
        self.num_samples = num_samples
        self.damped = damped

    def _fit_one(self, hist: History):
        from darts.models import ExponentialSmoothing
        from darts.utils.utils import ModelMode, SeasonalityMode

        seasonal = self._seasonal(hist)
        model = ExponentialSmoothing(
            trend=ModelMode.ADDITIVE,
            damped=self.damped,
            seasonal=SeasonalityMode.ADDITIVE if seasonal else SeasonalityMode.NONE,
            seasonal_periods=self.spec.season_length if seasonal else 1,
            random_state=self.spec.seed,
        )
        return model.fit(to_timeseries(hist.ds, hist.y, self.spec.freq))

    def _predict_one(self, model, hist: History, h: int) -> Values:
        pred = model.predict(h, num_samples=self.num_samples, random_state=self.spec.seed)
        samples = pred.all_values(copy=False)[:, 0, :]  # (h, num_samples)
        return np.quantile(samples, list(self.quantiles), axis=1).T


class Theta(_LocalDarts):
    """Darts FourTheta per series; intervals from in-sample residuals (module docstring)."""

    name = "theta"
    complexity = 1
    native_intervals = False

    def _fit_one(self, hist: History):
        from darts.models import FourTheta
        from darts.utils.utils import ModelMode, SeasonalityMode, TrendMode

        seasonal = self._seasonal(hist)
        model = FourTheta(
            theta=2,
            seasonality_period=self.spec.season_length if seasonal else None,
            season_mode=SeasonalityMode.ADDITIVE if seasonal else SeasonalityMode.NONE,
            model_mode=ModelMode.ADDITIVE,
            trend_mode=TrendMode.LINEAR,
            normalization=False,
        )
        return model.fit(to_timeseries(hist.ds, hist.y, self.spec.freq))

    def _predict_one(self, model, hist: History, h: int) -> Values:
        point = model.predict(h).values(copy=False)[:, 0].astype("float64")
        residuals = hist.y - np.asarray(model.fitted_values, dtype="float64").ravel()
        alpha = float(model.model.params["smoothing_level"])
        scale = np.sqrt(1.0 + np.arange(h) * alpha**2)
        return residual_band(point, residuals, self.quantiles, scale)
