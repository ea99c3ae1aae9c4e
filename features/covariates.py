"""Covariates: events as future-known features, business KPIs as past-only features.

* :func:`event_features` -> ``unique_id, ds, event_<kind>`` (1.0 while an event of that kind
  touches the series' service, else 0.0) over each series' history *and* horizon: events come
  from a calendar, so they are known ahead.
* :func:`kpi_features` -> ``unique_id, ds, kpi_<name>`` with each KPI forward-filled onto every
  series' grid. KPIs are *past* covariates: the backtest truncates them at each cutoff, and
  models use only lagged values, so realised future KPIs are never seen.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from capplan.core.contracts import frequency_step

FUTURE_EVENT_KINDS = ("sale", "holiday", "campaign", "launch", "maintenance")


def _grid(df: pd.DataFrame, freq_of: Mapping[str, str], horizon: int) -> pd.DataFrame:
    """Each series' grid from its first observation to ``horizon`` steps past its last."""
    parts = []
    for uid, g in df.groupby("unique_id", observed=True):
        step = frequency_step(freq_of[uid])
        first, last = g["ds"].min(), g["ds"].max()
        n = int((last - first) / step) + 1 + horizon
        parts.append(
            pd.DataFrame({"unique_id": uid, "ds": pd.date_range(first, periods=n, freq=freq_of[uid])})
        )
    return pd.concat(parts, ignore_index=True)


def event_features(
    df: pd.DataFrame, series: pd.DataFrame, events: pd.DataFrame, freq_of: Mapping[str, str], horizon: int
) -> pd.DataFrame | None:
    """Indicator columns per future-known event kind, for history plus ``horizon`` steps."""
    ev = events[events["kind"].isin(FUTURE_EVENT_KINDS)] if len(events) else events
    if ev is None or ev.empty:
        return None
    grid = _grid(df, freq_of, horizon)
    service_of = dict(zip(series["unique_id"], series["service"], strict=True))
    svc = grid["unique_id"].map(service_of).to_numpy()
    ds = grid["ds"].to_numpy()
    cols = {}
    for kind in sorted(ev["kind"].unique()):
        flag = np.zeros(len(grid))
        for e in ev[ev["kind"] == kind].itertuples(index=False):
            services = list(e.services)
            on = (ds >= np.datetime64(e.start)) & (ds < np.datetime64(e.end))
            if "*" not in services:
                on &= np.isin(svc, services)
            flag[on] = 1.0
        cols[f"event_{kind}"] = flag
    return pd.concat([grid, pd.DataFrame(cols)], axis=1)


def kpi_features(df: pd.DataFrame, kpis: pd.DataFrame, freq_of: Mapping[str, str]) -> pd.DataFrame | None:
    """Each KPI forward-filled onto every series' historical grid (past covariates)."""
    if kpis is None or kpis.empty:
        return None
    wide = kpis.pivot_table(index="ds", columns="kpi", values="value", aggfunc="last").sort_index()
    wide.columns = [f"kpi_{c}" for c in wide.columns]
    parts = []
    for uid, g in df.groupby("unique_id", observed=True):
        idx = pd.date_range(g["ds"].min(), g["ds"].max(), freq=freq_of[uid])
        w = wide.reindex(wide.index.union(idx)).ffill().bfill().reindex(idx)
        parts.append(w.reset_index(names="ds").assign(unique_id=uid))
    out = pd.concat(parts, ignore_index=True)
    return out[["unique_id", "ds", *wide.columns]]
