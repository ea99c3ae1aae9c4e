"""``lightgbm``: one global Darts LightGBMModel over all series, one booster of the median.

* The booster minimises absolute error (``objective="l1"``): the point forecast is a median.
  Intervals are not modelled: the engine calibrates split-conformal intervals per series on the
  model's own backtest residuals. ``lightgbm_quantile`` keeps one booster per quantile level
  (native intervals) for those who want them; it costs about 7 times as much to train.
* ``output_chunk_length`` (ocl) = ``season_length`` capped at 48, ``multi_models=False``: one
  booster, trained to predict ``ocl`` steps ahead; longer horizons are chunked
  (see :mod:`capplan.models._darts`). Darts' lag ``-1`` then means ``ocl`` steps before the
  target, so lags are chosen as *distances from the target*: the ``min(season_length, 24)`` most
  recent observable steps, one and two seasons, and each extra seasonality (168 for weekly),
  keeping those within half the median history.
* Future covariates at the target time (Darts lag ``ocl - 1``): calendar (hour, day of week,
  month; :func:`calendar_matrix`) plus every ``cov.future`` column. They must
  reach the end of the horizon (ModelError naming the series otherwise).
* Past covariates (``cov.past``, business KPIs): lags at distances ``ocl`` and ``ocl + m - 1``,
  scaled per series and column by their mean absolute value. They are cut at each series' last
  training timestamp in both fit and predict, then carried forward, so values after the origin
  are never read: predicting with the full KPI frame or one truncated at the origin is the same.
* Rolling features of the target (``rolling``, on by default; ``lightgbm`` only, the
  differenced model: on ``lightgbm_log``, with robust training, they took 100 M4 Hourly series
  from MASE 1.043 to 1.158, so its variants have neither): the mean, standard deviation and
  maximum of the series the model sees (the scaled seasonal difference) over the last
  ``w`` steps, for each period ``w`` (season and extra seasonalities, those within half the
  median history), as past covariates at Darts' lag ``-1``: ``ocl`` steps before the target, so
  in training they end at least ``ocl`` steps before it (no leakage across the origin). Before
  each predicted chunk they are rebuilt from the history plus the fed-back forecast
  (:func:`capplan.models._darts.predict_chunked`'s ``past_fn``), as the target lags are. On M4
  Hourly (414 series, h 48, fit and predict alone) lightgbm went from MASE 0.881 to 0.834, sMAPE
  12.12 to 11.31, MSIS 7.58 to 7.30, for 14% more CPU a fit (and 1.7 s more to forecast 414 series).
* Robust training (``robust_training``; ``[forecast] clip_outliers``): short spikes and dips are
  clipped from the histories before the fit and the forecast builds on the clipped last season
  (:mod:`capplan.models._robust`), so an incident is not carried into tomorrow.
* Each series is scaled by its mean absolute value and the model learns its *seasonal
  difference* ``y_t - y_{t-m}`` (``difference``; see :mod:`capplan.models._global`): a forecast is
  seasonal naive plus what the trees learned about how this season differs from the last, so
  level shifts and growth carry over without a fitted trend. On M4 Hourly (414 series, h 48, fit
  and predict alone) this took the model from MASE 1.079 (linear detrending) to 0.873.
  ``lightgbm_log`` and ``lightgbm_quantile`` keep linear detrending.
* Training uses each series' most recent ``window_seasons`` (14) seasons of windows (336 hourly
  samples a series): it bounds the rows (and memory and time) a global fit needs. On M4 Hourly
  (414 series of 700-960 hours; ``lightgbm`` fitted alone, test MASE / sMAPE / fit CPU s): 30
  seasons 0.834 / 11.31 / 18.8, 21 0.832 / 11.30 / 14.3, 14 0.830 / 11.33 / 14.5, 10 0.830 /
  11.41 / 9.6, 7 0.829 / 11.44 / 11.0; on a year of hourly history it halves the rows of 30.
* 100 trees at learning rate 0.1 (it was 200 at 0.05): on M4 Hourly (``lightgbm`` alone, test
  MASE / sMAPE / MSIS as served; backtest and final fit CPU s) 0.829 / 11.35 / 6.28 in 33 s
  against 0.830 / 11.33 / 6.31 in 49 s (``benchmarks/m4_hourly.py --peers '' --models lightgbm``).
* ``n_jobs=None`` by default: each fit takes :func:`capplan.core.batches.fit_threads` of its rows, one
  thread on small per-fold problems (threads cost more than they save there) and the process's
  cores (``OMP_NUM_THREADS`` in a worker) from 200k rows; 1,000 series of 60 days (720k rows) fit
  1.4x faster on two threads with the same forecasts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.batches import fit_threads
from capplan.core.errors import ModelError

from ._common import History
from ._darts import (
    check_future_cover,
    covariate_columns,
    covariate_matrix,
    group_rows,
    past_rows,
    to_timeseries,
)
from ._global import GlobalDarts

CALENDAR = ("hour", "dayofweek", "month")
ROLLING = ("mean", "std", "max")


def rolling_features(v: np.ndarray, windows) -> np.ndarray:
    """Mean, standard deviation and maximum of ``v`` over the last ``w`` steps up to and including
    each step (fewer at the start), for each window: ``(len(v), 3 * len(windows))``. Row ``t``
    reads ``v[: t + 1]`` only."""
    n = len(v)
    c1, c2 = np.r_[0.0, np.cumsum(v)], np.r_[0.0, np.cumsum(v * v)]
    end = np.arange(1, n + 1)
    cols = []
    for w in windows:
        start = np.maximum(end - w, 0)
        count = end - start
        mean = (c1[end] - c1[start]) / count
        var = np.maximum((c2[end] - c2[start]) / count - mean**2, 0.0)
        peak = pd.Series(v).rolling(w, min_periods=1).max().to_numpy()
        cols += [mean, np.sqrt(var), peak]
    return np.column_stack(cols)


def calendar_matrix(grid: pd.DatetimeIndex) -> np.ndarray:
    """Hour, day of week and month of each timestamp as float columns ``(len(grid), 3)``: the
    calendar a tree splits on (built here rather than by Darts' encoders, which cost about a
    millisecond a series and fit)."""
    return np.column_stack([grid.hour, grid.dayofweek, grid.month]).astype("float64")


def target_distances(m: int, ocl: int, seasonalities, median_n: int) -> list[int]:
    """Target lags as distances (steps before the target), each ``>= ocl`` and ``<= median_n // 2``."""
    recent = range(ocl, ocl + max(min(m, 24), 1))
    seasonal = [k * p for p in {m, *seasonalities} for k in (1, 2) if p > 1]
    dist = sorted({d for d in (*recent, *seasonal) if d >= ocl and d <= max(median_n // 2, ocl)})
    return dist or [ocl]


class LightGBM(GlobalDarts):
    """Global LightGBM model of the median (one booster) with calendar, future and past
    covariates; its published intervals are split-conformal on its own backtest residuals."""

    name = "lightgbm"
    complexity = 2
    native_intervals = False
    point_only = True
    difference = True
    detrend = False
    robust_training = True

    def __init__(
        self,
        spec,
        n_estimators: int = 100,
        num_leaves: int = 31,
        learning_rate: float = 0.1,
        n_jobs: int | None = None,
        objective: str = "l1",
        window_seasons: int | None = 14,
        rolling: bool = True,
    ):
        super().__init__(spec)
        self.objective = objective
        self.window_seasons = window_seasons
        self.rolling = rolling
        self.rolling_windows: list[int] = []
        self.n_jobs = n_jobs  # None: fit_threads of the fit's rows
        self.params = dict(n_estimators=n_estimators, num_leaves=num_leaves, learning_rate=learning_rate)
        self.lags: list[int] = []
        self.past_lags: list[int] = []
        self._past_cols: list[str] = []
        self._future_cols: list[str] = []
        self._past: dict[str, pd.DataFrame] = {}
        self._past_scale: dict[str, np.ndarray] = {}

    def _layout(self, hists: list[History]) -> None:
        m = max(int(self.spec.season_length), 1)
        self.ocl = min(m, 48)
        median_n = int(np.median([x.n for x in hists]))
        dist = target_distances(m, self.ocl, self.spec.seasonalities, median_n)
        self.lags = sorted(-(d - self.ocl + 1) for d in dist)
        self.past_lags = sorted({-1, -m}) if m > 1 else [-1]
        periods = {m, *(int(p) for p in self.spec.seasonalities)}
        use = self.rolling and self.difference  # measured on the differenced model only
        self.rolling_windows = sorted(p for p in periods if 1 < p <= median_n // 2) if use else []
        self.min_length = -self.lags[0] + 2 * self.ocl + self._lag()
        self.max_samples_per_ts = self.window_seasons * m if self.window_seasons else None

    def _make_model(self):
        from darts.models import LightGBMModel

        if self.point_only:
            target = {"likelihood": None, "objective": self.objective}
        else:
            target = {"likelihood": "quantile", "quantiles": list(self.model_quantiles)}
        return LightGBMModel(
            lags=self.lags,
            lags_past_covariates=self._past_lags_of(),
            lags_future_covariates=[self.ocl - 1],
            output_chunk_length=self.ocl,
            multi_models=False,
            random_state=self.spec.seed,
            verbose=-1,
            **target,
            **{k: v for k, v in self.params.items() if k != "n_jobs"},  # a model pickled before had it
            n_jobs=self._threads(),
        )

    def _threads(self) -> int:
        """``n_jobs`` as given, else :func:`fit_threads` of the rows this fit trains on (each
        eligible series' windows, at most ``max_samples_per_ts``)."""
        given = getattr(self, "n_jobs", None) or self.params.get("n_jobs")  # params: a model pickled before
        if given:
            return int(given)
        cap = self.max_samples_per_ts or 10**9
        rows = sum(min(max(x.n - self.min_length + 1, 0), cap) for x in getattr(self, "_eligible", []))
        return fit_threads(rows)

    def _past_lags_of(self):
        """KPIs at :attr:`past_lags`; rolling features at Darts' ``-1`` (``ocl`` steps before the target)."""
        rolling = self._rolling_names()
        if not rolling:
            return self.past_lags if self._past_cols else None
        if not self._past_cols:
            return [-1]
        return {"default_lags": self.past_lags, **{c: [-1] for c in rolling}}

    def _rolling_names(self) -> list[str]:
        windows = getattr(self, "rolling_windows", [])  # none in a model pickled before them
        return [f"_rolling_{stat}_{w}" for w in windows for stat in ROLLING]

    # ---- covariates -------------------------------------------------------------------------
    def _fit_covariates(self, hists: list[History], cov) -> dict:
        self._past_cols = covariate_columns(cov.past) if cov is not None and cov.past is not None else []
        self._future_cols = (
            covariate_columns(cov.future) if cov is not None and cov.future is not None else []
        )
        self._past, self._past_scale = {}, {}
        covs = {}
        if self._past_cols:
            rows = group_rows(cov.past)
            self._past = {x.uid: past_rows(rows.get(x.uid), x) for x in hists}
            for x in hists:
                hist_vals = covariate_matrix(self._past[x.uid], self._past_cols, x.ds, x.uid, "past")
                scale = np.mean(np.abs(hist_vals), axis=0)
                self._past_scale[x.uid] = np.where(scale > 0, scale, 1.0)
        if self._past_cols or self._rolling_names():
            covs["past_covariates"] = self._past_series(hists, self._past, self._series(hists))
        future = group_rows(cov.future) if self._future_cols else {}
        covs["future_covariates"] = self._future_series(hists, future, 0)
        return covs

    def _past_fn(self, hists: list[History], cov):
        if not (self._past_cols or self._rolling_names()):
            return None
        rows = self._past
        if self._past_cols and cov is not None and cov.past is not None:
            given = group_rows(cov.past)
            rows = {x.uid: past_rows(given.get(x.uid), x) for x in hists}
        return lambda current: self._past_series(hists, rows, current)

    def _predict_covariates(self, hists: list[History], h: int, cov) -> dict:
        rows = {}
        if self._future_cols:
            if cov is None or cov.future is None:
                raise ModelError(
                    f"lightgbm was fitted with future covariates {self._future_cols}; predict needs them"
                )
            rows = group_rows(cov.future)
            for x in hists:
                check_future_cover(
                    rows.get(x.uid), x, x.last + h * pd.tseries.frequencies.to_offset(self.spec.freq)
                )
        return {"future_covariates": self._future_series(hists, rows, h)}

    def _grid(self, x: History, h: int) -> pd.DatetimeIndex:
        """History plus ``h + ocl`` steps (chunked prediction reads up to one chunk past the horizon)."""
        extra = h + self.ocl if h else 0
        return pd.date_range(x.ds[0], periods=x.n + extra, freq=self.spec.freq)

    def _past_series(self, hists: list[History], rows: dict, current: list) -> list:
        """Past covariates on each model series' own steps (the series so far: history, then the
        fed-back forecast), plus ``ocl`` steps repeating the last row that no lag reads: the KPI
        columns (cut at the origin, carried forward), then :func:`rolling_features` of the series."""
        d, pad = self._fitted["lag"], self.ocl
        windows = getattr(self, "rolling_windows", [])
        names = [*self._past_cols, *self._rolling_names()]
        out = []
        for x, series in zip(hists, current, strict=True):
            v = series.values(copy=False)[:, 0].astype("float64")
            grid = pd.date_range(x.ds[d], periods=len(v) + pad, freq=self.spec.freq)
            parts = []
            if self._past_cols:
                kpi_grid = pd.date_range(x.ds[0], periods=d + len(v) + pad, freq=self.spec.freq)
                kpis = covariate_matrix(rows.get(x.uid), self._past_cols, kpi_grid, x.uid, "past")
                parts.append(kpis[d:] / self._past_scale[x.uid])
            if windows:
                feats = rolling_features(v, windows)
                parts.append(np.vstack([feats, np.repeat(feats[-1:], pad, axis=0)]))
            out.append(to_timeseries(grid, np.hstack(parts), self.spec.freq, columns=names))
        return out

    def _future_series(self, hists: list[History], rows: dict, h: int) -> list:
        """Calendar columns (:func:`calendar_matrix`) plus every ``cov.future`` column, per series."""
        out = []
        for x in hists:
            grid = self._grid(x, h)
            vals = calendar_matrix(grid)
            if self._future_cols:
                given = covariate_matrix(rows.get(x.uid), self._future_cols, grid, x.uid, "future")
                vals = np.hstack([vals, given])
            out.append(to_timeseries(grid, vals, self.spec.freq))
        return out


class LightGBMLog(LightGBM):
    """``lightgbm_log``: the same global model on ``log(y)`` for strictly positive series (others
    stay linear): multiplicative seasonality and growth become additive. On 100 M4 Hourly series it
    lowered sMAPE (12.5 to 10.9) but not MASE (0.97 to 1.04) against ``lightgbm``, so it is a
    second candidate the champion rule picks per series, not a replacement."""

    name = "lightgbm_log"
    log_target = True
    difference = False
    detrend = True
    robust_training = False  # with rolling features and clipping: MASE 1.043 -> 1.158 (100 M4 series)


class LightGBMQuantile(LightGBM):
    """``lightgbm_quantile``: the same global model with one booster per quantile level (native
    intervals, then quantile recalibration on the backtest residuals). About as many times
    slower as there are levels (7 for the default quantiles: Darts needs them symmetric)."""

    name = "lightgbm_quantile"
    native_intervals = True
    point_only = False
    difference = False
    detrend = True
    robust_training = False  # as lightgbm_log: not measured to help a detrended model
