"""The training engine, free of Prefect and MLflow: the flows and the benchmarks call it.

``train_group(df, spec, params, cov)`` takes one frequency group (series sharing a grid) and does split, generate,
score: rolling-origin backtests of every configured model (one fit per fold for all series),
the ensemble, metrics, a champion per series, then final fits of the champions on full history
(an ensemble champion's members are fitted on its series). The ensemble (:mod:`.ensemble`) is,
per series, the weighted mean of the best ``ensemble_size`` models by mean backtest MASE, each
weighted by ``1 / MASE**4`` of its backtest on that series (0 where worse than seasonal naive,
unless all are); its backtest weights each fold on the other folds only, its published forecast
on all folds (``GroupResult.ensemble_weights``; an older pickle without them: the median). ``forecast_group`` turns the fitted champions into quantile
forecasts. Short series only get the seasonal naive model (noted). Every model's published
intervals are calibrated on its own backtest residuals: scaled split-conformal around the point
(:mod:`.calibration`) for models without native intervals, quantile recalibration for the others; the
metrics score the backtest calibrated out of sample (each fold on the other folds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from capplan.core.config import horizon_steps
from capplan.core.contracts import quantile_cols
from capplan.core.errors import CapplanError, SeriesError
from capplan.models import Covariates, ModelSpec, available_models, build_model, has_native_intervals

from .backtest import apply_conformal, backtest, calibration_offsets, cross_calibrate, repair_quantiles
from .calibration import IntervalProfile, interval_profile
from .champion import choose_champions
from .ensemble import (
    describe,
    ensemble_backtest,
    fold_errors,
    fold_weights,
    published_weights,
    series_mase,
    weighted_mean,
)
from .metrics import evaluate, interval_nominals
from .splits import forget_folds

BASELINE = "seasonal_naive"
Progress = Callable[[str], None]


@dataclass
class GroupResult:
    """Everything one training run learned about one frequency group."""

    spec: ModelSpec
    horizon: int
    backtests: pd.DataFrame  # unique_id, model, cutoff, ds, y, quantile columns
    metrics: pd.DataFrame  # unique_id, model, n, metric columns
    metrics_by_horizon: pd.DataFrame  # + horizon bucket
    champions: pd.DataFrame  # unique_id, champion, reason, ...
    ensemble_members: list[str]
    conformal: dict[str, pd.DataFrame]  # model -> interval offsets from its own backtest residuals
    fitted: dict[str, object] = field(default_factory=dict)  # model -> fitted Forecaster
    timings: dict[str, float] = field(default_factory=dict)  # model -> backtest seconds
    notes: dict[str, str] = field(default_factory=dict)  # unique_id -> note
    cutoffs: pd.Series | None = None  # unique_id -> last ds the fitted champions saw
    calibration: dict[str, str] = field(default_factory=dict)  # model -> "scaled" | "conformal" | "quantile"
    interval_profile: IntervalProfile | None = None  # season profiles of the scaled intervals
    ensemble_weights: pd.DataFrame | None = None  # unique_id, model, weight (None: an older pickle, median)


def _say(progress: Progress | None, text: str) -> None:
    if progress:
        progress(text)


def horizon_buckets(h: int, season: int) -> list[tuple[int, int]]:
    """Steps grouped by season (1-24, 25-48, ...) with at most 4 buckets."""
    width = max(season, int(np.ceil(h / 4)))
    return [(a, min(a + width - 1, h)) for a in range(1, h + 1, width)]


def _pick_members(metrics: pd.DataFrame, k: int) -> list[str]:
    mean = metrics[metrics["model"] != BASELINE].groupby("model")["mase"].mean().dropna().sort_values()
    return list(mean.index[:k])


def _ensemble(raw: dict[str, pd.DataFrame], long_df: pd.DataFrame, season: int, params, qcols):
    """Adds the ensemble's backtest to ``raw`` (each fold weighted by the other folds' skill) and
    returns its members (the best ``ensemble_size`` by mean backtest MASE) and published weights."""
    if "ensemble" not in params.models or len(raw) <= 2:
        return [], None
    errors = fold_errors(raw, long_df, season)
    members = _pick_members(series_mase(errors), params.ensemble_size)
    if len(members) < 2:
        return [], None
    raw["ensemble"] = ensemble_backtest(raw, fold_weights(errors, members), qcols)
    return members, published_weights(errors, members)


def calibration_method(name: str) -> str:
    """How ``name``'s published intervals are calibrated on its own backtest residuals: scaled
    split-conformal around the point forecast (:mod:`.calibration`) for a model without intervals
    of its own (the ensemble included), quantile recalibration (each quantile shifted) for a model
    with native ones. On M4 Hourly the ensemble's per-series coverage error of its 80% interval
    was 0.118 under quantile recalibration of its members' median bands."""
    return "quantile" if has_native_intervals(name) else "scaled"


