"""The ensemble weighted by backtest skill per series: pure functions over backtest frames.

The rule, per series: each member's weight is ``1 / MASE**4`` (:data:`POWER`) of its backtest on that
series, normalised to sum 1; a member whose MASE is not finite there (it failed, or left no
backtest rows) gets 0, and so does a member worse than seasonal naive there, unless every member
is (a series without a finite seasonal naive MASE excludes no one). Members with MASE 0 share the
weight. The ensemble forecasts every quantile column as the weighted mean of its members'.

Invariants:

* Weights are a frame ``unique_id, model, weight`` (``+ cutoff`` for a backtest's): per series
  (and cutoff) the weights are >= 0 and sum to 1; a series with no usable member has no rows.
* The ensemble's backtest is honest: the weights used on the fold at cutoff ``c`` come from the
  members' errors on the other folds only (leave one cutoff out), so changing the actuals of
  fold ``c`` leaves the weights used on it unchanged. With a single fold there is no other fold:
  the members share equally. The published forecast uses weights from every fold.
* Where a member has no row (a step, a series), the remaining members' weights are renormalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import CUTOFF, DS, ID, MODEL, Y

from .backtest import POINT, repair_quantiles
from .metrics import SCALE_MAE, seasonal_scale

BASELINE = "seasonal_naive"
# 1/MASE**4: on M4 Hourly (3 folds) the ensemble's leave-one-fold-out backtest MASE was 0.835, 0.800,
# 0.785, 0.788 and 0.796 with powers 1, 2, 4, 8 and 16 (README, Performance)
POWER = 4.0
WEIGHT = "weight"


def skill_weights(
    mase: pd.DataFrame, members: Sequence[str], baseline: str = BASELINE, power: float = POWER
) -> pd.DataFrame:
    """Per series, the members' weights from their MASE (``unique_id, model, mase``; the
    ``baseline``'s rows say what "worse than seasonal naive" means). See the module rule.
    Returns ``unique_id, model, weight`` for every member with a finite MASE on the series."""
    m = mase[mase[MODEL].isin(list(members))][[ID, MODEL, "mase"]].copy()
    m = m[np.isfinite(m["mase"].to_numpy(dtype="float64"))]
    base = mase.loc[mase[MODEL] == baseline].set_index(ID)["mase"]
    m["_base"] = m[ID].map(base).astype("float64")
    worse = m["mase"] > m["_base"]  # False where the baseline's MASE is NaN
    all_worse = worse.groupby(m[ID], observed=True).transform("all")
    m = m[~worse | all_worse]
    value = m["mase"].to_numpy(dtype="float64")
    zero = value <= 0
    has_zero = pd.Series(zero, index=m.index).groupby(m[ID], observed=True).transform("any").to_numpy()
    with np.errstate(divide="ignore"):
        raw = np.where(has_zero, zero.astype("float64"), 1.0 / np.power(np.where(zero, 1.0, value), power))
    m[WEIGHT] = raw / pd.Series(raw, index=m.index).groupby(m[ID], observed=True).transform("sum").to_numpy()
    return m[[ID, MODEL, WEIGHT]].sort_values([ID, MODEL], ignore_index=True)


def fold_errors(backtests: Mapping[str, pd.DataFrame], df: pd.DataFrame, season: int) -> pd.DataFrame:
    """Per ``unique_id, model, cutoff``: the sum of the scaled absolute errors of the point
    forecast (``err``, as MASE scales them: each fold by the history up to its cutoff) and the
    rows scored (``n``); a row whose error is not finite makes its fold's ``err`` NaN."""
    bt = pd.concat([b[[ID, MODEL, CUTOFF, Y, POINT]] for b in backtests.values()], ignore_index=True)
    scales = seasonal_scale(df, season, bt[[ID, CUTOFF]].drop_duplicates())
    bt = bt.merge(scales[[ID, CUTOFF, SCALE_MAE]], on=[ID, CUTOFF], how="left")
    bt["err"] = (bt[Y] - bt[POINT]).abs() / bt[SCALE_MAE]
    bt["bad"] = ~np.isfinite(bt["err"].to_numpy(dtype="float64"))
    out = bt.groupby([ID, MODEL, CUTOFF], observed=True, sort=True).agg(
        err=("err", "sum"), n=("err", "size"), bad=("bad", "any")
    )
    out["err"] = out["err"].where(~out["bad"])
    return out.drop(columns="bad").reset_index()


