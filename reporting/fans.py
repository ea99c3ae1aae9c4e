"""Fan chart data: which services to chart (shortest runway first) and each one's forecast fan.

Also :func:`planned_demand`, the presentation join that gives every forecast row the expected
scenario's planned demand (what the fans draw next to the forecast quantiles).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan.core.contracts import quantile_col, quantile_from_col

from .specs import MAX_CHARTS, PLANNED, is_missing

REQUIRED = "required_capacity"  # forecasts column: planned demand plus headroom (expected scenario)
CAP = "max_instances_capacity"  # forecasts column: capacity of max_instances (expected scenario)

_QUANTILE = re.compile(r"^p\d+(\.\d+)?$")


def runway_scenario(runway: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """The rows of ``scenario`` (else the first scenario's; all rows without a scenario column)."""
    if "scenario" not in runway or runway.empty:
        return runway
    names = list(dict.fromkeys(runway["scenario"]))
    chosen = scenario if scenario in names else names[0]
    return runway[runway["scenario"] == chosen]


def constrained(
    runway: pd.DataFrame, forecasts: pd.DataFrame, scenario: str, n: int = MAX_CHARTS
) -> list[tuple]:
    """Up to ``n`` ``(service, resource)`` with the shortest runway in ``scenario``.

    Sorted by ``days_left`` (missing last), one resource per service (its shortest). Without a
    usable runway, the first services of ``forecasts`` with resource ``None``.
    """
    rows = runway_scenario(runway, scenario)
    if {"service", "days_left"} <= set(rows.columns) and not rows.empty:
        ordered = rows.assign(_d=pd.to_numeric(rows["days_left"], errors="coerce")).sort_values(
            "_d", kind="stable", na_position="last"
        )
        ordered = ordered.drop_duplicates("service")
        resources = ordered["resource"] if "resource" in ordered else [None] * len(ordered)
        return list(zip(ordered["service"], resources, strict=True))[:n]
    if "service" in forecasts:
        return [(s, None) for s in list(dict.fromkeys(forecasts["service"]))[:n]]
    return []


def fan_columns(columns: Iterable[str]) -> tuple[str, str, str] | None:
    """``(lo, mid, hi)`` quantile columns for a fan: p10/p50/p90 when present, else the outer ones."""
    qs = sorted((quantile_from_col(c), c) for c in columns if _QUANTILE.match(str(c)))
    if not qs:
        return None
    names = [c for _, c in qs]
    lo = quantile_col(0.1) if quantile_col(0.1) in names else names[0]
    hi = quantile_col(0.9) if quantile_col(0.9) in names else names[-1]
    mid = quantile_col(0.5) if quantile_col(0.5) in names else min(qs, key=lambda t: abs(t[0] - 0.5))[1]
    return lo, mid, hi


def _pick_metric(metrics: Sequence[str], resource: object) -> str:
    if resource is not None and not is_missing(resource):
        res = str(resource).lower()
        for test in (
            lambda m: m.lower() == res,
            lambda m: m.lower().startswith(res),
            lambda m: res in m.lower(),
        ):
            hit = [m for m in metrics if test(str(m))]
            if hit:
                return hit[0]
    return metrics[0]


@dataclass(frozen=True)
class Fan:
    """Data of one fan chart: ``frame`` has ``ts``, ``actual``, lo, mid, hi, ``capacity`` and
    ``planned_demand`` (the last three when present: the plan's demand, forecast plus events and
    drivers, which is what runway and sizing use)."""

    service: object
    metric: object
    title: str
    frame: pd.DataFrame
    lo: str
    mid: str
    hi: str
    capacity: str | None
    actual: str | None
    planned: str | None = None
    unit: str | None = None  # the metric's unit (axis title)
    required: str | None = None  # the required capacity column (instances_uncapped's)
    cap: str | None = None  # the max_instances cap column


def fan_data(forecasts: pd.DataFrame, history: pd.DataFrame | None, service, resource) -> Fan | None:
    """The fan of ``service``: its metric matching ``resource`` (else its first), one model.

    The model with most rows is used (ties: first seen); one row per ``ts`` (first kept). History
    keeps at most twice as many points as the forecast, before the forecast's first ``ts``.
    """
    cols = fan_columns(forecasts.columns)
    if cols is None or not {"service", "ts"} <= set(forecasts.columns):
        return None
    rows = forecasts[forecasts["service"] == service]
    if rows.empty:
        return None
    metric = _pick_metric(list(dict.fromkeys(rows["metric"])), resource) if "metric" in rows else None
    if metric is not None:
        rows = rows[rows["metric"] == metric]
    if "model" in rows and rows["model"].nunique() > 1:
        counts = rows["model"].value_counts(sort=False)
        rows = rows[rows["model"] == counts.idxmax()]
    capacity, planned, required, cap = (
        c if c in rows and rows[c].notna().any() else None for c in ("capacity", PLANNED, REQUIRED, CAP)
    )
    keep = ["ts", *dict.fromkeys(cols), *(c for c in (capacity, planned, required, cap) if c)]
    frame = rows[keep].assign(ts=_ns(rows["ts"])).drop_duplicates("ts").sort_values("ts")
    actual = None
    past = _history_rows(history, service, metric, frame["ts"].min(), 2 * len(frame))
    if past is not None:
        frame = past.merge(frame, on="ts", how="outer").sort_values("ts", ignore_index=True)
        actual = "actual"
    title = f"{service} · {metric}" if metric is not None else str(service)
    unit = rows["unit"].dropna().iloc[0] if "unit" in rows and rows["unit"].notna().any() else None
    frame = frame.reset_index(drop=True)
    return Fan(service, metric, title, frame, *cols, capacity, actual, planned, unit, required, cap)


def _ns(values: pd.Series) -> pd.Series:
    """Timestamps at one resolution, so frames from different sources merge on them."""
    return pd.to_datetime(values).astype("datetime64[ns]")


def _history_rows(history, service, metric, start, limit: int) -> pd.DataFrame | None:
    if history is None or history.empty or not {"service", "ts", "y"} <= set(history.columns):
        return None
    rows = history[history["service"] == service]
    if metric is not None and "metric" in rows:
        rows = rows[rows["metric"] == metric]
    rows = rows.assign(ts=_ns(rows["ts"]))
    rows = rows[rows["ts"] < start].sort_values("ts").drop_duplicates("ts").tail(max(limit, 1))
    if rows.empty:
        return None
    return rows[["ts", "y"]].rename(columns={"y": "actual"})


def fans(tables: dict[str, pd.DataFrame], scenario: str, n: int) -> list[Fan]:
    """The fans of the ``n`` most constrained services in ``scenario`` (prepared tables)."""
    out = []
    for service, resource in constrained(tables["runway"], tables["forecasts"], scenario, n):
        fan = fan_data(tables["forecasts"], tables["history"], service, resource)
        if fan is not None:
            out.append(fan)
    return out


def planned_capacity(
    fc: pd.DataFrame, plan: pd.DataFrame, scenario: str, headroom: float
) -> dict[str, np.ndarray]:
    """Per forecast row, the ``scenario``'s :data:`REQUIRED` and :data:`CAP` capacities.

    Required: the usable capacity the planned demand needs, ``demand x (1 + headroom)`` (before
    redundancy). Cap: usable capacity per instance today (``usable_capacity / instances``, in the
    resource's unit, at target utilization) times ``max_instances``, linear in the count (an upper
    bound where a USL fit says instances add less). NaN where the plan has no row or no instances.
    """
    nothing = {REQUIRED: np.full(len(fc), np.nan), CAP: np.full(len(fc), np.nan)}
    if plan.empty or not {"demand", "usable_capacity", "instances", "max_instances"} <= set(plan.columns):
        return nothing
    instances = pd.to_numeric(plan["instances"], errors="coerce")
    per = (pd.to_numeric(plan["usable_capacity"], errors="coerce") / instances).where(instances > 0)
    values = {
        REQUIRED: pd.to_numeric(plan["demand"], errors="coerce") * (1.0 + headroom),
        CAP: per * pd.to_numeric(plan["max_instances"], errors="coerce"),
    }
    out = {}
    for name, value in values.items():
        value = value.where(np.isfinite(value.to_numpy(dtype=float, na_value=np.nan)))
        out[name] = planned_demand(fc, plan.assign(demand=value), scenario)
    return out


def planned_demand(fc: pd.DataFrame, plan: pd.DataFrame, scenario: str) -> np.ndarray:
    """Per forecast row (``service, resource, ds``), the ``scenario``'s planned demand.

    ``plan``: the planning rows ``service, resource, scenario, ds, demand``, one demand per
    service, resource and planning period (the forecast's quantile with events and business
    drivers applied, what runway and sizing use). Each forecast timestamp takes the demand of the
    period that contains it; NaN outside the plan.
    """
    out = np.full(len(fc), np.nan)
    rows = plan[plan["scenario"] == scenario] if len(plan) else plan
    if rows.empty or fc.empty:
        return out
    periods = np.sort(rows["ds"].unique())
    step = pd.Timedelta(np.median(np.diff(periods))) if len(periods) > 1 else pd.Timedelta(days=1)
    left = fc[["service", "resource", "ds"]].assign(_row=np.arange(len(fc)))
    left = left.assign(ds=left["ds"].astype("datetime64[ns]")).sort_values("ds", kind="stable")
    right = rows[["service", "resource", "ds", "demand"]].assign(ds=rows["ds"].astype("datetime64[ns]"))
    merged = pd.merge_asof(
        left,
        right.sort_values("ds", kind="stable"),
        on="ds",
        by=["service", "resource"],
        direction="backward",
        tolerance=step - pd.Timedelta(1, "ns"),
    )
    out[merged["_row"].to_numpy()] = merged["demand"].to_numpy(dtype=float)
    return out
