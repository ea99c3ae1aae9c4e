"""Forecast-versus-actual ledger: score published forecasts once their actuals arrive.

Pure functions over frames; storing the ledger is the pipelines' job.

Invariants:

* A published forecast frame has ``forecast_id, run_id, created_at, cutoff, unique_id, model, ds``
  and its quantile columns; one ``forecast_id`` is one vintage (one publication), ``run_id`` the
  training run of the champions that made it (several vintages share a run). A frame without
  ``forecast_id`` counts each ``run_id`` as one vintage.
* The horizon step of a row is its rank by ``ds`` within (``forecast_id``, ``unique_id``, ``model``),
  counted over the *published* rows, so a missing actual does not shift later steps.
* Only rows with an actual are scored; ``n`` says how many. MASE uses the scale given per
  series (the in-sample seasonal naive MAE up to the forecast's cutoff, from
  :func:`capplan.evaluation.metrics.seasonal_scale`).
* ``coverage`` is of the widest interval (lowest to highest quantile column);
  ``coverage_nominal`` is its nominal level; ``pinball`` is the mean pinball loss over all
  quantile columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import CUTOFF, DS, ID, MODEL, Y, quantile_from_col

from .backtest import STEP, horizon_step, quantile_columns
from .metrics import SCALE_MAE, coverage, mae, mase, pinball, score, smape

FORECAST_ID = "forecast_id"
RUN_ID = "run_id"
CREATED_AT = "created_at"
VINTAGE_KEYS = (FORECAST_ID, RUN_ID, CREATED_AT, CUTOFF, ID, MODEL)


def _with_vintage(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``forecast_id`` (its ``run_id`` when it has none: one vintage per run)."""
    if FORECAST_ID in frame.columns or RUN_ID not in frame.columns:
        return frame
    return frame.assign(**{FORECAST_ID: frame[RUN_ID]})


