"""Shared plumbing of the global Darts models (``lightgbm``, ``nhits``).

* One model is fitted once on the list of all *eligible* series and predicts them in one batch.
  A series is eligible when it is not constant and has at least ``min_length`` steps (the
  subclass' window); the others are forecast by seasonal naive, recorded in ``notes``.
* Series-level scaling: each series is divided by its mean absolute value over its training
  history (1 when that is 0) before fit and multiplied back after predict, so one model serves
  series of any magnitude.
* Optional per-series detrending (``detrend = True``, used by ``lightgbm``, whose trees cannot
  extrapolate): :func:`capplan.models._common.seasonal_trend` is subtracted before scaling and
  added back to every quantile after predict, so a rising series keeps rising.
* Optional seasonal differencing (``difference = True``, point models only; used by ``lightgbm``):
  the scaled series becomes ``z_t - z_{t-m}`` (``m = season_length``) before the fit; after
  predict the levels are rebuilt step by step, ``z_{n+k} = z_{n+k-m} + d_{n+k}``, later steps on
  earlier predicted ones. A series needs ``m`` more steps of history.
* Optional log target (``log_target = True``, with ``detrend``; used by ``lightgbm``): a series
  whose history is strictly positive is modelled as ``log(y)`` (a multiplicative series becomes
  additive; the trend is then a growth rate); its scale is 1 and every quantile is
  ``exp``-transformed back (quantiles survive a monotone transform). Other series stay linear.
* Darts needs quantile levels symmetric around 0.5, so the models are trained on
  :func:`symmetric_quantiles` (0.01 and 0.05 join 0.99 and 0.95) and the extra levels are dropped.
* Quantiles come from :func:`capplan.models._darts.predict_chunked` (deterministic, chunked by
  ``output_chunk_length``, median fed back, spread widened by ``sqrt(chunk + 1)``).
* ``point_only = True`` (``lightgbm``): one model of the median instead of one per quantile. Its
  own band is the seasonal-naive residual band around the point (``native_intervals`` is
  False): the engine replaces it by split-conformal intervals from the model's own backtest
  residuals per series, which is what gets published and scored.
"""

from __future__ import annotations

import numpy as np

from capplan.core.errors import ModelError

from ._common import Adapter, History, Values, seasonal_trend
from ._darts import predict_chunked, quiet, to_timeseries
from .naive import seasonal_naive_kernel


def series_scale(y: np.ndarray) -> float:
    """Mean absolute value of the history, or 1 when it is 0."""
    s = float(np.mean(np.abs(y)))
    return s if s > 0 else 1.0


def symmetric_quantiles(qs: tuple[float, ...]) -> tuple[float, ...]:
    """``qs`` plus ``1 - q`` for each level, sorted (Darts' quantile likelihoods require it)."""
    return tuple(sorted({round(q, 10) for q in qs} | {round(1.0 - q, 10) for q in qs}))


