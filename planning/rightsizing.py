"""Right-sizing: over-provisioned services and the cheapest instance type for a need.

A service is over-provisioned when, over the trailing ``rightsizing_window_days`` ending at
``as_of``, the p95 utilization of *every* resource (p95 usage / (instances * capacity)) is below
``rightsizing_utilization``. Right-sizing looks ahead: the need is the larger of

* ``trailing_need``: the largest, over the service's resources, of :func:`required_instances` for
  the p95 usage at that resource's target utilization, with the configured headroom and
  redundancy (so at least 1 + redundancy), and
* ``forecast_need``: the peak ``instances_uncapped`` of the plan over the horizon in the
  expected scenario (headroom and redundancy included), when the plan is given.

``action``: ``scale_up`` when the need is above the current count (a service that must grow is
never a saving), ``right_size_down`` when the service is over-provisioned and the need is below
it, ``keep`` otherwise; ``instances_recommended`` is the need for the first two, the current count
for ``keep``, so a recommendation is never below the forecast need.
``monthly_cost_change`` = (recommended - current) * cost_per_instance_hour * 730 hours;
``monthly_saving`` = its negative where the action is ``right_size_down`` (0 otherwise).

All resources of a service are assumed to live on the same instances: the inventory must give
one ``instances`` and one ``cost_per_instance_hour`` per service.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from capplan.core.config import PlanningConfig
from capplan.core.errors import CapplanError

from ._common import HOURS_PER_MONTH, require_columns
from .sizing import INVENTORY_COLUMNS, Redundancy, _cap, _required_array

USAGE_COLUMNS = ("service", "resource", "ds", "y")
RIGHTSIZING_COLUMNS = (
    "service",
    "instances",
    "instances_recommended",
    "binding_resource",
    "max_p95_utilization",
    "over_provisioned",
    "monthly_saving",
    "trailing_need",
    "forecast_need",
    "action",
    "monthly_cost_change",
)


def _p95_usage(usage: pd.DataFrame, window_days: int, as_of: pd.Timestamp | None) -> pd.DataFrame:
    end = pd.Timestamp(as_of) if as_of is not None else usage["ds"].max()
    start = end - pd.Timedelta(days=window_days)
    win = usage[(usage["ds"] > start) & (usage["ds"] <= end)]
    return (
        win.groupby(["service", "resource"], as_index=False)["y"].quantile(0.95).rename(columns={"y": "p95"})
    )


def _one_pool(inventory: pd.DataFrame) -> None:
    per = inventory.groupby("service")[["instances", "cost_per_instance_hour"]].nunique()
    bad = per[(per > 1).any(axis=1)].index.tolist()
    if bad:
        raise CapplanError(
            "right-sizing needs one instance count and price per service (all resources on the same "
            f"instances); these differ across resources for: {', '.join(map(str, bad))}"
        )


def rightsizing(
    usage: pd.DataFrame,
    inventory: pd.DataFrame,
    cfg: PlanningConfig,
    *,
    as_of: pd.Timestamp | None = None,
    forecast_need: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Recommend instance counts per service from trailing p95 usage and the forecast need.

    ``usage``: ``service, resource, ds, y`` observed usage in the inventory's unit.
    ``forecast_need``: ``service, resource, instances_uncapped`` (the expected scenario's peak
    need per service over the horizon and its resource) or None. Returns one row per service with
    :data:`RIGHTSIZING_COLUMNS` (see the module docstring).
    """
    require_columns(usage, USAGE_COLUMNS, "usage frame")
    require_columns(inventory, INVENTORY_COLUMNS, "inventory")
    _one_pool(inventory)
    m = _p95_usage(usage, cfg.rightsizing_window_days, as_of).merge(inventory, on=["service", "resource"])
    if m.empty:
        return pd.DataFrame(columns=list(RIGHTSIZING_COLUMNS))
    cap = m["capacity_per_instance"].to_numpy(float)
    m["p95_utilization"] = m["p95"] / (m["instances"] * cap)
    need = _required_array(
        m["p95"].to_numpy(float),
        cap,
        m["target_utilization"].to_numpy(float),
        cfg.redundancy,
        cfg.zones,
        cfg.headroom,
    )
    m["needed"], _ = _cap(need, m["max_instances"].to_numpy(float))
    ahead = {} if forecast_need is None else {
        r.service: (float(r.instances_uncapped), r.resource) for r in forecast_need.itertuples(index=False)
    }  # fmt: skip
    rows = []
    for service, grp in m.groupby("service", sort=True):
        top = grp.loc[grp["needed"].idxmax()]
        current = int(grp["instances"].iloc[0])
        over = bool((grp["p95_utilization"] < cfg.rightsizing_utilization).all())
        trailing, binding = int(top["needed"]), top["resource"]
        fneed, fres = ahead.get(service, (np.nan, None))
        need_all = trailing
        if np.isfinite(fneed) and fneed > trailing:
            need_all, binding = int(fneed), fres
        if need_all > current:
            action, rec = "scale_up", need_all
        elif over and need_all < current:
            action, rec = "right_size_down", need_all
        else:
            action, rec = "keep", current
        price = float(grp["cost_per_instance_hour"].iloc[0]) * HOURS_PER_MONTH
        change = (rec - current) * price
        rows.append(
            {
                "service": service,
                "instances": current,
                "instances_recommended": rec,
                "binding_resource": binding,
                "max_p95_utilization": float(grp["p95_utilization"].max()),
                "over_provisioned": over,
                "monthly_saving": -change if action == "right_size_down" else 0.0,
                "trailing_need": trailing,
                "forecast_need": fneed,
                "action": action,
                "monthly_cost_change": change,
            }
        )
    return pd.DataFrame(rows, columns=list(RIGHTSIZING_COLUMNS))