def _calibrate(backtests: dict[str, pd.DataFrame], quantiles, season: int, profile: IntervalProfile):
    """Per model: the calibration method, offsets from every fold (what a forecast gets) and the
    backtest recalibrated out of sample (each fold on the others: what the metrics score)."""
    methods, offsets, calibrated = {}, {}, {}
    for name, bt in backtests.items():
        method = calibration_method(name)
        methods[name] = method
        offsets[name] = calibration_offsets(bt, quantiles, method, pool=season, profile=profile)
        calibrated[name] = cross_calibrate(bt, quantiles, method, pool=season, profile=profile)
    return methods, offsets, calibrated


@dataclass(frozen=True)
class TrainParams:
    """How one frequency group is trained: which models, horizon, folds and the ensemble."""

    models: Sequence[str]
    horizon: int  # steps
    folds: int = 3
    stride: int | None = None  # steps between cutoffs (default: the horizon)
    min_history: int = 3  # seasons a series needs before it is backtested
    ensemble_size: int = 3
    fit_final: bool = True  # fit the champions on all data (False: backtests and choice only)
    progress: Progress | None = None

    @classmethod
    def from_config(cls, fc, horizon: int, progress: Progress | None = None) -> TrainParams:
        """From a :class:`capplan.core.config.ForecastConfig` and the group's horizon in steps."""
        return cls(
            models=tuple(fc.models),
            horizon=horizon,
            folds=fc.backtest.folds,
            stride=fc.backtest.stride,
            min_history=fc.min_history,
            ensemble_size=fc.ensemble_size,
            progress=progress,
        )


@dataclass
class BacktestRuns:
    """The backtests of one group before scoring: which series were long enough, and each
    model's rolling-origin forecasts with its seconds."""

    long_df: pd.DataFrame  # series with enough history for the folds
    short: list[str]  # the others (seasonal naive fallback)
    notes: dict[str, str]
    backtests: dict[str, pd.DataFrame] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def split_short(df: pd.DataFrame, spec: ModelSpec, params: TrainParams) -> BacktestRuns:
    """Series long enough for ``folds`` backtests of ``horizon`` steps, the short ones, and notes."""
    season = spec.season_length
    n = df.groupby("unique_id", observed=True).size()
    need = max(params.min_history * season, params.horizon * params.folds + 2 * season)
    short = sorted(n[n < need].index)
    notes = {u: f"only {n[u]} points (< {need} for backtests); seasonal naive fallback" for u in short}
    return BacktestRuns(df[~df["unique_id"].isin(short)], short, notes)


def model_names(models: Sequence[str]) -> list[str]:
    """Models to backtest: the configured ones without the ensemble, seasonal naive always first."""
    names = [m for m in models if m != "ensemble"]
    return [BASELINE, *[m for m in names if m != BASELINE]]


# Rough wall seconds per series and fit (one backtest fold or the final fit) on 2 CPUs, measured on
# M4 Hourly (700-1000 points a series; benchmarks/README.md, issue 12): for the estimate only.
SECONDS_PER_SERIES_FIT = {
    "seasonal_naive": 0.002,
    "seasonal_profile": 0.003,
    "theta": 0.003,  # numpy Theta: 100 M4 series x 3 folds backtested in 1.4 s wall, 0.7 s CPU
    "lightgbm": 0.02,  # one booster of the median, 100 trees, rolling features (0.045 at 200 trees)
    "lightgbm_quantile": 0.12,  # a booster per quantile level
    "ets": 0.45,
    "nhits": 1.7,  # on CPU; a GPU is much faster
}


