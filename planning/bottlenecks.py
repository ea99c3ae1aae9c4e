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


def _rank(both: pd.DataFrame) -> pd.DataFrame:
    """Every ``service, scenario`` group (``both`` has no row without one) ranked at once: groups in sorted order, then by runway
    (days, higher utilization, resource name) where a group has a finite runway, else by
    utilization (higher first, then resource name)."""
    code = both.groupby(GROUP, sort=True).ngroup().to_numpy()
    days = both["days_left"].to_numpy(float)
    util = both["peak_utilization"].to_numpy(float)
    by_runway = pd.Series(np.isfinite(days)).groupby(code).transform("any").to_numpy(bool)
    first_key = np.where(by_runway, days, 0.0)
    order = np.lexsort((both["resource"].to_numpy(str), -util, first_key, code))
    out = both.iloc[order].reset_index(drop=True)
    code, by_runway = code[order], by_runway[order]
    start = np.r_[True, code[1:] != code[:-1]]
    head = np.maximum.accumulate(np.where(start, np.arange(len(out)), 0))  # each row's group's first row
    out["rank"] = np.arange(len(out)) - head + 1
    out["binding"] = out["rank"] == 1
    out["basis"] = np.where(by_runway, "runway", "utilization")
    days, util = out["days_left"].to_numpy(float), out["peak_utilization"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        out["lag_days"] = np.where(by_runway, days - days[head], np.nan)
    out["utilization_gap"] = util[head] - util
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
    both = both.dropna(subset=GROUP)  # groupby's keys: a row without one belongs to no group
    if both.empty:
        return pd.DataFrame(columns=list(BOTTLENECK_COLUMNS))
    return _rank(both)[list(BOTTLENECK_COLUMNS)]