def series_mase(errors: pd.DataFrame) -> pd.DataFrame:
    """MASE per ``unique_id, model`` over the folds of ``errors`` (NaN if any fold's is)."""
    g = errors.assign(bad=errors["err"].isna()).groupby([ID, MODEL], observed=True)
    total = g.agg(err=("err", "sum"), n=("n", "sum"), bad=("bad", "any"))
    mase = (total["err"] / total["n"]).where(~total["bad"] & (total["n"] > 0))
    return mase.rename("mase").reset_index()


def published_weights(errors: pd.DataFrame, members: Sequence[str], power: float = POWER) -> pd.DataFrame:
    """The weights of the published forecast: MASE over every fold (``errors`` of :func:`fold_errors`)."""
    return skill_weights(series_mase(errors), members, power=power)


def fold_weights(errors: pd.DataFrame, members: Sequence[str], power: float = POWER) -> pd.DataFrame:
    """The weights used on each backtest fold: ``unique_id, cutoff, model, weight``, each fold's from
    the members' errors on the other folds only (equal weights where a series has no other fold)."""
    parts = []
    for cut in sorted(errors[CUTOFF].unique()):
        here = errors[errors[CUTOFF] == cut]
        rest = errors[(errors[CUTOFF] != cut) & errors[ID].isin(set(here[ID]))]
        w = skill_weights(series_mase(rest), members, power=power) if len(rest) else rest.iloc[:0]
        lone = sorted(set(here[ID]) - set(rest[ID]))
        if lone:  # no other fold to learn from: the members present share equally
            eq = here[here[ID].isin(lone) & here[MODEL].isin(list(members))][[ID, MODEL]].drop_duplicates()
            eq[WEIGHT] = 1.0 / eq.groupby(ID, observed=True)[MODEL].transform("size")
            w = pd.concat([w, eq], ignore_index=True)
        parts.append(w.assign(**{CUTOFF: cut}))
    cols = [ID, CUTOFF, MODEL, WEIGHT]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def weighted_mean(
    frames: Sequence[pd.DataFrame], weights: pd.DataFrame, qcols: Sequence[str]
) -> pd.DataFrame:
    """Each quantile column as the weighted mean of the member ``frames`` (each with a ``model``
    column) on ``unique_id, ds`` (and ``cutoff`` when ``weights`` has it); where a member has no
    row or a NaN, the others' weights are renormalised. ``y`` (if present) is carried."""
    keys = [k for k in (ID, CUTOFF) if k in weights.columns]
    stacked = pd.concat(frames, ignore_index=True).merge(weights[[*keys, MODEL, WEIGHT]], on=[*keys, MODEL])
    stacked = stacked[stacked[WEIGHT] > 0]
    stacked = stacked[np.isfinite(stacked[list(qcols)].to_numpy(dtype="float64")).all(axis=1)]
    w = stacked[WEIGHT].to_numpy(dtype="float64")
    prod = pd.DataFrame(stacked[list(qcols)].to_numpy(dtype="float64") * w[:, None], columns=list(qcols))
    prod[WEIGHT] = w
    group = [stacked[k].to_numpy() for k in (*keys, DS)]
    summed = prod.groupby(group, sort=True).sum()
    summed.index.names = [*keys, DS]
    out = summed[list(qcols)].div(summed[WEIGHT], axis=0).reset_index()
    if Y in stacked.columns:
        y = stacked.groupby([*keys, DS], sort=True, observed=True)[Y].first().reset_index()
        out = out.merge(y, on=[*keys, DS])
    return repair_quantiles(out, list(qcols))


def ensemble_backtest(
    backtests: Mapping[str, pd.DataFrame], weights: pd.DataFrame, qcols: Sequence[str]
) -> pd.DataFrame:
    """The ensemble's backtest from its members' backtests and :func:`fold_weights` (no refit)."""
    members = sorted(set(weights[MODEL]))
    out = weighted_mean([backtests[m] for m in members], weights, qcols).assign(**{MODEL: "ensemble"})
    return out[[ID, MODEL, CUTOFF, DS, Y, *qcols]].sort_values([ID, CUTOFF, DS], ignore_index=True)


def describe(weights: pd.DataFrame, uids: Sequence[str]) -> pd.Series:
    """unique_id -> ``"weights lightgbm 0.71, theta 0.29"`` (members with weight > 0, largest first)."""
    w = weights[weights[ID].isin(list(uids)) & (weights[WEIGHT] > 0)]
    w = w.sort_values([ID, WEIGHT, MODEL], ascending=[True, False, True])
    text = w[MODEL].astype(str) + " " + w[WEIGHT].map(lambda v: f"{v:.2f}")
    return "weights " + text.groupby(w[ID], observed=True).agg(", ".join)