def estimate_seconds(models: Sequence[str], n_series: int, folds: int) -> dict[str, float]:
    """Rough wall seconds per model for ``folds`` backtest fits and one final fit of ``n_series``
    series (the ensemble costs nothing of its own); unknown models count as LightGBM."""
    fits = folds + 1
    rate = SECONDS_PER_SERIES_FIT
    return {m: rate.get(m, rate["lightgbm"]) * n_series * fits for m in model_names(models)}


def estimate_line(models: Sequence[str], n_series: int, folds: int) -> str:
    """One line printed before training: the estimate in total and the slowest models."""
    est = estimate_seconds(models, n_series, folds)
    slow = sorted(est.items(), key=lambda kv: -kv[1])[:3]
    detail = ", ".join(f"{m} ~{_duration(s)}" for m, s in slow)
    return (
        f"estimate: ~{_duration(sum(est.values()))} for {len(est)} models on {n_series} series x "
        f"{folds} folds + final fits ({detail}; rough, from M4 Hourly on 2 CPUs)"
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def backtest_one(
    name: str, df: pd.DataFrame, spec: ModelSpec, params: TrainParams, cov: Covariates | None
) -> tuple[pd.DataFrame, float]:
    """One model's rolling-origin backtest on every series (one fit per fold) and its seconds,
    saying after each fold how long it took and about how long the others will."""
    t0 = time.perf_counter()
    n_series, starts = df["unique_id"].nunique(), []

    def factory():  # the backtest builds one fresh model per fold
        now = time.perf_counter()
        if starts:
            _fold_done(params, name, len(starts), n_series, now - starts[0])
        starts.append(now)
        return build_model(name, spec)

    bt = backtest(factory, df, params.horizon, params.folds, params.stride, cov=cov)
    if starts:
        _fold_done(params, name, len(starts), n_series, time.perf_counter() - starts[0])
    return bt, time.perf_counter() - t0


def _fold_done(params: TrainParams, name: str, done: int, n_series: int, elapsed: float) -> None:
    left = elapsed / done * (params.folds - done)
    tail = f", ~{_duration(left)} left" if done < params.folds else f", {_duration(elapsed)} in all"
    _say(params.progress, f"  backtesting {name}: fold {done}/{params.folds} done, {n_series} series{tail}")


def train_group(
    df: pd.DataFrame, spec: ModelSpec, params: TrainParams, cov: Covariates | None = None
) -> GroupResult:
    """Backtest ``params.models`` on ``df`` (gap-free, one grid), choose champions, fit them."""
    runs = split_short(df, spec, params)
    n_series = runs.long_df["unique_id"].nunique()
    _say(params.progress, estimate_line(params.models, n_series, params.folds))
    for name in model_names(params.models) if len(runs.long_df) else []:
        _say(
            params.progress, f"backtest {name}: {n_series} series x {params.folds} folds, h={params.horizon}"
        )
        runs.backtests[name], runs.timings[name] = backtest_one(name, runs.long_df, spec, params, cov)
        _say(params.progress, f"  {name}: {runs.timings[name]:.1f} s")
    forget_folds()  # every model saw the same folds (cut once)
    return finish_group(df, spec, params, runs, cov)


def finish_group(
    df: pd.DataFrame, spec: ModelSpec, params: TrainParams, runs: BacktestRuns, cov: Covariates | None
) -> GroupResult:
    """Score the backtests, add the ensemble, choose champions and fit them on all data."""
    season, h = spec.season_length, params.horizon
    qcols = quantile_cols(spec.quantiles)
    raw, long_df = dict(runs.backtests), runs.long_df
    members, weights = _ensemble(raw, long_df, season, params, qcols)
    profile = IntervalProfile(interval_profile(long_df, spec.freq, season), spec.freq, season)
    methods, conformal, backtests = _calibrate(raw, spec.quantiles, season, profile)
    metrics = _score(backtests, long_df, season, spec.quantiles)
    bt_all = (
        pd.concat(backtests.values(), ignore_index=True)
        if backtests
        else pd.DataFrame(columns=["unique_id", "model", "cutoff", "ds", "y", *qcols])
    )
    by_h = (
        evaluate(
            bt_all,
            long_df,
            season=season,
            quantiles=spec.quantiles,
            horizon_buckets=horizon_buckets(h, season),
        )
        if len(bt_all)
        else pd.DataFrame()
    )
    champions = _with_weights(_champions(metrics, runs.short, spec), weights)
    result = GroupResult(
        spec, h, bt_all, metrics, by_h, champions, members, conformal, timings=runs.timings, notes=runs.notes
    )
    result.calibration = methods
    result.interval_profile = profile
    result.ensemble_weights = weights
    if params.fit_final:
        fit_champions(result, df, cov, params.progress)
    return result


def _score(backtests: dict[str, pd.DataFrame], df: pd.DataFrame, season: int, quantiles) -> pd.DataFrame:
    if not backtests:
        return pd.DataFrame(columns=["unique_id", "model", "mase"])
    bt = pd.concat(backtests.values(), ignore_index=True)
    return evaluate(bt, df, season=season, quantiles=quantiles)


ENSEMBLE_MARGIN = 0.05  # the ensemble stays champion unless another model beats it by more than 5%
COVERAGE_TOLERANCE = 0.15  # a champion's widest central interval covers within 15 points of nominal


def _guard(spec: ModelSpec) -> tuple[str, float, float] | None:
    """The champion rule's interval guard: the widest configured central interval."""
    central = [(c, n) for c, n in interval_nominals(spec.quantiles).items() if c.count("_p") == 2]
    if not central:
        return None
    col, nominal = max(central, key=lambda cn: cn[1])
    return col, nominal, COVERAGE_TOLERANCE


def _champions(metrics: pd.DataFrame, short: Sequence[str], spec: ModelSpec) -> pd.DataFrame:
    parts = []
    if len(metrics):
        complexity = {m: build_model(m, spec).complexity for m in metrics["model"].unique()}  # cheap: no fit
        parts.append(
            choose_champions(
                metrics,
                complexity,
                primary="mase",
                baseline=BASELINE,
                coverage=_guard(spec),
                prefer=("ensemble", ENSEMBLE_MARGIN) if "ensemble" in complexity else None,
            )
        )
    if short:
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": list(short),
                    "champion": BASELINE,
                    "reason": "history too short for backtests: fallback",
                }
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["unique_id", "champion", "reason"])
    )


