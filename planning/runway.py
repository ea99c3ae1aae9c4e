"""Runway: when does forecast demand first exceed usable capacity?

Kernel :func:`runway` on one series; :func:`runway_frame` maps it over
``service, resource, scenario`` for the low, middle and high forecast quantiles.

The crossing is where the gap ``demand - capacity`` reaches zero: between the last point with
``demand <= capacity`` and the first with ``demand > capacity`` the gap is interpolated
linearly in time. Status:

* ``already_short``: the first point already has demand > capacity (crossing = first ds);
* ``within_horizon``: a later point does (crossing interpolated);
* ``not_within_horizon``: no point does (crossing ``NaT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from capplan.core.contracts import quantile_col
from capplan.core.errors import CapplanError

from ._common import require_columns

Status = Literal["already_short", "within_horizon", "not_within_horizon"]
GROUP = ["service", "resource", "scenario"]
_DAY = pd.Timedelta(days=1)
RUNWAY_COLUMNS = (
    *GROUP,
    "status",
    "crossing",
    "crossing_earliest",
    "crossing_latest",
    "days_left",
    "days_left_min",
    "days_left_max",
    "horizon_days",
    "as_of",
)


@dataclass(frozen=True)
class RunwayResult:
    status: Status
    crossing: pd.Timestamp  # NaT when not within the horizon


def runway(ds, demand, capacity) -> RunwayResult:
    """First time ``demand`` exceeds ``capacity`` (scalar or per-point, same unit as demand).

    ``ds`` must be strictly increasing; ``demand`` and ``capacity`` finite.
    """
    ds = pd.DatetimeIndex(ds)
    d = np.asarray(demand, dtype=float)
    cap = np.broadcast_to(np.asarray(capacity, dtype=float), d.shape)
    if len(ds) != d.size or d.size == 0:
        raise CapplanError(
            f"runway needs one demand per ds and at least one point, got {len(ds)} and {d.size}"
        )
    if not ds.is_monotonic_increasing or not ds.is_unique:
        raise CapplanError("runway needs strictly increasing ds")
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(cap))):
        raise CapplanError("runway needs finite demand and capacity")
    gap = d - cap
    over = np.flatnonzero(gap > 0)
    if over.size == 0:
        return RunwayResult("not_within_horizon", pd.NaT)
    i = int(over[0])
    if i == 0:
        return RunwayResult("already_short", ds[0])
    frac = -gap[i - 1] / (gap[i] - gap[i - 1])  # gap[i-1] <= 0 < gap[i], so frac in [0, 1)
    return RunwayResult("within_horizon", ds[i - 1] + frac * (ds[i] - ds[i - 1]))


def _days_after(t: pd.Timestamp, as_of: pd.Timestamp) -> float:
    if pd.isna(t):
        return float("inf")
    return max(0.0, (t - as_of) / _DAY)


def _group_starts(f: pd.DataFrame) -> np.ndarray:
    """First row of each ``GROUP`` in ``f`` (sorted by group, then ds); checks what :func:`runway`
    checks of each group: strictly increasing ds, finite demand and capacity."""
    codes = f.groupby(GROUP, sort=False, dropna=False).ngroup().to_numpy()
    new = np.r_[True, codes[1:] != codes[:-1]]
    ds = f["ds"].to_numpy("datetime64[ns]")
    if np.any(~new[1:] & (ds[1:] <= ds[:-1])) or pd.isna(ds).any():
        raise CapplanError("runway needs strictly increasing ds")
    return np.flatnonzero(new)


def _first_over(d: np.ndarray, cap: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group, the first row where ``d > cap`` (``-1``: none)."""
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(cap))):
        raise CapplanError("runway needs finite demand and capacity")
    idx = np.where(d - cap > 0, np.arange(d.size), d.size)
    first = np.minimum.reduceat(idx, starts)
    ends = np.r_[starts[1:], d.size]
    return np.where(first < ends, first, -1)


def _crossing(ds: pd.DatetimeIndex, d: np.ndarray, cap: np.ndarray, start: int, i: int) -> RunwayResult:
    """:func:`runway`'s result for the group starting at ``start`` whose first row over is ``i``."""
    if i < 0:
        return RunwayResult("not_within_horizon", pd.NaT)
    if i == start:
        return RunwayResult("already_short", ds[start])
    gap_before, gap = d[i - 1] - cap[i - 1], d[i] - cap[i]
    frac = -gap_before / (gap - gap_before)
    return RunwayResult("within_horizon", ds[i - 1] + frac * (ds[i] - ds[i - 1]))


def runway_frame(
    frame: pd.DataFrame,
    *,
    as_of: pd.Timestamp | None = None,
    low: str = quantile_col(0.1),
    mid: str = quantile_col(0.5),
    high: str = quantile_col(0.9),
) -> pd.DataFrame:
    """Runway per ``service, resource, scenario`` with a range from the outer quantiles.

    ``frame``: ``service, resource, scenario, ds, usable_capacity`` and the quantile columns
    named by ``low``, ``mid``, ``high`` (demand, same unit as capacity); ``as_of`` (the
    forecast origin) is the argument or else an ``as_of`` column.

    Returns one row per group: ``status`` and ``crossing`` from ``mid``; ``crossing_earliest``
    from ``high`` (more demand crosses sooner), ``crossing_latest`` from ``low``; ``days_left``,
    ``days_left_min``, ``days_left_max``: days from ``as_of`` to those crossings (floored at 0;
    ``inf`` when beyond the horizon); ``horizon_days``: days from ``as_of`` to the last ds.
    """
    require_columns(frame, [*GROUP, "ds", "usable_capacity", low, mid, high], "runway input")
    if as_of is None:
        require_columns(frame, ["as_of"], "runway input (no as_of argument given)")
    rows = []
    f = frame.dropna(subset=GROUP).sort_values([*GROUP, "ds"], kind="stable")  # as groupby drops them
    if len(f):
        starts = _group_starts(f)
        ends = np.r_[starts[1:], len(f)]
        ds = pd.DatetimeIndex(f["ds"])
        cap = f["usable_capacity"].to_numpy(float)
        demand = {name: f[col].to_numpy(float) for name, col in (("mid", mid), ("lo", low), ("hi", high))}
        first = {name: _first_over(d, cap, starts) for name, d in demand.items()}
        keys = f[GROUP].iloc[starts].itertuples(index=False, name=None)
        origins = f["as_of"].iloc[starts] if as_of is None else None
        for g, key in enumerate(keys):
            origin = pd.Timestamp(as_of if as_of is not None else origins.iloc[g])
            res = {
                name: _crossing(ds, d, cap, int(starts[g]), int(first[name][g])) for name, d in demand.items()
            }
            rows.append(
                {
                    **dict(zip(GROUP, key, strict=True)),
                    "status": res["mid"].status,
                    "crossing": res["mid"].crossing,
                    "crossing_earliest": res["hi"].crossing,
                    "crossing_latest": res["lo"].crossing,
                    "days_left": _days_after(res["mid"].crossing, origin),
                    "days_left_min": _days_after(res["hi"].crossing, origin),
                    "days_left_max": _days_after(res["lo"].crossing, origin),
                    "horizon_days": (ds[int(ends[g]) - 1] - origin) / _DAY,
                    "as_of": origin,
                }
            )
    out = pd.DataFrame(rows, columns=list(RUNWAY_COLUMNS))
    for c in ("crossing", "crossing_earliest", "crossing_latest"):
        out[c] = pd.to_datetime(out[c])
    return out
