"""Generate: rolling-origin backtests, conformal intervals and quantile repair.

Invariants of a backtest frame (what :func:`backtest` returns):

* Columns ``unique_id, model, cutoff, ds, y`` then one column per quantile the model returned,
  named by :func:`capplan.core.contracts.quantile_col`, ordered by quantile level.
* Per (``unique_id``, ``model``, ``cutoff``) exactly ``h`` rows, the ``h`` steps after the cutoff;
  ``y`` is the realised value, never seen by the model.
* The model is fitted once per fold on all series; past covariates (KPIs) are truncated at the
  cutoff, so no model sees a past-covariate row with ``ds`` later than its series' cutoff.
* The horizon step of a row (1 = first step after the cutoff) is :func:`horizon_step`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import CUTOFF, DS, ID, MODEL, Y, quantile_col, quantile_from_col
from capplan.core.contracts import quantile_columns as contract_quantile_columns
from capplan.core.errors import ModelError, SeriesError
from capplan.models.base import Covariates, Forecaster

from .calibration import IntervalProfile, scaled_conformal_quantiles
from .splits import fold_plan

log = logging.getLogger(__name__)

STEP = "step"
POINT = quantile_col(0.5)


def quantile_columns(frame: pd.DataFrame) -> list[str]:
    """The quantile columns of ``frame`` (``p10``, ``p50``...), ordered by quantile level."""
    return contract_quantile_columns(frame.columns)


def horizon_step(frame: pd.DataFrame, keys: Sequence[str] = (ID, MODEL, CUTOFF)) -> pd.Series:
    """1-based step of each row after its origin: the rank of ``ds`` within ``keys`` present in ``frame``."""
    present = [k for k in keys if k in frame.columns]
    if not present:
        raise ValueError(f"horizon_step needs at least one of {list(keys)} in the frame")
    return frame.groupby(present, sort=False, observed=True)[DS].rank(method="first").astype("int64")


def _truncate_past(cov: Covariates | None, cutoffs: pd.DataFrame) -> Covariates | None:
    """Past covariates visible at this fold: rows up to each series' cutoff.

    With one cutoff for the fold this is ``cov.truncate_past(cutoff)``. With several (series
    ending at different times), rows of a series are cut at its own cutoff and rows keyed by
    other ids (shared KPIs) at the fold's earliest cutoff, so nothing later than a cutoff leaks.
    """
    if cov is None or cov.past is None:
        return cov
    unique_cuts = cutoffs[CUTOFF].unique()
    if len(unique_cuts) == 1:
        return cov.truncate_past(pd.Timestamp(unique_cuts[0]))
    past = cov.past.merge(cutoffs[[ID, CUTOFF]], on=ID, how="left")
    limit = past[CUTOFF].fillna(cutoffs[CUTOFF].min())
    return Covariates(future=cov.future, past=cov.past[(past[DS] <= limit).to_numpy()])


def _join_forecast(valid: pd.DataFrame, fcst: pd.DataFrame, name: str) -> pd.DataFrame:
    """``valid`` with the model's quantile columns; raises naming the series it did not forecast."""
    qcols = quantile_columns(fcst)
    if not qcols:
        raise ModelError(f"model {name!r} returned no quantile columns; got {list(fcst.columns)}")
    fcst = fcst[[ID, DS, *qcols]].copy()
    fcst[ID] = fcst[ID].astype(valid[ID].dtype)
    out = valid[[ID, DS, Y]].merge(fcst, on=[ID, DS], how="left")
    bad = out[qcols].isna().any(axis=1)
    if bad.any():
        ids = sorted(out.loc[bad, ID].astype(str).unique())
        raise ModelError(
            f"model {name!r} left {int(bad.sum())} backtest rows without a forecast (missing or NaN) "
            f"for series {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"
        )
    return out


