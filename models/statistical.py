"""Local statistical models: ``ets`` (Darts ExponentialSmoothing) and ``theta`` (numpy).

Both fit one model per series and are additive throughout, so zeros and negative values are fine.
Seasonality of period ``season_length`` is used only when the series has at least two seasons of
history; otherwise the seasonal part is dropped (noted).

* ``ets``: Holt-Winters with additive damped trend and additive seasonality (statsmodels via
  Darts, one fit per series). Quantiles are empirical quantiles of ``num_samples`` simulated
  paths (statsmodels ``simulate``, additive errors, seeded). If statsmodels raises, or yields
  NaN, for a series, that series falls back to seasonal naive and ``notes[unique_id]`` says why.
* ``theta``: the Theta method with theta=2, linear trend, additive modes, no normalisation (the
  model of Darts ``FourTheta`` with those settings, which it replaced), computed by
  :mod:`._theta` for all series at once: classical additive decomposition, SES with drift, SES
  ``alpha`` and initial level minimising the in-sample one-step squared error. It is not
  probabilistic, so intervals are centred empirical quantiles of the in-sample one-step residuals
  ``y - fitted``, widened with the SES h-step variance factor ``sqrt(1 + (k - 1) alpha^2)``.
  A series whose fit or forecast is not finite (or every series, if the vectorised fit raises)
  falls back to seasonal naive, noted, as for ``ets``.
"""

from __future__ import annotations

import numpy as np

from ._common import Adapter, History, Values
from ._darts import quiet, to_timeseries
from ._theta import ThetaFit, theta_fit, theta_forecast
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


class Theta(Adapter):
    """The Theta method vectorised across series in numpy (``_theta``; module docstring)."""

    name = "theta"
    complexity = 1
    native_intervals = False
    robust_training = True

    def __init__(self, spec):
        super().__init__(spec)
        self._fits: dict[str, ThetaFit] = {}

    def _fit(self, hists: list[History], cov) -> None:
        m = self.spec.season_length
        for hist in hists:
            if m > 1 and hist.n < 2 * m:
                self.notes[hist.uid] = (
                    f"history of {hist.n} steps is under two seasons ({2 * m}): no seasonal term"
                )
        self._fits = {}
        if not hists:
            return
        try:
            with np.errstate(all="ignore"):
                fits = theta_fit([x.y for x in hists], m, self.quantiles)
        except Exception as err:  # numerical trouble: every series of this fit falls back
            for hist in hists:
                self.notes[hist.uid] = f"theta fit failed ({type(err).__name__}: {err}): seasonal naive"
            return
        for hist, fit in zip(hists, fits, strict=True):
            if fit.finite:
                self._fits[hist.uid] = fit
            else:
                self.notes[hist.uid] = "theta fit had NaN: seasonal naive"

    def _predict(self, hists: list[History], h: int, cov) -> dict[str, Values]:
        out = {}
        for hist in hists:
            values = theta_forecast(self._fits[hist.uid], h) if hist.uid in self._fits else None
            if values is not None and not np.isfinite(values).all():
                self.notes[hist.uid] = "theta forecast had NaN: seasonal naive"
                values = None
            if values is None:
                values, _ = seasonal_naive_kernel(hist.y, h, self.spec.season_length, self.quantiles)
            out[hist.uid] = values
        return out