def compare_alternatives(
    needs: Mapping[str, float],
    catalogue: pd.DataFrame,
    *,
    target_utilization: float = 1.0,
    redundancy: Redundancy = "none",
    zones: int = 3,
    headroom: float = 0.0,
) -> pd.DataFrame:
    """Instances and monthly cost of each catalogue type for ``needs`` (resource -> amount).

    ``catalogue``: ``instance_type, cost_per_instance_hour`` and one column per resource in
    ``needs`` giving that type's capacity (same unit as the need). The count for a type is the
    largest over resources of :func:`required_instances`; a type with zero or missing capacity for
    a needed resource cannot meet it (``fits`` False). Returns the catalogue's ``instance_type``
    with ``instances, monthly_cost, fits, cheapest``, sorted by monthly cost (fitting types
    first); ``cheapest`` marks the cheapest type that fits.
    """
    require_columns(catalogue, ["instance_type", "cost_per_instance_hour", *needs], "instance catalogue")
    counts = np.zeros(len(catalogue))
    fits = np.ones(len(catalogue), dtype=bool)
    for resource, amount in needs.items():
        cap = pd.to_numeric(catalogue[resource], errors="coerce").to_numpy(float)
        ok = np.isfinite(cap) & (cap > 0)
        fits &= ok
        safe = np.where(ok, cap, 1.0)
        req = _required_array(
            np.full(len(cap), float(amount)),
            safe,
            np.full(len(cap), target_utilization),
            redundancy,
            zones,
            headroom,
        )
        counts = np.maximum(counts, np.where(ok, req, np.inf))
    out = pd.DataFrame({"instance_type": catalogue["instance_type"].to_numpy()})
    out["instances_required"] = counts
    out["monthly_cost"] = counts * catalogue["cost_per_instance_hour"].to_numpy(float) * HOURS_PER_MONTH
    out["fits"] = fits
    out = out.sort_values(
        ["fits", "monthly_cost", "instance_type"], ascending=[False, True, True], ignore_index=True
    )
    out["cheapest"] = False
    if fits.any():
        out.loc[0, "cheapest"] = True
    return out