def backtest(
    model_factory: Callable[[], Forecaster],
    df: pd.DataFrame,
    h: int,
    folds: int,
    stride: int | None = None,
    cov: Covariates | None = None,
    min_train: int = 1,
) -> pd.DataFrame:
    """Rolling-origin backtest: a fresh model from ``model_factory`` fitted once per fold on all series.

    Returns ``unique_id, model, cutoff, ds, y, <quantile cols>`` (see the module invariants).
    (series, fold) pairs with fewer than ``min_train`` points before the cutoff are left out and
    logged as a warning; :func:`capplan.evaluation.splits.plan_folds` returns them as a frame.
    Raises :class:`SeriesError` when no fold has any usable series.
    (Seven parameters: the split's own coordinates (h, folds, stride, min_train) plus the model,
    data and covariates; callers pass :class:`capplan.evaluation.engine.TrainParams` fields.)
    """
    skipped, splits = fold_plan(df, h, folds, stride, min_train)
    if len(skipped):
        log.warning("backtest skipped %d (series, fold) pairs: %s", len(skipped), _describe(skipped))
    parts = []
    name = "?"
    for split in splits:
        fold_cov = _truncate_past(cov, split.cutoffs)
        model = model_factory()
        name = model.name
        model.fit(split.train, fold_cov)
        fcst = model.predict(h, fold_cov)
        part = _join_forecast(split.valid, fcst, name)
        part = part.merge(split.cutoffs[[ID, CUTOFF]], on=ID, how="left")
        part[MODEL] = name
        parts.append(part)
    if not parts:
        raise SeriesError(f"backtest of {name}: no series is long enough for any fold: {_describe(skipped)}")
    out = pd.concat(parts, ignore_index=True)
    qcols = quantile_columns(out)
    return out[[ID, MODEL, CUTOFF, DS, Y, *qcols]].sort_values([ID, CUTOFF, DS], ignore_index=True)


def _describe(skipped: pd.DataFrame, limit: int = 10) -> str:
    text = "; ".join((skipped[ID].astype(str) + ": " + skipped["reason"]).head(limit))
    return text + (" ..." if len(skipped) > limit else "")


def conformal_quantiles(
    backtest_frame: pd.DataFrame,
    point_col: str = POINT,
    quantiles: Sequence[float] = (0.1, 0.9),
    pool: int = 1,
) -> pd.DataFrame:
    """Signed interval offsets per (``unique_id``[, ``model``], ``step``) from backtest residuals.

    Split-conformal, symmetric (as statsforecast's ConformalIntervals): for a quantile ``q`` the
    offset is ``sign(q - 0.5) * Q_{|2q-1|}(|y - point|)`` over the folds, with the ``'higher'``
    empirical quantile (conservative with few folds). ``q = 0.5`` gets offset 0. Offsets are
    monotone in ``q`` by construction. Returns keys, ``step``, one column per quantile.

    ``pool > 1`` pools the residuals of ``pool`` consecutive steps (1..pool, pool+1..2*pool, ...):
    with few folds one step holds too few residuals for a quantile, while neighbouring steps have
    errors of about the same size. Every step still gets its own row.
    """
    frame = backtest_frame.copy()
    frame[STEP] = horizon_step(frame)
    frame["_abs"] = (frame[Y] - frame[point_col]).abs()
    ids = [k for k in (ID, MODEL) if k in frame.columns]
    frame["_bucket"] = (frame[STEP] - 1) // max(pool, 1)
    grouped = frame.groupby([*ids, "_bucket"], sort=True, observed=True)["_abs"]
    offsets = grouped.size().rename("_n").reset_index()[[*ids, "_bucket"]]
    for q in sorted(quantiles):
        level = abs(2 * q - 1)
        col = quantile_col(q)
        if level == 0:
            offsets[col] = 0.0
            continue
        offsets[col] = np.sign(q - 0.5) * grouped.quantile(level, interpolation="higher").to_numpy()
    steps = frame[[*ids, STEP, "_bucket"]].drop_duplicates()
    out = steps.merge(offsets, on=[*ids, "_bucket"], how="left").drop(columns="_bucket")
    return out.sort_values([*ids, STEP], ignore_index=True)