def score_forecasts(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    scale: pd.DataFrame,
    horizon_buckets: Sequence[tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Accuracy per vintage: ``forecast_id, run_id, created_at, cutoff, unique_id, model[, horizon], n, mae, smape,
    mase, pinball, coverage, coverage_nominal``.

    ``scale`` has ``unique_id, scale_mae`` (and ``cutoff`` to match per vintage). Series with no
    actuals yet are absent from the result.
    """
    forecasts = _with_vintage(forecasts)
    missing = [c for c in (*VINTAGE_KEYS, DS) if c not in forecasts.columns]
    if missing:
        raise KeyError(f"published forecasts lack columns {missing}; have {list(forecasts.columns)}")
    qcols = quantile_columns(forecasts)
    if not qcols:
        raise KeyError("published forecasts have no quantile columns (p10, p50, ...)")
    frame = forecasts.copy()
    frame[STEP] = horizon_step(frame, keys=(FORECAST_ID, ID, MODEL))
    frame = frame.merge(actuals[[ID, DS, Y]], on=[ID, DS], how="inner")
    keys = [ID, CUTOFF] if CUTOFF in scale.columns else [ID]
    frame = frame.merge(scale[[*keys, SCALE_MAE]], on=keys, how="left")
    qs = [quantile_from_col(c) for c in qcols]
    lo, hi = qs[0], qs[-1]
    metrics = [mae, smape, mase, *(pinball(q) for q in qs)]
    if lo < hi:
        metrics.append(coverage(lo, hi))
    out = score(frame, metrics, VINTAGE_KEYS, horizon_buckets)
    pin_cols = [f"pinball_{c}" for c in qcols]
    out["pinball"] = out[pin_cols].mean(axis=1)
    out = out.drop(columns=pin_cols)
    if lo < hi:
        out = out.rename(columns={f"coverage_{qcols[0]}_{qcols[-1]}": "coverage"})
        out["coverage_nominal"] = hi - lo
    else:
        out["coverage"] = np.nan
        out["coverage_nominal"] = np.nan
    return out


def flag_degradation(
    accuracy: pd.DataFrame,
    threshold: float = 0.25,
    metric: str = "mase",
    reference: pd.DataFrame | None = None,
    by: Sequence[str] = (ID,),
) -> pd.DataFrame:
    """Per series: did the latest vintage's error worsen by more than ``threshold`` (relative)?

    The latest vintage is the one with the greatest ``created_at``; its error is compared with
    the median over the earlier vintages, or with ``reference[metric]`` (e.g. the backtest
    MASE; keyed by ``by``) when given. Bucketed accuracy is pooled (``n``-weighted mean, exact
    for mean-based metrics) first. Returns ``by, forecast_id, run_id, created_at, <metric>, reference,
    change, degraded, recommendation``. With ``by=("unique_id",)`` each vintage must hold one
    model per series (the published champion).
    """
    by = list(by)
    pooled = _pool_vintages(_with_vintage(accuracy), metric, by)
    pooled = pooled.sort_values([*by, CREATED_AT, FORECAST_ID], kind="stable")
    latest = pooled.groupby(by, observed=True).tail(1)
    earlier = pooled.drop(index=latest.index)
    if reference is None:
        ref = earlier.groupby(by, observed=True)[metric].median().rename("reference").reset_index()
        source = "median of earlier vintages"
    else:
        ref = reference[[*by, metric]].rename(columns={metric: "reference"})
        source = "backtest"
    out = latest.merge(ref, on=by, how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["change"] = out[metric] / out["reference"] - 1.0
    out["degraded"] = (out["change"] > threshold).fillna(False).astype(bool)
    out["recommendation"] = _recommend(out, metric, threshold, source)
    return out[
        [*by, FORECAST_ID, RUN_ID, CREATED_AT, metric, "reference", "change", "degraded", "recommendation"]
    ].reset_index(drop=True)


def _pool_vintages(accuracy: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    keys = [*by, FORECAST_ID, RUN_ID, CREATED_AT]
    if MODEL not in by and MODEL in accuracy.columns:
        models = accuracy.groupby(keys, observed=True)[MODEL].nunique()
        if (models > 1).any():
            raise ValueError(
                "accuracy holds several models per series and vintage; pass by=('unique_id', 'model')"
            )
    frame = accuracy.assign(_w=accuracy["n"] * accuracy[metric])
    sums = frame.groupby(keys, observed=True)[["_w", "n"]].sum(skipna=False)
    return (sums["_w"] / sums["n"]).rename(metric).reset_index()


def _recommend(out: pd.DataFrame, metric: str, threshold: float, source: str) -> pd.Series:
    name = metric.upper()
    value = out[metric].map(lambda v: f"{v:.3g}")
    ref = out["reference"].map(lambda v: f"{v:.3g}")
    change = out["change"].map(lambda c: f"{c:+.0%}")
    detail = f"{name} " + value + " vs " + ref + f" ({source}, " + change + ")"
    flagged = "retrain recommended: " + detail + f", worse by more than {threshold:.0%}"
    ok = "ok: " + detail
    no_ref = pd.Series(f"no reference to compare with ({source} missing)", index=out.index)
    return flagged.where(out["degraded"], ok.where(out["reference"].notna() & out[metric].notna(), no_ref))


HEALTH_COLUMNS = [
    "unique_id",
    "forecast_id",
    "run_id",
    "created_at",
    "mase",
    "reference",
    "change",
    "degraded",
    "recommendation",
]


def score_vintages(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    frequencies: dict[str, str],
    reference: pd.DataFrame,
    threshold: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every published vintage scored against the actuals that arrived, and each series' health.

    ``actuals`` and ``frequencies``: observations at the planning frequency; ``reference``:
    backtest MASE per ``run_id, unique_id, model`` (a vintage is compared with the backtest of
    the run that published it). Returns ``(accuracy, health)``; both empty when no actual has
    arrived for any published forecast yet.
    """
    from capplan.core.contracts import seasonalities

    from .metrics import seasonal_scale

    arrived = forecasts[[ID, DS]].merge(actuals[[ID, DS]], on=[ID, DS]).shape[0]
    if not arrived:
        return pd.DataFrame(), pd.DataFrame(columns=HEALTH_COLUMNS)
    seasons = {u: seasonalities(f)[0] for u, f in frequencies.items()}
    cutoffs = forecasts[[ID, CUTOFF]].drop_duplicates()
    scales = []
    for season in sorted(set(seasons.values())):
        uids = [u for u, s in seasons.items() if s == season]
        sub = cutoffs[cutoffs[ID].isin(uids)]
        if len(sub):
            scales.append(seasonal_scale(actuals[actuals[ID].isin(uids)], season, sub))
    acc = score_forecasts(forecasts, actuals, pd.concat(scales, ignore_index=True))
    latest = acc.sort_values(CREATED_AT).groupby(ID).tail(1)[[ID, RUN_ID, MODEL]]
    ref = (
        latest.merge(reference, on=[ID, RUN_ID, MODEL], how="left")[[ID, "mase"]] if len(reference) else None
    )
    return acc, flag_degradation(acc, threshold, reference=ref)


def retrain_due(
    health: pd.DataFrame | None,
    champion_run_id: str | None,
    trained_at: pd.Timestamp | None,
    now: pd.Timestamp,
    max_age: pd.Timedelta,
) -> tuple[bool, str]:
    """Whether the learning loop retrains, and why, in one line.

    Retrain when no champion is registered, when the champions are older than ``max_age``, or
    when a series whose latest scored vintage came from the current champions (``run_id``)
    degraded; otherwise keep them and only re-forecast.
    """
    if not champion_run_id or trained_at is None:
        return True, "no champion registered yet"
    age = now - trained_at
    if age > max_age:
        return True, f"champions are {_days(age)} old (retrain after {_days(max_age)})"
    mine = health[health[RUN_ID] == champion_run_id] if health is not None and len(health) else None
    bad = mine[mine["degraded"].astype(bool)] if mine is not None else None
    if bad is not None and len(bad):
        ids = ", ".join(bad[ID].astype(str).head(5)) + (" ..." if len(bad) > 5 else "")
        return True, f"{len(bad)} series degraded beyond the threshold: {ids}"
    return False, f"champions healthy and {_days(age)} old (retrain after {_days(max_age)}): re-forecast only"


def _days(delta: pd.Timedelta) -> str:
    days = delta / pd.Timedelta(days=1)
    return f"{days:.1f} days" if days >= 1 else f"{delta / pd.Timedelta(hours=1):.1f} hours"


WEEK_COLUMNS = [
    "week",
    "vintages",
    "series",
    "n",
    "mase",
    "coverage",
    "coverage_nominal",
    "run_id",
    "champion_change",
]


def accuracy_by_week(accuracy: pd.DataFrame) -> pd.DataFrame:
    """ "Is it getting better?": published accuracy per week of forecast vintage.

    ``accuracy``: :func:`score_forecasts` rows (other rows, e.g. backtest scores without a
    ``created_at``, are ignored). A vintage belongs to the week (Monday 00:00) of its forecast
    origin, its latest ``cutoff`` (so a vintage published later ``--as-of`` a past date lands in
    that week), or of its ``created_at`` when it has no cutoff. Per week: ``vintages`` and ``series`` scored, ``n`` actuals, ``mase`` and
    ``coverage`` as ``n``-weighted means over the week's (vintage, series) rows (NaN rows left
    out), ``coverage_nominal``, ``run_id`` (the training run of the week's latest vintage: whose
    champions published it) and ``champion_change``: True when that run differs from the
    previous week's (new champions, or a rollback); False in the first week.
    """
    need = [CREATED_AT, RUN_ID, "n", "mase"]
    if accuracy is None or accuracy.empty or any(c not in accuracy for c in need):
        return pd.DataFrame(columns=WEEK_COLUMNS)
    acc = _with_vintage(accuracy[accuracy[CREATED_AT].notna()])
    if acc.empty:
        return pd.DataFrame(columns=WEEK_COLUMNS)
    origin = acc[CUTOFF] if CUTOFF in acc else pd.Series(pd.NaT, index=acc.index)
    origin = pd.to_datetime(origin).groupby(acc[FORECAST_ID]).transform("max")
    origin = origin.fillna(pd.to_datetime(acc[CREATED_AT]))
    acc = acc.assign(week=origin.dt.to_period("W-SUN").dt.start_time)
    rows = []
    for week, g in acc.sort_values([CREATED_AT, FORECAST_ID], kind="stable").groupby("week", sort=True):
        row = {
            "week": week,
            "vintages": g[FORECAST_ID].nunique(),
            "series": g[ID].nunique(),
            "n": int(g["n"].sum()),
        }
        for col in ("mase", "coverage", "coverage_nominal"):
            vals = pd.to_numeric(g[col], errors="coerce") if col in g else pd.Series(np.nan, index=g.index)
            ok = vals.notna() & (g["n"] > 0)
            row[col] = float(np.average(vals[ok], weights=g["n"][ok])) if ok.any() else np.nan
        row[RUN_ID] = g[RUN_ID].iloc[-1]
        rows.append(row)
    out = pd.DataFrame(rows, columns=WEEK_COLUMNS[:-1])
    out["champion_change"] = out[RUN_ID].ne(out[RUN_ID].shift()) & (out.index > 0)
    return out


def degraded_lines(health: pd.DataFrame | None) -> list[str]:
    """One line per series the ledger flagged as degraded, with its recommendation."""
    if health is None or not len(health):
        return []
    bad = health[health["degraded"].astype(bool)]
    return [f"{r.unique_id} degraded: {r.recommendation}" for r in bad.itertuples()]


def log_degraded(health: pd.DataFrame | None) -> list[str]:
    """:func:`degraded_lines`, each logged as a warning (``capplan.refresh``; the CLI prints them)."""
    import logging

    for line in (lines := degraded_lines(health)):
        logging.getLogger("capplan.refresh").warning(line)
    return lines
