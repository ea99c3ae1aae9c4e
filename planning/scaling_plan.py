"""The plan's autoscaling tables from the one policy engine (:mod:`.autoscale`).

* :func:`replay_services` (table ``autoscaling``): each service's stored history replayed through
  the reactive, predictive and hybrid policies of its ``[autoscaling]`` policy, on its instance
  pool (the binding resource decides), walk-forward: the predictive part reads only forecasts
  issued before each decision (:func:`.autoscale.simulate_service`), never the folds that chose
  the champions. One row per service and policy with the scores and ``winner``: the fewest
  under-provisioned minutes, then the lower cost, then the order reactive, predictive, hybrid.
* :func:`schedule` (table ``scaling_schedule``): per service and hour of the next
  :data:`SCHEDULE_HOURS`, the instances the predictive part asks for from the plan's forecast
  demand of the expected scenario (multiplier, drivers and events applied, as the plan sizes
  it) at ``[planning] scaling_quantile``: ``ceil(required x (1 + forecast_margin))`` of the
  binding resource at the policy's target, plus redundancy (``[planning] redundancy``), held per
  decision interval, within ``[min_instances, max_instances]`` (above it by
  ``max_capacity_buffer`` percent with ``IncreaseMaxCapacity``); ``capped`` where the bound cut it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.config import AutoscalingConfig, PlanningConfig
from capplan.core.errors import CapplanError

from ._common import ceil_tol, require_columns
from .autoscale import (
    SCORE_COLUMNS,
    SIM_POLICIES,
    Steps,
    predictive_cap,
    replay_predictive,
    required_instances,
    service_sizing,
    simulate_service,
)
from .sizing import add_redundancy

SCHEDULE_HOURS = 48
REPLAY_COLUMNS = (*SCORE_COLUMNS[:2], "binding_resource", *SCORE_COLUMNS[2:], "winner")
SCHEDULE_COLUMNS = ("service", "ds", "instances_recommended", "binding_resource", "capped")


def winners(scores: pd.DataFrame) -> pd.Series:
    """True for one policy per service: fewest under-provisioned minutes, then lower cost, then
    the order of :data:`.autoscale.SIM_POLICIES`."""
    order = scores["policy"].map({p: i for i, p in enumerate(SIM_POLICIES)})
    ranked = scores.assign(_order=order).sort_values(
        ["service", "under_provisioned_minutes", "cost", "_order"], kind="stable"
    )
    first = ranked.groupby("service", sort=False).head(1).index
    return pd.Series(scores.index.isin(first), index=scores.index)


def replay_services(
    use: pd.DataFrame,
    inventory: pd.DataFrame,
    policies: AutoscalingConfig,
    *,
    quantile: float | None,
    season_s: int = 7 * 86400,
) -> tuple[pd.DataFrame, list[str]]:
    """``(scores, skipped)``: :data:`REPLAY_COLUMNS` per service and policy over ``use``
    (``service, resource, ds, y``), and one line per service that could not be replayed (no
    scaled resource, history shorter than a season), naming why."""
    require_columns(use, ["service", "resource", "ds", "y"], "usage")
    rows, skipped = [], []
    for service, grp in use.groupby("service", sort=True):
        if not (inventory["service"] == service).any():
            continue
        try:
            sim = simulate_service(
                grp, inventory, service, policies.for_service(service), season_s=season_s, quantile=quantile
            )
        except CapplanError as err:
            skipped.append(f"{service}: {err}")
            continue
        scored = sim.counts[np.isfinite(sim.counts["forecast"].to_numpy(float))]
        bind = scored["binding"].mode().iloc[0] if len(scored) else None
        rows.append(sim.scores.assign(binding_resource=bind))
    if not rows:
        return pd.DataFrame(columns=list(REPLAY_COLUMNS)), skipped
    out = pd.concat(rows, ignore_index=True)
    return out.assign(winner=winners(out))[list(REPLAY_COLUMNS)], skipped


def schedule(
    demand: pd.DataFrame,
    inventory: pd.DataFrame,
    policies: AutoscalingConfig,
    planning: PlanningConfig,
    quantile_col: str,
) -> pd.DataFrame:
    """:data:`SCHEDULE_COLUMNS` from ``demand`` (``service, resource, ds, quantile_col``: the
    expected scenario's forecast demand over the schedule's hours); see the module docstring."""
    require_columns(demand, ["service", "resource", "ds", quantile_col], "schedule demand")
    parts = []
    planned = set(inventory["service"])
    # one pivot for every service (one each cost 13 ms: 2 minutes at 10,000 series); a service's
    # slice drops the resources it has no demand for, as its own pivot would
    pivot = demand[demand["service"].isin(planned)].pivot_table(
        index=["service", "ds"], columns="resource", values=quantile_col, aggfunc="sum"
    )
    for service, wide in pivot.groupby(level="service", sort=True):
        policy = policies.for_service(service)
        size = service_sizing(inventory, service, policy)
        wide = wide.droplevel("service").dropna(axis=1, how="all").sort_index()
        loads = {r: wide[r].fillna(0.0).to_numpy(float) for r in wide.columns if r in size["capacity"]}
        if not loads:
            continue
        req, binding = required_instances(loads, size["capacity"], size["util"])
        base = np.maximum(ceil_tol(req * (1.0 + policy.forecast_margin)), 1.0)
        need = add_redundancy(base, planning.redundancy, planning.zones)
        step_s = (
            pd.Series(wide.index).diff().dropna().mode().iloc[0].total_seconds() if len(wide) > 1 else 3600.0
        )
        # a schedule is what should be in service: launches go out warmup_s ahead (KEDA's cron start)
        plan_policy = policy.model_copy(update={"forecast_margin": 0.0, "warmup_s": policy.startup_delay_s})
        counts = replay_predictive(
            need, plan_policy, Steps.of(plan_policy, step_s), max_instances=size["max_instances"]
        )
        hi = policy.max_instances if policy.max_instances is not None else size["max_instances"]
        cap = predictive_cap(policy, float(hi) if hi is not None else np.inf)
        parts.append(
            pd.DataFrame(
                {
                    "service": service,
                    "ds": wide.index,
                    "instances_recommended": counts,
                    "binding_resource": binding,
                    "capped": need > cap,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(SCHEDULE_COLUMNS))
    return pd.concat(parts, ignore_index=True)