class GlobalDarts(Adapter):
    """Base for global models: subclasses set ``ocl``/``min_length`` in ``_layout`` and build the model."""

    dtype = "float64"
    detrend = False
    log_target = False

    # Training windows per series (the most recent ones); None uses every window.
    max_samples_per_ts: int | None = None
    point_only = False  # one model of the median; intervals come from backtest residuals
    difference = False  # model y_t - y_{t-m} (point models only)

    def __init__(self, spec):
        super().__init__(spec)
        self._model = None
        self._eligible: list[History] = []
        self._scale: dict[str, float] = {}
        self._trend: dict[str, np.ndarray] = {}
        self._log: set[str] = set()  # series modelled as log(y)
        self.ocl = 1
        self.min_length = 1

    @property
    def model_quantiles(self) -> tuple[float, ...]:
        return (0.5,) if self.point_only else symmetric_quantiles(self.quantiles)

    def _layout(self, hists: list[History]) -> None:
        """Set ``self.ocl`` and ``self.min_length`` (and model windows) from the histories."""
        raise NotImplementedError

    def _make_model(self):
        raise NotImplementedError

    def _fit_covariates(self, hists: list[History], cov) -> dict:
        return {}

    def _predict_covariates(self, hists: list[History], h: int, cov) -> dict:
        return {}

    def _periods(self) -> list[int]:
        return sorted({int(self.spec.season_length), *(int(s) for s in self.spec.seasonalities)})

    def _trend_values(self, x: History, start: int, stop: int) -> np.ndarray:
        return np.polyval(self._trend[x.uid], np.arange(start, stop, dtype="float64"))

    def _target(self, x: History) -> np.ndarray:
        return np.log(x.y) if x.uid in self._logged() else x.y

    def _logged(self) -> set[str]:
        """Series modelled as log(y); none for a model pickled before ``log_target`` existed."""
        return getattr(self, "_log", set())

    def _lag(self) -> int:
        """The seasonal difference's lag of this class (0: no differencing)."""
        return int(self.spec.season_length) if self.difference else 0

    def _scaled(self, x: History) -> np.ndarray:
        """The history as the model sees it before differencing: target, less trend, over scale."""
        return (self._target(x) - self._trend_values(x, 0, x.n)) / self._scale[x.uid]

    def _series(self, hists: list[History]) -> list:
        """The series the model sees: scaled, differenced when ``difference`` (from ``ds[lag]`` on)."""
        d = self._fitted["lag"]
        out = []
        for x in hists:
            z = self._scaled(x)
            if d:
                z, ds = z[d:] - z[:-d], x.ds[d:]
            else:
                ds = x.ds
            out.append(to_timeseries(ds, z, self.spec.freq, self.dtype))
        return out

    def _past_fn(self, hists: list[History], cov):
        """None, or ``series so far -> past covariates``, rebuilt before each predicted chunk."""
        return None

    def _fit(self, hists: list[History], cov) -> None:
        self._model, self._eligible = None, []
        # what predict must undo, kept on the instance: a pickle of an older capplan lacks it
        self._fitted = {"point": self.point_only, "lag": self._lag()}
        if not hists:
            return
        self._layout(hists)
        self._eligible = [x for x in hists if x.n >= self.min_length]
        for x in hists:
            if x.n < self.min_length:
                self.notes[x.uid] = f"history of {x.n} steps is under {self.min_length}: seasonal naive"
        if not self._eligible:
            return
        use_log = self.log_target and self.detrend
        self._log = {x.uid for x in self._eligible if use_log and np.min(x.y) > 0}
        self._scale = {x.uid: 1.0 if x.uid in self._log else series_scale(x.y) for x in self._eligible}
        flat = np.zeros(2)
        self._trend = {
            x.uid: seasonal_trend(self._target(x), self._periods()) if self.detrend else flat
            for x in self._eligible
        }
        covs = self._fit_covariates(self._eligible, cov)
        self._model = self._make_model()  # imports Darts (and Lightning) before quiet() sets log levels
        with quiet():
            extra = {"max_samples_per_ts": self.max_samples_per_ts} if self.max_samples_per_ts else {}
            self._model.fit(self._series(self._eligible), **covs, **extra)

    def _predict(self, hists: list[History], h: int, cov) -> dict[str, Values]:
        fitted = getattr(self, "_fitted", None)
        if fitted is None:
            raise ModelError(
                f"{self.name} was fitted by an older capplan (a booster per quantile, Darts' calendar "
                "encoders); retrain with `capplan train`"
            )
        point_only, d = fitted["point"], fitted["lag"]
        qs, m = self.quantiles, self.spec.season_length
        mq = (0.5,) if point_only else symmetric_quantiles(self.quantiles)
        pick = [0] * len(qs) if point_only else [mq.index(round(q, 10)) for q in qs]
        live = {x.uid for x in self._eligible}
        out = {x.uid: seasonal_naive_kernel(x.y, h, m, qs)[0] for x in hists if x.uid not in live}
        if not self._eligible:
            return out
        covs = self._predict_covariates(self._eligible, h, cov)
        with quiet():
            arrays = predict_chunked(
                self._model,
                self._series(self._eligible),
                h,
                self.ocl,
                mq.index(0.5),
                quantiles=not point_only,
                past_fn=self._past_fn(self._eligible, cov),
                **covs,
            )
        for x, values in zip(self._eligible, arrays, strict=True):
            trend = self._trend_values(x, x.n, x.n + h)[:, None]
            if d:  # undo the seasonal difference step by step (later steps build on earlier ones)
                level = np.concatenate([self._scaled(x)[-d:], np.zeros(h)])
                for k in range(h):
                    level[d + k] = level[k] + values[k, 0]
                values = level[d:, None]
            z = values[:, pick] * self._scale[x.uid] + trend
            z = np.exp(np.minimum(z, 700.0)) if x.uid in self._logged() else z
            if point_only:  # the seasonal-naive band around the point, until calibration replaces it
                band, _ = seasonal_naive_kernel(x.y, h, m, qs)
                z = z + band - band[:, [qs.index(0.5)]]
            out[x.uid] = z
        return out
