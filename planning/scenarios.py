"""Scenario demand: forecast quantiles turned into resource demand under business assumptions.

Pure functions over frames. A scenario (``capplan.core.config.ScenarioConfig``) picks a
forecast quantile and adds assumptions:

* ``demand_multiplier``: every quantile column x the multiplier;
* ``kpi_growth``: KPI growth moved into resource demand by each series' fitted driver model
  (see :mod:`.drivers`), added as a common shift so quantiles stay ordered;
* events in the horizon: during an event window demand is at least ``baseline x multiplier``,
  where ``baseline`` is the same hour one week earlier (or the value itself when that is
  outside the horizon) and the multiplier is the scenario's ``event_uplift[name]``, else the
  event's ``expected_uplift``, else the uplift learned from past events of the same kind.
  ``max(forecast, baseline x m)`` avoids counting twice an effect the model already forecast.
  **Storage is not traffic**: a stated uplift (scenario or event) is a traffic multiplier and
  applies only to traffic-like series: kind ``rate`` or ``counter``, or a resource in
  :data:`TRAFFIC_RESOURCES` (rps, network, cpu). Other gauges (memory, storage) move only by the
  uplift learned for that very series from past events (last year's Black Friday moved storage
  by under 15%, not x6), and not at all when nothing was learned.

Demand of several regions of one service and resource is summed per quantile (conservative:
it assumes the regions peak together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import quantile_col, quantile_from_col

WEEK = pd.Timedelta(days=7)
TRAFFIC_RESOURCES = ("rps", "network", "cpu")  # what an event's traffic multiplier moves


def traffic_series(series: pd.DataFrame, resource_of: Mapping[str, str | None]) -> set[str]:
    """The unique_ids a stated event uplift applies to (see the module docstring)."""
    kind = series["kind"] if "kind" in series else pd.Series("", index=series.index)
    res = series["metric"].map(resource_of)
    hit = (
        kind.isin(["rate", "counter"])
        | res.isin(TRAFFIC_RESOURCES)
        | series["metric"].isin(TRAFFIC_RESOURCES)
    )
    return set(series.loc[hit, "unique_id"])


def quantile_bracket(q: float, available: Sequence[str]) -> tuple[str, str, str]:
    """(low, mid, high) quantile columns around ``q``: the scenario's own and its neighbours."""
    levels = sorted(quantile_from_col(c) for c in available)
    mid = quantile_col(q)
    if mid not in available:
        raise ValueError(f"scenario quantile {q} is not among the forecast quantiles {', '.join(available)}")
    i = levels.index(q)
    low = quantile_col(levels[max(i - 1, 0)])
    high = quantile_col(levels[min(i + 1, len(levels) - 1)])
    return low, mid, high


def apply_multiplier(frame: pd.DataFrame, qcols: Sequence[str], multiplier: float) -> pd.DataFrame:
    out = frame.copy()
    out[list(qcols)] = out[list(qcols)] * multiplier
    return out


def event_windows(
    events: pd.DataFrame,
    series: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    overrides: Mapping[str, float],
    learned: Mapping[tuple[str, str], float],
    traffic: set[str] | None = None,
) -> pd.DataFrame:
    """Multiplier per (unique_id, event) for events overlapping [start, end].

    ``learned`` maps (unique_id, 'name:<event name>' or 'kind:<event kind>') -> ratio learned
    from history; the same event's past occurrences are preferred to others of its kind.
    ``traffic``: the unique_ids a stated uplift applies to (None: all); the others take only
    their own learned uplift. Returns ``unique_id, name, kind, start, end, multiplier, source``
    (source says where the number came from).

    (Seven parameters: the calendar, the series, the window and the three uplift sources in precedence order.)
    """
    cols = ["unique_id", "name", "kind", "start", "end", "multiplier", "source"]
    if events is None or events.empty:
        return pd.DataFrame(columns=cols)
    ev = events[(events["end"] > start) & (events["start"] <= end) & (events["kind"] != "outage")]
    rows = []
    for e in ev.itertuples(index=False):
        services = list(e.services)
        hit = series if "*" in services else series[series["service"].isin(services)]
        for uid in hit["unique_id"]:
            stated = traffic is None or uid in traffic
            if not stated:
                m, src = _learned(uid, e, learned)
                if m is None:
                    continue
                rows.append([uid, e.name, e.kind, e.start, e.end, m, f"{src} (gauge: not traffic)"])
                continue
            if e.name in overrides:
                m, src = float(overrides[e.name]), "scenario event_uplift"
            elif e.expected_uplift is not None and not pd.isna(e.expected_uplift):
                m, src = float(e.expected_uplift), "events.expected_uplift"
            elif (uid, f"name:{e.name}") in learned:
                m, src = float(learned[(uid, f"name:{e.name}")]), f"learned from past '{e.name}'"
            elif (uid, f"kind:{e.kind}") in learned:
                m, src = float(learned[(uid, f"kind:{e.kind}")]), f"learned from past '{e.kind}' events"
            else:
                continue
            rows.append([uid, e.name, e.kind, e.start, e.end, m, src])
    return pd.DataFrame(rows, columns=cols)


def _learned(uid: str, e, learned: Mapping[tuple[str, str], float]) -> tuple[float | None, str]:
    if (uid, f"name:{e.name}") in learned:
        return float(learned[(uid, f"name:{e.name}")]), f"learned from past '{e.name}'"
    if (uid, f"kind:{e.kind}") in learned:
        return float(learned[(uid, f"kind:{e.kind}")]), f"learned from past '{e.kind}' events"
    return None, ""


def apply_events(frame: pd.DataFrame, windows: pd.DataFrame, qcols: Sequence[str]) -> pd.DataFrame:
    """Raise demand inside event windows to at least the week-earlier baseline x multiplier."""
    if windows.empty:
        return frame
    out = frame.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    prior = out[["unique_id", "ds", *qcols]].assign(ds=out["ds"] + WEEK)
    base = out[["unique_id", "ds"]].merge(prior, on=["unique_id", "ds"], how="left")
    for c in qcols:
        base[c] = base[c].fillna(out[c])
    mult = np.ones(len(out))
    for w in windows.itertuples(index=False):
        on = (out["unique_id"] == w.unique_id) & (out["ds"] >= w.start) & (out["ds"] < w.end)
        mult[on.to_numpy()] = np.maximum(mult[on.to_numpy()], w.multiplier)
    boosted = mult > 1
    for c in qcols:
        vals = out[c].to_numpy(float, copy=True)
        vals[boosted] = np.maximum(vals[boosted], base[c].to_numpy(float)[boosted] * mult[boosted])
        out[c] = vals
    return out


def resource_demand(
    frame: pd.DataFrame, series: pd.DataFrame, resource_of: Mapping[str, str | None], qcols
) -> pd.DataFrame:
    """Per ``service, resource, ds``: summed quantile demand over the service's regions."""
    cat = series[["unique_id", "service", "metric"]]
    m = frame.merge(cat, on="unique_id", how="inner")
    m["resource"] = m["metric"].map(resource_of)
    m = m[m["resource"].notna()]
    return m.groupby(["service", "resource", "ds"], as_index=False, observed=True)[list(qcols)].sum()


def daily_peaks(frame: pd.DataFrame, keys: Sequence[str], qcols: Sequence[str]) -> pd.DataFrame:
    """Peak per day of each quantile column (capacity is sized for the day's peak)."""
    day = frame.assign(ds=frame["ds"].dt.floor("D"))
    return day.groupby([*keys, "ds"], as_index=False, observed=True)[list(qcols)].max()
