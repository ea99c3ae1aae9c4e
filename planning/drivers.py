"""Business-driver model: resource usage explained by KPIs, and KPI growth scenarios.

Model, on daily means of one usage series and the KPIs::

    usage(day) = a + sum_k b_k * KPI_k(day) + noise,    b_k >= 0

``b_k`` is in usage units per KPI unit (e.g. cores per active user). The intercept ``a`` is
free; the non-negative slopes are found by NNLS on centred, standardised KPIs (centring makes
the free intercept exact: a = mean(usage) - sum_k b_k mean(KPI_k)). A KPI constant over the fit
window gets b_k = 0.

Scenario: a KPI growing by ``g_k`` (relative, e.g. 0.2 = +20%) by the horizon end, ramped
linearly in time from the last fitted day, adds ``b_k * level_k * g_k * ramp(ds)`` to usage,
where ``level_k`` is the KPI's mean over the last 7 fitted days. The growth is *on top of* the
base forecast (which already extrapolates the past trend).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from capplan.core.errors import CapplanError

from ._common import require_columns

LEVEL_DAYS = 7
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class DriverFit:
    """Fitted driver model of one usage series (see the module docstring)."""

    unique_id: str
    intercept: float
    coefficients: dict[str, float]  # usage unit per KPI unit
    kpi_level: dict[str, float]  # mean KPI over the last LEVEL_DAYS fitted days
    residual_std: float  # usage unit, ddof = number of parameters
    r2: float
    n_days: int
    last_day: pd.Timestamp = field(default=pd.NaT)


def daily_kpis(kpis: pd.DataFrame) -> pd.DataFrame:
    """KPIs as one column each, one row per day (their daily means): what a fit reads."""
    require_columns(kpis, ["kpi", "ds", "value"], "kpi frame")
    return kpis.assign(day=kpis["ds"].dt.floor("D")).pivot_table(
        index="day", columns="kpi", values="value", aggfunc="mean"
    )


def _daily_design(usage: pd.DataFrame, kpis: pd.DataFrame, wide: pd.DataFrame | None = None) -> pd.DataFrame:
    require_columns(usage, ["unique_id", "ds", "y"], "usage frame")
    ids = usage["unique_id"].unique()
    if len(ids) != 1:
        raise CapplanError(f"a driver model fits one usage series at a time, got {len(ids)}: {list(ids)[:5]}")
    y = usage.groupby(usage["ds"].dt.floor("D"))["y"].mean().rename("__y__")
    wide = daily_kpis(kpis) if wide is None else wide
    return wide.join(y, how="inner").dropna().sort_index()


def fit_driver_model(usage: pd.DataFrame, kpis: pd.DataFrame, wide: pd.DataFrame | None = None) -> DriverFit:
    """Fit usage ~ a + sum_k b_k KPI_k (b_k >= 0) on days where usage and every KPI are known.

    Raises :class:`CapplanError` with fewer than (number of KPIs + 2) aligned days. ``wide``:
    :func:`daily_kpis` of ``kpis`` when already made (fitting many series against the same KPIs).
    """
    data = _daily_design(usage, kpis, wide)
    names = [str(c) for c in data.columns if c != "__y__"]
    n, p = len(data), len(names)
    if n < p + 2:
        raise CapplanError(
            f"series {usage['unique_id'].iloc[0]!r}: driver model needs at least {p + 2} days with usage "
            f"and all KPIs ({', '.join(names)}), found {n}"
        )
    x = data[names].to_numpy(float)
    y = data["__y__"].to_numpy(float)
    mx, sx = x.mean(axis=0), x.std(axis=0)
    live = sx > 0
    beta = np.zeros(p)
    if live.any():
        z = (x[:, live] - mx[live]) / sx[live]
        beta_live, _ = nnls(z, y - y.mean())
        beta[live] = beta_live / sx[live]
    intercept = float(y.mean() - beta @ mx)
    resid = y - intercept - x @ beta
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0
    dof = max(n - int(live.sum()) - 1, 1)
    return DriverFit(
        unique_id=str(usage["unique_id"].iloc[0]),
        intercept=intercept,
        coefficients=dict(zip(names, map(float, beta), strict=True)),
        kpi_level=dict(zip(names, map(float, x[-LEVEL_DAYS:].mean(axis=0)), strict=True)),
        residual_std=float(np.sqrt(resid @ resid / dof)),
        r2=r2,
        n_days=n,
        last_day=data.index[-1],
    )


def apply_kpi_scenario(
    fit: DriverFit, kpi_growth: Mapping[str, float], base_forecast: pd.DataFrame
) -> pd.DataFrame:
    """Usage uplift attributable to each KPI's growth, per ds of the base forecast.

    ``base_forecast``: ``unique_id, ds`` (only ``fit.unique_id``'s rows are used). The ramp is
    (ds - last fitted day) / (last forecast ds - last fitted day), clipped to [0, 1], so the
    full growth applies at the horizon end. Returns ``unique_id, ds, kpi, growth, uplift``
    (usage unit), one row per ds and KPI in ``kpi_growth``; sum ``uplift`` over ``kpi`` for the
    total (see :func:`add_uplift`).
    """
    unknown = sorted(set(kpi_growth) - set(fit.coefficients))
    if unknown:
        raise CapplanError(
            f"scenario grows KPI(s) {', '.join(unknown)} that the driver model of {fit.unique_id!r} does not "
            f"use; known: {', '.join(sorted(fit.coefficients)) or 'none'}"
        )
    require_columns(base_forecast, ["unique_id", "ds"], "base forecast")
    ds = pd.DatetimeIndex(
        base_forecast.loc[base_forecast["unique_id"] == fit.unique_id, "ds"].unique()
    ).sort_values()
    span = (ds.max() - fit.last_day) / _DAY if len(ds) else 0.0
    ramp = np.clip(((ds - fit.last_day) / _DAY) / span, 0.0, 1.0) if span > 0 else np.ones(len(ds))
    parts = [
        pd.DataFrame(
            {
                "unique_id": fit.unique_id,
                "ds": ds,
                "kpi": kpi,
                "growth": float(g),
                "uplift": fit.coefficients[kpi] * fit.kpi_level[kpi] * float(g) * np.asarray(ramp),
            }
        )
        for kpi, g in kpi_growth.items()
    ]
    if not parts:
        return pd.DataFrame(columns=["unique_id", "ds", "kpi", "growth", "uplift"])
    return pd.concat(parts, ignore_index=True)


def add_uplift(forecast: pd.DataFrame, uplift: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Add the total uplift per ``unique_id, ds`` to each of ``columns`` (quantile columns).

    A common shift keeps quantiles monotone. Rows without uplift are unchanged.
    """
    total = uplift.groupby(["unique_id", "ds"], as_index=False)["uplift"].sum()
    out = forecast.merge(total, on=["unique_id", "ds"], how="left")
    add = out["uplift"].fillna(0.0).to_numpy()
    for c in columns:
        out[c] = out[c] + add
    return out.drop(columns="uplift")


def _lists(services, service: str) -> bool:
    """True when an event's ``services`` (list/array, or missing = all services) includes ``service``."""
    if services is None or (isinstance(services, float) and np.isnan(services)):
        return True
    names = [s.strip() for s in services.split(",")] if isinstance(services, str) else list(services)
    return "*" in names or service in names


@dataclass(frozen=True)
class EventUplift:
    kind: str
    ratio: float  # mean over events of (mean usage during event / mean usage in the baseline window)
    n_events: int
    ratios: tuple[float, ...]
    assumption: str


def learned_event_uplift(
    series: pd.DataFrame,
    events: pd.DataFrame,
    kind: str,
    *,
    service: str | None = None,
    baseline_days: int = 7,
) -> EventUplift:
    """Usage multiplier during past events of ``kind``, learned from one series.

    For each past event (``events``: ``name, kind, start, end``, optionally ``services``, a list;
    with ``service`` given, only events listing it) the ratio is mean ``y`` over [start, end] to
    mean ``y`` over [start - baseline_days, start). Events lacking data in either window are
    skipped; the result is the mean ratio, with an assumption string for the plan.
    """
    require_columns(series, ["ds", "y"], "usage series")
    require_columns(events, ["name", "kind", "start", "end"], "events")
    ev = events[events["kind"] == kind]
    if service is not None and "services" in ev.columns:
        ev = ev[ev["services"].map(lambda s: _lists(s, service))]
    ratios, used = [], []
    for row in ev.sort_values("start").itertuples(index=False):
        start, end = pd.Timestamp(row.start), pd.Timestamp(row.end)
        during = series.loc[(series["ds"] >= start) & (series["ds"] <= end), "y"]
        before = series.loc[(series["ds"] >= start - baseline_days * _DAY) & (series["ds"] < start), "y"]
        if during.empty or before.empty or before.mean() <= 0:
            continue
        ratios.append(float(during.mean() / before.mean()))
        used.append(str(row.name))
    if not ratios:
        raise CapplanError(
            f"no past event of kind {kind!r} has usage data during it and in the {baseline_days} days before"
        )
    ratio = float(np.mean(ratios))
    text = (
        f"{kind} events multiply usage by {ratio:.2f} (mean of {len(ratios)} past event(s): {', '.join(used)}; "
        f"range {min(ratios):.2f}-{max(ratios):.2f}; baseline = the {baseline_days} days before each event)"
    )
    return EventUplift(kind=kind, ratio=ratio, n_events=len(ratios), ratios=tuple(ratios), assumption=text)