def _with_weights(champions: pd.DataFrame, weights: pd.DataFrame | None) -> pd.DataFrame:
    """The ensemble champions' reasons end with the series' weights (``; weights lightgbm 0.71, ...``)."""
    won = champions["champion"] == "ensemble"
    if weights is None or not won.any():
        return champions
    text = champions.loc[won, "unique_id"].map(describe(weights, champions.loc[won, "unique_id"]))
    out = champions.copy()
    out.loc[won, "reason"] = out.loc[won, "reason"] + ("; " + text).fillna("")
    return out


def fit_champions(
    result: GroupResult, df: pd.DataFrame, cov: Covariates | None, progress: Progress | None = None
) -> None:
    """Fit each champion model once on the full history of the series it champions."""
    seen = df[df["unique_id"].isin(set(result.champions["unique_id"]))]
    result.cutoffs = seen.groupby("unique_id", observed=True)["ds"].max().sort_index()
    needed = set(result.champions["champion"])
    if "ensemble" in needed:
        needed |= set(result.ensemble_members)
    for name in sorted(needed - {"ensemble"}):
        uids = _series_for(result, name)
        t0 = time.perf_counter()
        model = build_model(name, result.spec).fit(df[df["unique_id"].isin(uids)], cov)
        result.fitted[name] = model
        _say(progress, f"final fit {name} on {len(uids)} series: {time.perf_counter() - t0:.1f} s")


