"""Instance counts for a demand: headroom, target utilization, redundancy, caps.

For demand D (resource unit, e.g. cores), capacity K per instance (same unit), target
utilization u in (0, 1] and headroom h >= 0::

    base = max(1, ceil(D * (1 + h) / (K * u)))      # a service runs at least one instance
    'none' -> base
    'n+1'  -> base + 1                              # survive losing any one instance
    'zone' -> ceil(base * Z / (Z - 1))              # spread over Z zones, survive losing one

The zone rule is exact: with n instances spread evenly, losing the largest zone leaves
floor(n (Z-1) / Z), which is >= base exactly when n >= base * Z / (Z - 1).
A count above ``max_instances`` is cut to ``max_instances`` and flagged ``capped``.
``ceil`` ignores float noise (11.000000000000002 counts as 11).

Honest numbers: ``instances_uncapped`` is what serving the demand takes (headroom and redundancy
included) and ``cost_per_hour_uncapped`` its price: a scenario's cost is the cost of serving its
demand. ``instances_required`` is the count after the cap and ``cost_per_hour`` its price. The
cap is an action to take (raise ``max_instances``), never a discount. ``demand_unserved`` is the
demand the capped count cannot carry after losing one instance (N+1) or one zone, at target
utilization: ``max(0, demand - served)``, ``served = surviving(instances_required) x capacity x
target_utilization`` (USL throughput x target utilization where a load test was fitted). Headroom
is a margin, not capacity: a capped count that only eats the headroom leaves nothing unserved.
Demand past the USL throughput peak cannot be served by scaling out: the count stops at the
peak (``sizing_basis`` = ``usl: beyond peak throughput``) and the rest is ``demand_unserved``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from capplan.core.config import PlanningConfig
from capplan.core.errors import CapplanError

from ._common import ceil_tol, require_columns

Redundancy = Literal["none", "n+1", "zone"]
DEMAND_COLUMNS = ("service", "resource", "scenario", "ds", "demand")
INVENTORY_COLUMNS = (
    "service",
    "resource",
    "capacity_per_instance",
    "instances",
    "target_utilization",
    "max_instances",
    "cost_per_instance_hour",
)
KEYS = ["service", "resource"]


def _required_array(
    demand: np.ndarray,
    capacity: np.ndarray,
    target_utilization: np.ndarray,
    redundancy: Redundancy,
    zones: int,
    headroom: float,
) -> np.ndarray:
    """Uncapped instance counts (float array of whole numbers), vectorised over rows."""
    demand = np.asarray(demand, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    util = np.asarray(target_utilization, dtype=float)
    if np.any(~np.isfinite(demand)) or np.any(demand < 0):
        raise CapplanError("demand must be finite and >= 0")
    if np.any(~(capacity > 0)) or np.any(~np.isfinite(capacity)):
        raise CapplanError("capacity_per_instance must be finite and > 0")
    if np.any(~((util > 0) & (util <= 1))):
        raise CapplanError("target_utilization must be in (0, 1]")
    if headroom < 0:
        raise CapplanError(f"headroom must be >= 0, got {headroom!r}")
    base = np.maximum(1.0, ceil_tol(demand * (1.0 + headroom) / (capacity * util)))
    return add_redundancy(base, redundancy, zones)


def add_redundancy(base: np.ndarray, redundancy: Redundancy, zones: int) -> np.ndarray:
    """Instances for ``base`` of them to survive a failure: +1 (N+1) or the loss of one zone of Z."""
    if redundancy == "none":
        return base
    if redundancy == "n+1":
        return base + 1.0
    if redundancy == "zone":
        if zones < 2:
            raise CapplanError(f"zone redundancy needs at least 2 zones, got {zones!r}")
        return ceil_tol(base * zones / (zones - 1))
    raise CapplanError(f"redundancy must be 'none', 'n+1' or 'zone', got {redundancy!r}")


def surviving(instances: np.ndarray, redundancy: Redundancy, zones: int) -> np.ndarray:
    """Instances left after the failure redundancy plans for (the inverse of :func:`add_redundancy`)."""
    n = np.asarray(instances, dtype=float)
    if redundancy == "n+1":
        return np.maximum(n - 1.0, 0.0)
    if redundancy == "zone":
        return -ceil_tol(-n * (zones - 1) / zones)  # floor, ignoring float noise
    return n


def _cap(required: np.ndarray, max_instances: np.ndarray | float | None) -> tuple[np.ndarray, np.ndarray]:
    if max_instances is None:
        return required, np.zeros(required.shape, dtype=bool)
    cap = np.asarray(max_instances, dtype=float)
    capped = np.isfinite(cap) & (required > cap)
    return np.where(capped, cap, required), capped


def required_instances(
    demand: float,
    capacity_per_instance: float,
    target_utilization: float,
    *,
    redundancy: Redundancy = "n+1",
    zones: int = 3,
    headroom: float = 0.1,
    max_instances: int | None = None,
) -> tuple[int, bool]:
    """Instances needed for ``demand`` (see the module docstring) and whether the cap cut it.

    (Seven parameters: the scalar form of :func:`plan_instances` for one row; the keyword-only
    ones are the fields of :class:`PlanningConfig` it uses, so tests can state each.)"""
    req = _required_array(
        np.array([demand]),
        np.array([capacity_per_instance]),
        np.array([target_utilization]),
        redundancy,
        zones,
        headroom,
    )
    out, capped = _cap(req, None if max_instances is None else np.array([max_instances]))
    return int(out[0]), bool(capped[0])


def _merge_inventory(demand_frame: pd.DataFrame, inventory: pd.DataFrame) -> pd.DataFrame:
    require_columns(demand_frame, DEMAND_COLUMNS, "demand frame")
    require_columns(inventory, INVENTORY_COLUMNS, "inventory")
    inv = inventory[list(INVENTORY_COLUMNS)]
    dup = inv[inv.duplicated(KEYS, keep=False)]
    if not dup.empty:
        pairs = sorted({f"{s}/{r}" for s, r in dup[KEYS].itertuples(index=False)})
        raise CapplanError(f"inventory lists a service/resource more than once: {', '.join(pairs)}")
    merged = demand_frame.merge(inv, on=KEYS, how="left", validate="many_to_one", indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    if not missing.empty:
        pairs = sorted({f"{s}/{r}" for s, r in missing[KEYS].itertuples(index=False)})
        raise CapplanError(f"no inventory row for service/resource: {', '.join(pairs)}")
    bad = merged[
        ~(merged["capacity_per_instance"] > 0)
        | ~((merged["target_utilization"] > 0) & (merged["target_utilization"] <= 1))
        | ~(merged["instances"] >= 0)
    ]
    if not bad.empty:
        pairs = sorted({f"{s}/{r}" for s, r in bad[KEYS].itertuples(index=False)})
        raise CapplanError(
            "inventory needs capacity_per_instance > 0, 0 < target_utilization <= 1 and instances >= 0; "
            f"not so for: {', '.join(pairs)}"
        )
    return merged.drop(columns="_merge")


def split_plannable(
    demand_frame: pd.DataFrame, inventory: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split a plan's input so that one bad row cannot block the rest.

    Returns ``(demand, inventory, problems)``: the demand rows and inventory rows that can be
    sized, and one row per ``service, resource`` that cannot (``service, resource, reason``):
    no inventory row, the pair listed more than once, or an inventory row with
    ``capacity_per_instance <= 0``, a target utilization outside (0, 1] or negative instances.
    """
    require_columns(demand_frame, ["service", "resource"], "demand frame")
    require_columns(inventory, INVENTORY_COLUMNS, "inventory")
    dup = inventory.duplicated(KEYS, keep=False)
    bad = (
        ~(inventory["capacity_per_instance"] > 0)
        | ~((inventory["target_utilization"] > 0) & (inventory["target_utilization"] <= 1))
        | ~(inventory["instances"] >= 0)
    )
    problems = {}
    for s, r in inventory.loc[bad & ~dup, KEYS].itertuples(index=False):
        problems[(s, r)] = (
            "inventory needs capacity_per_instance > 0, 0 < target_utilization <= 1 and instances >= 0"
        )
    for s, r in inventory.loc[dup, KEYS].itertuples(index=False):
        problems[(s, r)] = "the inventory lists this service/resource more than once"
    known = set(inventory[KEYS].itertuples(index=False, name=None))
    for s, r in demand_frame[KEYS].drop_duplicates().itertuples(index=False):
        if (s, r) not in known:
            problems[(s, r)] = "no inventory row for this service/resource"
    pairs = pd.MultiIndex.from_tuples(list(problems), names=KEYS) if problems else None
    ok_demand = demand_frame
    ok_inv = inventory[~(bad | dup)]
    if pairs is not None:
        ok_demand = demand_frame[~pd.MultiIndex.from_frame(demand_frame[KEYS]).isin(pairs)]
    out = pd.DataFrame(
        [{"service": s, "resource": r, "reason": why} for (s, r), why in sorted(problems.items())],
        columns=["service", "resource", "reason"],
    )
    return ok_demand.reset_index(drop=True), ok_inv.reset_index(drop=True), out


