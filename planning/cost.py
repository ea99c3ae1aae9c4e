"""Cost of a plan: monthly cost per scenario, the cost of headroom, and the quantile frontier.

Assumptions: static provisioning for the horizon's peak (no autoscaling), one instance pool per
service (its resources share the instances, so the service needs the largest count any of its
resources asks for at each ds) and 730 billed hours per month. Costs are in the inventory's
currency.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from capplan.core.config import PlanningConfig
from capplan.core.contracts import quantile_col, quantile_columns, quantile_from_col

from ._common import HOURS_PER_MONTH, require_columns
from .sizing import size_plan

COST_COLUMNS = (
    "service",
    "scenario",
    "instances_required",
    "instances_uncapped",
    "cost_per_hour",
    "monthly_cost",
    "monthly_cost_capped",
)


def monthly_cost(plan: pd.DataFrame) -> pd.DataFrame:
    """Peak instances and monthly cost per ``service, scenario`` of a :func:`size_plan` frame.

    At each ds the service needs the largest count over its resources (one instance pool); the
    plan provisions the peak over ds. ``monthly_cost`` is the cost of serving the demand
    (``instances_uncapped``: the cap is an action, not a discount); ``monthly_cost_capped`` the
    cost of the capped count (``instances_required``). ``cost_per_hour`` is the uncapped peak's.
    Sum ``monthly_cost`` over services for a scenario total.
    """
    require_columns(plan, ["service", "scenario", "ds", "instances_required", "cost_per_hour"], "plan frame")
    if plan.empty:
        return pd.DataFrame(columns=list(COST_COLUMNS))
    p = plan.assign(
        instances_uncapped=plan.get("instances_uncapped", plan["instances_required"]),
        cost_per_hour_uncapped=plan.get("cost_per_hour_uncapped", plan["cost_per_hour"]),
    )
    out = p.groupby(["service", "scenario"], as_index=False, sort=True).agg(
        instances_required=("instances_required", "max"),
        instances_uncapped=("instances_uncapped", "max"),
        cost_per_hour=("cost_per_hour_uncapped", "max"),
        capped_per_hour=("cost_per_hour", "max"),
    )
    out["monthly_cost"] = out["cost_per_hour"] * HOURS_PER_MONTH
    out["monthly_cost_capped"] = out["capped_per_hour"] * HOURS_PER_MONTH
    return out[list(COST_COLUMNS)]


def headroom_cost(
    demand_frame: pd.DataFrame,
    inventory: pd.DataFrame,
    planning_cfg: PlanningConfig,
    fits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Monthly cost with the configured headroom, without it (headroom 0), and the difference.

    Sized by :func:`capplan.planning.sizing.size_plan` (with the USL ``fits``), as the plan is.
    Returns ``service, scenario, monthly_cost, monthly_cost_no_headroom, headroom_cost``.
    """
    with_h = monthly_cost(size_plan(demand_frame, inventory, fits, planning_cfg))
    no_cfg = planning_cfg.model_copy(update={"headroom": 0.0})
    without = monthly_cost(size_plan(demand_frame, inventory, fits, no_cfg))
    out = with_h[["service", "scenario", "monthly_cost"]].merge(
        without[["service", "scenario", "monthly_cost"]].rename(
            columns={"monthly_cost": "monthly_cost_no_headroom"}
        ),
        on=["service", "scenario"],
    )
    out["headroom_cost"] = out["monthly_cost"] - out["monthly_cost_no_headroom"]
    return out


def _quantile_columns(forecast: pd.DataFrame) -> list[float]:
    return [quantile_from_col(c) for c in quantile_columns(forecast.columns)]


def capacity_cost_frontier(
    forecast: pd.DataFrame,
    inventory: pd.DataFrame,
    planning_cfg: PlanningConfig,
    quantiles: Sequence[float] | None = None,
    fits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Instances and monthly cost per service if the plan were sized on each forecast quantile.

    ``forecast``: ``service, resource, ds`` and quantile columns (``p50``, ``p90``...); by default
    every quantile column present. Returns ``service, quantile, instances_required,
    instances_uncapped, monthly_cost, extra_monthly_cost`` (cost over the next lower quantile's; 0 for the lowest), sorted by
    service and quantile: the price of choosing a higher quantile. Sized as the plan is
    (:func:`capplan.planning.sizing.size_plan`, with the USL ``fits``).
    """
    qs = sorted(quantiles) if quantiles is not None else _quantile_columns(forecast)
    require_columns(forecast, ["service", "resource", "ds", *map(quantile_col, qs)], "forecast frame")
    parts = []
    for q in qs:
        demand = forecast[["service", "resource", "ds"]].assign(
            scenario=quantile_col(q), demand=forecast[quantile_col(q)]
        )
        cost = monthly_cost(size_plan(demand, inventory, fits, planning_cfg))
        parts.append(cost.assign(quantile=q))
    cols = [
        "service",
        "quantile",
        "instances_required",
        "instances_uncapped",
        "monthly_cost",
        "extra_monthly_cost",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True).sort_values(["service", "quantile"], ignore_index=True)
    out["extra_monthly_cost"] = out.groupby("service")["monthly_cost"].diff().fillna(0.0)
    return out[cols]