def fitted_through(result: GroupResult) -> pd.Series | None:
    """unique_id -> the last timestamp the fitted champions saw (None: unknown, an older pickle)."""
    return getattr(result, "cutoffs", None)


def needs_refit(result: GroupResult, df: pd.DataFrame) -> bool:
    """Whether ``df`` ends elsewhere than the data the champions were fitted on (new data arrived,
    or an older origin is asked for)."""
    seen = fitted_through(result)
    if seen is None:
        return True
    last = df.groupby("unique_id", observed=True)["ds"].max()
    last = last[last.index.isin(result.champions["unique_id"])]
    return not last.equals(seen.reindex(last.index))


def refit_group(
    result: GroupResult, df: pd.DataFrame, cov: Covariates | None = None, progress: Progress | None = None
) -> GroupResult:
    """The same champions (no re-selection, same conformal offsets) fitted on ``df``, so that their
    forecast starts after each series' last observation in ``df``. Series of ``result`` missing
    from ``df`` are dropped; series of ``df`` without a champion are not forecast."""
    ch = result.champions[result.champions["unique_id"].isin(set(df["unique_id"]))]
    out = replace(result, champions=ch.reset_index(drop=True), fitted={}, cutoffs=None)
    fit_champions(out, df[df["unique_id"].isin(set(ch["unique_id"]))], cov, progress)
    return out


def _series_for(result: GroupResult, name: str) -> list[str]:
    ch = result.champions
    uids = set(ch.loc[ch["champion"] == name, "unique_id"])
    if name in result.ensemble_members:
        uids |= set(ch.loc[ch["champion"] == "ensemble", "unique_id"])
    return sorted(uids)


def _calibrated(result: GroupResult, name: str, p: pd.DataFrame) -> pd.DataFrame:
    """``p`` with ``name``'s intervals calibrated on its backtest residuals (series without
    residuals, too short for backtests, keep the model's own bands)."""
    if name not in result.conformal:
        return p
    method = (getattr(result, "calibration", None) or {}).get(name, "conformal")
    cal = result.conformal[name]
    has = p["unique_id"].isin(set(cal["unique_id"]))
    relative = "own" if method == "quantile" else "point"
    profile = getattr(result, "interval_profile", None) if method == "scaled" else None
    done = apply_conformal(p[has], cal, result.spec.quantiles, relative=relative, profile=profile)
    return pd.concat([done, p[~has]], ignore_index=True)


def _ensemble_forecast(result: GroupResult, raw: dict[str, pd.DataFrame], uids, qcols) -> pd.DataFrame:
    """The weighted mean of the members' forecasts with the series' published weights (an older
    pickle without weights: the members' median)."""
    weights = getattr(result, "ensemble_weights", None)
    if weights is None:
        members = [raw[m][raw[m]["unique_id"].isin(uids)] for m in result.ensemble_members]
        p = pd.concat(members).groupby(["unique_id", "ds"], observed=True)[qcols].median().reset_index()
        return repair_quantiles(p, qcols)
    weights = weights[weights["unique_id"].isin(set(uids)) & (weights["weight"] > 0)]
    frames = [raw[m][raw[m]["unique_id"].isin(uids)].assign(model=m) for m in sorted(set(weights["model"]))]
    p = weighted_mean(frames, weights, qcols) if frames else pd.DataFrame(columns=["unique_id"])
    missing = sorted(set(map(str, uids)) - set(map(str, p["unique_id"])))
    if missing:
        raise SeriesError(
            f"ensemble: no member forecast with a weight for series {', '.join(missing[:10])} "
            f"(members {', '.join(result.ensemble_members)})"
        )
    return p