def plan_instances(
    demand_frame: pd.DataFrame, inventory: pd.DataFrame, planning_cfg: PlanningConfig
) -> pd.DataFrame:
    """Size every row of a demand frame against the inventory.

    ``demand_frame``: ``service, resource, scenario, ds, demand`` (demand in the inventory's
    ``unit`` for that resource). ``inventory``: one row per ``service, resource`` with
    ``capacity_per_instance, instances, target_utilization, max_instances,
    cost_per_instance_hour`` (NaN ``max_instances`` means no cap).

    Returns the demand frame's columns plus: ``instances`` (current), ``target_utilization``,
    ``usable_capacity`` (instances * capacity * target_utilization, resource unit),
    ``instances_required`` (after the cap), ``instances_uncapped``, ``capped``,
    ``cost_per_hour`` (instances_required * cost_per_instance_hour, currency/hour),
    ``cost_per_hour_uncapped`` (instances_uncapped * cost_per_instance_hour), ``demand_unserved``
    (see the module docstring) and
    ``utilization_at_current`` (demand / (instances * capacity); ``inf`` with no instances
    and positive demand).
    """
    m = _merge_inventory(demand_frame, inventory)
    cap = m["capacity_per_instance"].to_numpy(float)
    inst = m["instances"].to_numpy(float)
    util = m["target_utilization"].to_numpy(float)
    demand = m["demand"].to_numpy(float)
    uncapped = _required_array(
        demand, cap, util, planning_cfg.redundancy, planning_cfg.zones, planning_cfg.headroom
    )
    required, capped = _cap(uncapped, m["max_instances"].to_numpy(float))
    out = demand_frame.copy()
    out["instances"] = inst
    out["target_utilization"] = util
    out["usable_capacity"] = inst * cap * util
    out["instances_required"] = required.astype("int64")
    out["instances_uncapped"] = uncapped.astype("int64")
    out["capped"] = capped
    price = m["cost_per_instance_hour"].to_numpy(float)
    out["cost_per_hour"] = required * price
    out["cost_per_hour_uncapped"] = uncapped * price
    served = surviving(required, planning_cfg.redundancy, planning_cfg.zones) * cap * util
    out["demand_unserved"] = np.maximum(demand - served, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["utilization_at_current"] = np.where(
            inst * cap > 0, demand / (inst * cap), np.where(demand > 0, np.inf, 0.0)
        )
    return out


def _usl_peak_count(fit) -> float:
    """The integer count with the most USL throughput (the knee when throughput never peaks)."""
    from .usl import usl_capacity

    if not np.isfinite(fit.n_peak):  # Amdahl (kappa 0): past the knee, instances stop paying
        return float(max(1, int(np.ceil(fit.n_knee)))) if np.isfinite(fit.n_knee) else 1.0
    cands = [max(1, int(np.floor(fit.n_peak))), max(1, int(np.ceil(fit.n_peak)))]
    return float(max(cands, key=lambda m: usl_capacity(fit, m)))


def size_with_usl(plan: pd.DataFrame, fits: pd.DataFrame, planning_cfg: PlanningConfig) -> pd.DataFrame:
    """Re-size the ``rps`` rows of services with load tests by their USL fit (and Erlang C).

    ``plan``: :func:`plan_instances` output plus ``max_instances`` and ``cost_per_instance_hour``;
    ``fits``: :func:`capplan.planning.usl.fit_usl_frame` output. Throughput does not scale
    linearly, so the count is the smallest N whose USL throughput x target utilization carries
    the demand with headroom; with a latency SLO (``latency_slo_ms``) at least the M/M/c servers
    that keep p99 under it (service rate = the single-instance throughput), and ``sizing_basis``
    says ``erlang_c latency slo`` only where that count is the larger one. Redundancy is added
    as for linear sizing. Demand past the USL peak cannot be served by scaling out: the count
    stops at the peak (``sizing_basis`` = ``usl: beyond peak throughput``) and what it cannot
    carry is ``demand_unserved``. Usable capacity at the current count is the USL throughput x
    target utilization. Other rows keep ``sizing_basis = 'linear'``.
    """
    from .queueing import servers_for_latency
    from .usl import UslFit, usl_capacity, usl_instances_for

    out = plan.assign(sizing_basis="linear")
    if fits.empty:
        return out
    for col in ("instances_uncapped", "instances_required", "usable_capacity", "cost_per_hour"):
        out[col] = out[col].astype(float)
    pc = planning_cfg
    for r in fits.itertuples(index=False):
        fit = UslFit(**{k: getattr(r, k) for k in UslFit.__dataclass_fields__})
        rows = ((out["service"] == r.service) & (out["resource"] == "rps")).to_numpy()
        if not rows.any():
            continue
        util = out.loc[rows, "target_utilization"].to_numpy(float)
        demand = out.loc[rows, "demand"].to_numpy(float)
        need = np.array(
            [usl_instances_for(fit, d * (1 + pc.headroom) / u) for d, u in zip(demand, util, strict=True)]
        )
        beyond = ~np.isfinite(need)
        basis = np.where(beyond, "usl: beyond peak throughput", "usl")
        need = np.where(beyond, _usl_peak_count(fit), need)
        slo = pc.latency_slo_ms.get(r.service)
        if slo:
            lat = np.array([servers_for_latency(d, r.lam, slo / 1000.0) for d in demand], dtype=float)
            basis = np.where(~beyond & (lat > need), "erlang_c latency slo", basis)
            need = np.where(beyond, need, np.fmax(need, lat))
        need = add_redundancy(need, pc.redundancy, pc.zones)
        cap = out.loc[rows, "max_instances"].to_numpy(float)
        required, capped = _cap(need, cap)
        price = out.loc[rows, "cost_per_instance_hour"].to_numpy(float)
        served = usl_capacity(fit, np.maximum(surviving(required, pc.redundancy, pc.zones), 0.0)) * util
        out.loc[rows, "instances_uncapped"] = need
        out.loc[rows, "instances_required"] = required
        out.loc[rows, "capped"] = capped
        out.loc[rows, "sizing_basis"] = basis
        out.loc[rows, "usable_capacity"] = (
            usl_capacity(fit, out.loc[rows, "instances"].to_numpy(float)) * util
        )
        out.loc[rows, "cost_per_hour"] = required * price
        out.loc[rows, "cost_per_hour_uncapped"] = need * price
        out.loc[rows, "demand_unserved"] = np.maximum(demand - served, 0.0)
    out["instances_required"] = out["instances_required"].astype("int64")
    out["instances_uncapped"] = out["instances_uncapped"].astype("int64")
    return out


def size_plan(
    demand_frame: pd.DataFrame,
    inventory: pd.DataFrame,
    fits: pd.DataFrame | None,
    planning_cfg: PlanningConfig,
) -> pd.DataFrame:
    """The one sizing every planning figure uses: :func:`plan_instances`, then :func:`size_with_usl`.

    Required instances, cost, the cost of headroom and the frontier all come from here, so the
    numbers a planner compares agree by construction. ``fits``: USL fits (or None/empty).
    """
    plan = plan_instances(demand_frame, inventory, planning_cfg)
    extra = [c for c in ("max_instances", "cost_per_instance_hour", "unit") if c in inventory]
    plan = plan.merge(inventory[[*KEYS, *extra]], on=KEYS, how="left")
    return size_with_usl(plan, fits if fits is not None else pd.DataFrame(), planning_cfg)