def recalibration_offsets(
    backtest_frame: pd.DataFrame, quantiles: Sequence[float], pool: int = 1
) -> pd.DataFrame:
    """Quantile recalibration offsets per (``unique_id``[, ``model``], ``step``) for a model with
    intervals of its own: the offset of ``q`` is the empirical ``q``-quantile of ``y - p_q`` over
    the folds (steps pooled by ``pool`` as in :func:`conformal_quantiles`), so that a share ``q``
    of the backtest actuals falls at or below the shifted quantile. ``q = 0.5`` is not moved (the
    point forecast stays the model's). Same frame shape as :func:`conformal_quantiles`; apply
    with :func:`apply_conformal` and ``relative="own"``.
    """
    frame = backtest_frame.copy()
    frame[STEP] = horizon_step(frame)
    ids = [k for k in (ID, MODEL) if k in frame.columns]
    frame["_bucket"] = (frame[STEP] - 1) // max(pool, 1)
    keys = [*ids, "_bucket"]
    offsets = frame.groupby(keys, sort=True, observed=True).size().rename("_n").reset_index()[keys]
    for q in sorted(quantiles):
        col = quantile_col(q)
        if abs(q - 0.5) < 1e-12:
            offsets[col] = 0.0
            continue
        resid = (frame[Y] - frame[col]).rename("_r")
        offsets[col] = (
            resid.groupby([frame[k] for k in keys], sort=True, observed=True).quantile(q).to_numpy()
        )
    steps = frame[[*ids, STEP, "_bucket"]].drop_duplicates()
    out = steps.merge(offsets, on=keys, how="left").drop(columns="_bucket")
    return out.sort_values([*ids, STEP], ignore_index=True)


def calibration_offsets(
    backtest_frame: pd.DataFrame,
    quantiles: Sequence[float],
    method: str,
    pool: int = 1,
    profile: IntervalProfile | None = None,
) -> pd.DataFrame:
    """``method`` ``"scaled"`` (:func:`~capplan.evaluation.calibration.scaled_conformal_quantiles`,
    around the point forecast, in ``profile`` units), ``"conformal"`` (:func:`conformal_quantiles`,
    per series and ``pool`` steps) or ``"quantile"`` (:func:`recalibration_offsets`, each quantile
    shifted on its own residuals)."""
    if method == "scaled":
        return scaled_conformal_quantiles(backtest_frame, quantiles, profile)
    if method == "conformal":
        return conformal_quantiles(backtest_frame, quantiles=quantiles, pool=pool)
    if method == "quantile":
        return recalibration_offsets(backtest_frame, quantiles, pool)
    raise ValueError(f"unknown calibration method {method!r}; expected 'scaled', 'conformal' or 'quantile'")


def cross_calibrate(
    backtest_frame: pd.DataFrame,
    quantiles: Sequence[float],
    method: str,
    pool: int = 1,
    profile: IntervalProfile | None = None,
) -> pd.DataFrame:
    """The backtest as it would have been published: each fold's intervals calibrated on the
    *other* folds' residuals (leave one cutoff out), so its coverage is measured out of sample.
    Rows of a series with no other fold keep their own intervals. Same shape as the input."""
    qcols = quantile_columns(backtest_frame)
    relative = "own" if method == "quantile" else "point"
    parts = []
    for _cut, fold in backtest_frame.groupby(CUTOFF, sort=True, observed=True):
        rest = backtest_frame[backtest_frame[CUTOFF] != _cut]
        has = fold[ID].isin(set(rest[ID]))
        if rest.empty or not has.any():
            parts.append(fold)
            continue
        offsets = calibration_offsets(rest[rest[ID].isin(set(fold[ID]))], quantiles, method, pool, profile)
        done = apply_conformal(fold[has], offsets, quantiles, relative=relative, profile=profile)
        parts.append(pd.concat([done[fold.columns], fold[~has]], ignore_index=True))
    out = pd.concat(parts, ignore_index=True) if parts else backtest_frame
    return repair_quantiles(out, qcols).sort_values([ID, CUTOFF, DS], ignore_index=True)