def forecast_group(result: GroupResult, h: int, cov: Covariates | None = None) -> pd.DataFrame:
    """Champion forecasts: unique_id, ds, model, quantile columns (ordered, never NaN), every
    model's intervals calibrated on its own backtest residuals (the ensemble's on its own too)."""
    qcols = quantile_cols(result.spec.quantiles)
    raw = {name: model.predict(h, cov) for name, model in result.fitted.items()}
    parts = []
    for name, uids in result.champions.groupby("champion")["unique_id"]:
        if name == "ensemble":
            p = _ensemble_forecast(result, raw, uids, qcols)
        else:
            p = raw[name][raw[name]["unique_id"].isin(uids)]
        parts.append(_calibrated(result, name, p).assign(model=name))
    out = pd.concat(parts, ignore_index=True)
    out = repair_quantiles(out[["unique_id", "ds", "model", *qcols]], qcols)
    return out.sort_values(["unique_id", "ds"], ignore_index=True)


def _steps(result, horizon: int | str | None, cov) -> int:
    freq = result.spec.freq
    h = horizon_steps(horizon, freq) if horizon is not None else result.horizon
    if h > result.horizon and cov is not None and cov.future is not None:
        raise CapplanError(
            f"--horizon {horizon} is longer than the {result.horizon} steps the champions were trained for "
            f"at frequency {freq} (events are known that far only); retrain with a longer [forecast] horizon"
        )
    return h


def forecast_inputs(champions, groups) -> list[tuple]:
    """One ``(result, cov, group)`` per fitted batch of ``champions`` (``(GroupResult, Covariates)``
    pairs), ``group`` being the matching training group (by ``freq``) cut to the batch's series
    with ``group.subset`` (None: no data at that frequency): what one forecast task gets."""
    by_freq = {g.freq: g for g in groups}
    out = []
    for result, cov in champions:
        group = by_freq.get(result.spec.freq)
        if group is not None:
            group = group.subset(result.champions["unique_id"])
        out.append((result, cov, group))
    return out


def forecast_batch(result, cov, group, horizon: int | str | None) -> tuple[pd.DataFrame | None, int]:
    """One batch's champions re-fitted on ``group`` (the data now, or as of a date) where it ends
    elsewhere than what they were fitted on (the choice of champion is kept), then forecast from
    each series' last observation with a ``cutoff`` column; None when no series has data. Returns
    the forecasts and the number of re-fitted series."""
    refitted = 0
    if group is not None and needs_refit(result, group.df):
        result, cov = refit_group(result, group.df, group.cov), group.cov
        refitted = result.champions["unique_id"].nunique()
    if result.champions.empty:
        return None, refitted
    fc = forecast_group(result, _steps(result, horizon, cov), cov)
    first = fc.groupby("unique_id", observed=True)["ds"].transform("min")
    fc["cutoff"] = first - pd.tseries.frequencies.to_offset(result.spec.freq)
    return fc, refitted


def merge_forecasts(parts: Sequence[tuple[pd.DataFrame | None, int]]) -> tuple[pd.DataFrame, int]:
    """The batches' forecasts as one frame (in batch order) and the re-fitted series in all."""
    frames = [fc for fc, _ in parts if fc is not None]
    if not frames:
        raise CapplanError("no series to forecast: none of the champions' series has data")
    return pd.concat(frames, ignore_index=True), sum(n for _, n in parts)


def forecast_champions(champions, groups, horizon: int | str | None) -> tuple[pd.DataFrame, int]:
    """:func:`forecast_batch` over every batch of ``champions`` in turn, merged (the flow runs
    the same batches as tasks)."""
    parts = [forecast_batch(r, c, g, horizon) for r, c, g in forecast_inputs(champions, groups)]
    return merge_forecasts(parts)


def with_models(cfg, models):
    """``cfg`` with another model list (validated against the registry); ``None`` keeps it."""
    if not models:
        return cfg
    from capplan.core.config import ForecastConfig
    from capplan.core.errors import CapplanError

    unknown = [m for m in models if m not in available_models()]
    if unknown:
        raise CapplanError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(available_models())}")
    fc = ForecastConfig.model_validate({**cfg.forecast.model_dump(), "models": tuple(models)})
    return cfg.model_copy(update={"forecast": fc})
