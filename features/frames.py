"""Model-ready frames from warehouse frames (pure functions).

* :func:`to_planning_frequency` resamples each series to the planning frequency by its kind:
  counters are summed; gauges and rates take the configured peak statistic (``max`` by
  default, or ``p95`` / ``mean``), since capacity is sized for peaks. Series already at the
  target frequency pass through unchanged.
* :func:`fill_gaps` applies the explicit fill policy; after it no NaN remains, or a
  :class:`SeriesError` names the series.
* :func:`history_status` tells which series are too short or stopped reporting.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from capplan.core.contracts import frequency_step
from capplan.core.errors import SeriesError

FILL_POLICIES = ("interpolate", "seasonal", "zero", "error")


def _freq_seconds(freq: str) -> float:
    return frequency_step(freq).total_seconds()


def to_planning_frequency(
    obs: pd.DataFrame, series: pd.DataFrame, target: str | None, peak: str = "max"
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Resample ``obs`` (unique_id, ds, y) per series to ``target`` (or keep each series' own).

    Returns the frame and the frequency of every series afterwards. A series coarser than the
    target is kept at its own frequency (no upsampling: that would invent data).
    """
    freq_of = dict(zip(series["unique_id"], series["frequency"], strict=True))
    kind_of = dict(zip(series["unique_id"], series["kind"], strict=True))
    if target is None:
        return obs, freq_of
    out, new_freq = [], {}
    tsec = _freq_seconds(target)
    for (freq, is_counter), uids in _groups(freq_of, kind_of).items():
        part = obs[obs["unique_id"].isin(uids)]
        if _freq_seconds(freq) >= tsec:
            out.append(part)
            new_freq.update(dict.fromkeys(uids, freq))
            continue
        part = part.assign(ds=part["ds"].dt.floor(target))
        g = part.groupby(["unique_id", "ds"], sort=False, observed=True)["y"]
        if is_counter:
            agg = g.sum()
        elif peak == "p95":
            agg = g.quantile(0.95)
        else:
            agg = g.agg(peak)
        out.append(agg.reset_index())
        new_freq.update(dict.fromkeys(uids, target))
    frame = pd.concat(out, ignore_index=True) if out else obs.iloc[:0]
    return frame.sort_values(["unique_id", "ds"], ignore_index=True), new_freq


def _groups(freq_of: Mapping[str, str], kind_of: Mapping[str, str]) -> dict[tuple[str, bool], list[str]]:
    groups: dict[tuple[str, bool], list[str]] = {}
    for uid, f in freq_of.items():
        groups.setdefault((f, kind_of.get(uid) == "counter"), []).append(uid)
    return groups


def regularize(df: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Reindex every series onto its full grid from first to last timestamp (missing -> NaN)."""
    parts = []
    for uid, g in df.groupby("unique_id", sort=True, observed=True):
        idx = pd.date_range(g["ds"].min(), g["ds"].max(), freq=freq)
        s = g.set_index("ds")["y"].reindex(idx)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": idx, "y": s.to_numpy()}))
    if not parts:
        return df.iloc[:0][["unique_id", "ds", "y"]]
    return pd.concat(parts, ignore_index=True)


def fill_gaps(df: pd.DataFrame, freq: str, policy: str = "interpolate", season: int = 24) -> pd.DataFrame:
    """Put every series on its full grid and fill missing points by ``policy``.

    ``interpolate``: linear between neighbours; ``seasonal``: the value one season earlier
    (then linear for what remains); ``zero``: 0 (for counters, where no sample means no
    traffic); ``error``: refuse, naming the series with gaps. Leading/trailing NaN cannot occur
    (the grid spans first..last observation).
    """
    if policy not in FILL_POLICIES:
        raise ValueError(f"fill policy must be one of {FILL_POLICIES}, got {policy!r}")
    full = regularize(df, freq)
    missing = full["y"].isna()
    if not missing.any():
        return full
    if policy == "error":
        bad = full.loc[missing, "unique_id"].value_counts()
        listing = ", ".join(f"{u} ({n} missing)" for u, n in bad.head(10).items())
        raise SeriesError(f"series with gaps and fill policy 'error': {listing}")
    y = full["y"]
    g = full.groupby("unique_id", sort=False)["y"]
    if policy == "zero":
        y = y.fillna(0.0)
    else:
        if policy == "seasonal":
            y = y.fillna(g.shift(season))
        y = y.groupby(full["unique_id"], sort=False).transform(
            lambda s: s.interpolate(limit_direction="both")
        )
    full["y"] = y
    if full["y"].isna().any():
        bad = full.loc[full["y"].isna(), "unique_id"].unique()[:10]
        raise SeriesError(f"NaN left after filling gaps in series: {', '.join(map(str, bad))}")
    return full


def history_status(
    df: pd.DataFrame, freq_of: Mapping[str, str], min_points: int, stale_after: int
) -> pd.DataFrame:
    """Per series: n points, last ds, and whether it is usable, too short, or stopped reporting.

    A series "stopped reporting" when its last observation is more than ``stale_after`` of its
    own steps before the newest observation in the warehouse.
    """
    s = (
        df.groupby("unique_id", observed=True)["ds"]
        .agg(["count", "max"])
        .rename(columns={"count": "n", "max": "last"})
    )
    newest = s["last"].max()
    steps = pd.Series({u: _freq_seconds(freq_of[u]) for u in s.index})
    behind = ((newest - s["last"]).dt.total_seconds() / steps).round()
    status = np.where(behind > stale_after, "stopped", np.where(s["n"] < min_points, "short", "ok"))
    out = s.assign(steps_behind=behind.astype("int64"), status=status).reset_index()
    out["note"] = np.select(
        [out["status"] == "stopped", out["status"] == "short"],
        [
            "stopped reporting at " + out["last"].astype(str) + "; not forecast",
            "only " + out["n"].astype(str) + f" points (< {min_points}); seasonal naive fallback",
        ],
        "",
    )
    return out