def apply_conformal(
    forecast: pd.DataFrame,
    residual_quantiles: pd.DataFrame,
    quantiles: Sequence[float],
    point_col: str = POINT,
    relative: str = "point",
    profile: IntervalProfile | None = None,
) -> pd.DataFrame:
    """``forecast`` with quantile columns ``point + offset`` from :func:`conformal_quantiles`
    (``relative="own"``: each quantile column ``+ offset``, for :func:`recalibration_offsets`).
    With ``profile`` (offsets of the scaled method) each offset is multiplied by the row's
    season profile value, ``point + offset x profile(unique_id, ds)``.

    Steps are counted per (``unique_id``[, ``model``][, ``cutoff``]); a step beyond the last one
    calibrated uses the last calibrated step's offsets. The point column is kept as is. Raises
    :class:`SeriesError` naming series with no residuals.
    """
    keys = [k for k in (ID, MODEL) if k in forecast.columns and k in residual_quantiles.columns]
    qcols = [quantile_col(q) for q in sorted(quantiles) if quantile_col(q) != point_col]
    offsets = residual_quantiles[[*keys, STEP, *qcols]]
    if offsets.duplicated([*keys, STEP]).any():
        raise ValueError(
            "residual quantiles hold several models per series; give the forecast a 'model' column "
            "or pass the residuals of one model"
        )
    last = offsets.groupby(keys, observed=True)[STEP].max().rename("_last").reset_index()
    own = {c: forecast[c].to_numpy(dtype="float64") for c in qcols} if relative == "own" else {}
    out = forecast.drop(columns=[c for c in qcols if c in forecast.columns])
    out[STEP] = horizon_step(out)
    out = out.merge(last, on=keys, how="left")
    missing = out["_last"].isna()
    if missing.any():
        ids = sorted(out.loc[missing, ID].astype(str).unique())
        raise SeriesError(f"no backtest residuals to build intervals for series {', '.join(ids[:10])}")
    out["_cap"] = np.minimum(out[STEP], out["_last"]).astype("int64")
    joined = out[[*keys, "_cap"]].merge(
        offsets.rename(columns={STEP: "_cap"}), on=[*keys, "_cap"], how="left"
    )
    scale = profile.scale(out) if profile is not None else 1.0
    for col in qcols:
        base = own[col] if relative == "own" else out[point_col].to_numpy()
        out[col] = base + joined[col].to_numpy() * scale
    ordered = quantile_columns(out)
    rest = [c for c in out.columns if c not in ordered and c not in (STEP, "_cap", "_last")]
    return out[rest + ordered]


def repair_quantiles(frame: pd.DataFrame, qcols: Sequence[str] | None = None) -> pd.DataFrame:
    """Sort the quantile columns row-wise so they are monotone in the quantile level (fixes crossings).

    Raises :class:`SeriesError` naming the series when a quantile value is NaN. (The models
    stage may have its own helper; this one serves evaluation.)
    """
    qcols = quantile_columns(frame) if qcols is None else sorted(qcols, key=quantile_from_col)
    values = frame[qcols].to_numpy(dtype="float64")
    nan = np.isnan(values).any(axis=1)
    if nan.any():
        ids = sorted(frame.loc[nan, ID].astype(str).unique()) if ID in frame.columns else []
        raise SeriesError(
            f"{int(nan.sum())} rows have NaN quantiles ({', '.join(qcols)}) for series {', '.join(ids[:10])}"
        )
    out = frame.copy()
    out[qcols] = np.sort(values, axis=1)
    return out
