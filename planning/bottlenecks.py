"""Bottlenecks: which resource of a service binds first, and how far behind the others are.

Per ``service, scenario``:

* if any resource's runway ends within the horizon, the binding resource is the one with the
  fewest ``days_left`` (basis ``'runway'``); every other resource lags by
  ``lag_days = days_left - min days_left`` (``inf`` when it never crosses);
* otherwise the binding resource is the one with the highest ``peak_utilization`` (basis
  ``'utilization'``), and the others trail by ``utilization_gap = max - own`` (a fraction).

Ties on days are broken by higher peak utilization, then by resource name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import require_columns

GROUP = ["service", "scenario"]
KEYS = ["service", "resource", "scenario"]
BOTTLENECK_COLUMNS = (
    "service",
    "scenario",
    "resource",
    "rank",
    "binding",
    "basis",
    "days_left",
    "peak_utilization",
    "lag_days",
    "utilization_gap",
)


def peak_utilization(plan: pd.DataFrame, column: str = "utilization_at_current") -> pd.DataFrame:
    """Highest ``column`` over ds per ``service, resource, scenario`` (from :func:`plan_instances`)."""
    require_columns(plan, [*KEYS, column], "plan frame")
    return plan.groupby(KEYS, as_index=False)[column].max().rename(columns={column: "peak_utilization"})


def _rank_group(grp: pd.DataFrame) -> pd.DataFrame:
    days = grp["days_left"].to_numpy(float)
    util = grp["peak_utilization"].to_numpy(float)
    by_runway = bool(np.isfinite(days).any())
    order = (
        np.lexsort((grp["resource"].to_numpy(str), -util, days))
        if by_runway
        else np.lexsort((grp["resource"].to_numpy(str), -util))
    )
    out = grp.iloc[order].copy()
    out["rank"] = np.arange(1, len(out) + 1)
    out["binding"] = out["rank"] == 1
    out["basis"] = "runway" if by_runway else "utilization"
    first = out.iloc[0]
    out["lag_days"] = out["days_left"] - first["days_left"] if by_runway else np.nan
    out["utilization_gap"] = first["peak_utilization"] - out["peak_utilization"]
    return out


def find_bottlenecks(runway: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """Rank the resources of each service and scenario (see the module docstring).

    ``runway``: :func:`runway_frame` output (``service, resource, scenario, days_left``);
    ``plan``: :func:`plan_instances` output (``utilization_at_current`` per ds). Returns one row
    per ``service, scenario, resource`` with :data:`BOTTLENECK_COLUMNS`; ``binding`` marks rank 1.
    """
    require_columns(runway, [*KEYS, "days_left"], "runway frame")
    both = runway[[*KEYS, "days_left"]].merge(peak_utilization(plan), on=KEYS, how="outer")
    both["days_left"] = both["days_left"].fillna(np.inf)
    both["peak_utilization"] = both["peak_utilization"].fillna(0.0)
    parts = [_rank_group(g) for _, g in both.groupby(GROUP, sort=True)]
    if not parts:
        return pd.DataFrame(columns=list(BOTTLENECK_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(BOTTLENECK_COLUMNS)]
