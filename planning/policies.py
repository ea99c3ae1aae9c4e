"""Autoscaling policies: replay a reactive and a predictive policy on a series and score them.

Two questions: "would a predictive policy have beaten the reactive one last month?"
(:func:`compare_policies`) and "what should autoscaling do tomorrow?" (:func:`recommend_schedule`).

All counts are instances *in service* during a step (ready, taking load). For capacity K per
instance (demand unit) and target utilization u in (0, 1], the count that serves a demand D at
the target is ``desired(D) = ceil(D / (K * u))`` (``ceil`` ignores float noise), clamped to
``[min_instances, max_instances]``.

* Reactive (:func:`replay_reactive`), target tracking like AWS target tracking / Kubernetes HPA:
  it sees only the previous step's demand, so a jump at step s is met at step
  ``s + 1 + scale_out_delay`` at the earliest. Rules in the function's docstring.
* Predictive (:func:`replay_predictive`), like AWS predictive scaling: the count for each step
  is sized from the forecast for that step, known in advance (published at an earlier cutoff):
  ``ceil(forecast * (1 + headroom) / (K * u))``, clamped.
* Combined (:func:`combine_policies`), AWS "forecast and scale": the larger of the two per step.

Scores (:func:`score_policy`): a step is under-provisioned when demand exceeds 100% of the
provisioned capacity (``demand > instances * K``), not merely the target utilization.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.config import PlanningConfig
from capplan.core.errors import CapplanError

from ._common import HOURS_PER_MONTH, ceil_tol, require_columns

KEYS = ["service", "resource"]
POLICIES = ("reactive", "predictive", "predictive+reactive")
POLICY_INVENTORY_COLUMNS = (
    "service",
    "resource",
    "capacity_per_instance",
    "target_utilization",
    "max_instances",
    "cost_per_instance_hour",
)
SCORE_KEYS = (
    "steps",
    "instance_hours",
    "cost",
    "under_provisioned_steps",
    "under_provisioned_share",
    "shortfall",
    "mean_utilization",
    "over_provisioned_share",
)
COMPARE_COLUMNS = ("service", "resource", "policy", *SCORE_KEYS, "monthly_cost", "winner")
SCHEDULE_COLUMNS = ("service", "resource", "ds", "instances_recommended", "capped")
_TOL = 1e-9


def _check_sizing(capacity_per_instance: float, target_utilization: float) -> None:
    if not (np.isfinite(capacity_per_instance) and capacity_per_instance > 0):
        raise CapplanError(f"capacity_per_instance must be finite and > 0, got {capacity_per_instance!r}")
    if not 0 < target_utilization <= 1:
        raise CapplanError(f"target_utilization must be in (0, 1], got {target_utilization!r}")


def _bounds(min_instances: int, max_instances: float | None) -> tuple[float, float]:
    hi = np.inf if max_instances is None or not np.isfinite(max_instances) else float(max_instances)
    if min_instances < 0 or hi < min_instances:
        raise CapplanError(
            f"need 0 <= min_instances <= max_instances, got min {min_instances!r}, max {max_instances!r}"
        )
    return float(min_instances), hi


def _series(values, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise CapplanError(f"{what} must be a one-dimensional array of finite numbers")
    return arr


def _desired(load: np.ndarray, capacity: float, util: float, lo: float, hi: float) -> np.ndarray:
    return np.clip(ceil_tol(np.maximum(load, 0.0) / (capacity * util)), lo, hi)


def replay_reactive(
    demand,
    capacity_per_instance: float,
    target_utilization: float,
    *,
    min_instances: int = 1,
    max_instances: float | None = None,
    scale_out_delay: int = 1,
    cooldown: int = 3,
    scale_in_step: int = 1,
    initial: int | None = None,
) -> np.ndarray:
    """Instances in service per step under a reactive target-tracking policy (int64 array).

    (Nine parameters: the demand and the policy's seven keyword-only knobs, each a documented
    rule below with a default; a kernel mapped over series by :func:`compare_policies`.)

    Rules, with ``desired[t] = clamp(ceil(demand[t-1] / (K * u)))`` (the policy sees the
    *previous* step's demand; ``clamp`` to ``[min_instances, max_instances]``, None/NaN = no cap):

    1. Step 0 runs ``initial`` (clamped), by default ``desired`` of ``demand[0]``: the policy is
       assumed settled on the load it starts in.
    2. At each step t >= 1, first instances launched ``scale_out_delay`` steps ago become ready.
    3. Scale out: if ``desired[t]`` exceeds the instances in service plus those still launching,
       the difference is launched at t and serves from step ``t + scale_out_delay`` (from t itself
       when the delay is 0). Scale-out is never held back by the cooldown.
    4. Scale in, only when nothing is launching and at least ``cooldown`` steps have passed since
       the last scaling decision (out or in): the target is the largest ``desired`` over the last
       ``max(cooldown, 1)`` steps (t included; Kubernetes' downscale stabilization window, which
       stops flapping on demand that alternates faster than the cooldown); if it is below the
       count in service, remove ``min(scale_in_step, count - target)`` instances at once.

    So a step increase of demand at step s is first met at step ``s + 1 + scale_out_delay``
    (under-provisioned for ``1 + scale_out_delay`` steps when it exceeds the old capacity), and a
    drop is followed down by at most ``scale_in_step`` instances per step once cooled down.
    """
    _check_sizing(capacity_per_instance, target_utilization)
    d = _series(demand, "demand")
    lo, hi = _bounds(min_instances, max_instances)
    if scale_out_delay < 0 or cooldown < 0 or scale_in_step < 1:
        raise CapplanError(
            "need scale_out_delay >= 0, cooldown >= 0 and scale_in_step >= 1, got "
            f"{scale_out_delay!r}, {cooldown!r}, {scale_in_step!r}"
        )
    n = d.size
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    desired = np.empty(n)
    desired[1:] = _desired(d[:-1], capacity_per_instance, target_utilization, lo, hi)
    first = _desired(d[:1], capacity_per_instance, target_utilization, lo, hi)[0]
    current = int(first if initial is None else np.clip(initial, lo, hi))
    out[0] = current
    launching = np.zeros(n + scale_out_delay + 1, dtype=np.int64)  # ready at step index
    last_action = -cooldown  # a cooldown already served at the start
    window = max(cooldown, 1)
    for t in range(1, n):
        current += int(launching[t])
        pending = int(launching[t + 1 :].sum())
        want = int(desired[t])
        if want > current + pending:
            if scale_out_delay == 0:
                current = want
            else:
                launching[t + scale_out_delay] += want - current - pending
            last_action = t
        elif pending == 0 and t - last_action >= cooldown:
            target = int(desired[max(1, t - window + 1) : t + 1].max())
            if target < current:
                current -= min(scale_in_step, current - target)
                last_action = t
        out[t] = current
    return out


def replay_predictive(
    forecast,
    capacity_per_instance: float,
    target_utilization: float,
    *,
    headroom: float = 0.0,
    min_instances: int = 1,
    max_instances: float | None = None,
) -> np.ndarray:
    """Instances per step sized from that step's forecast (int64 array).

    ``clamp(ceil(forecast * (1 + headroom) / (K * u)))``; negative forecasts count as 0. The
    forecast for a step must have been known before it (published at an earlier cutoff), so the
    instances are ready when the step starts.
    """
    _check_sizing(capacity_per_instance, target_utilization)
    f = _series(forecast, "forecast")
    lo, hi = _bounds(min_instances, max_instances)
    if not headroom >= 0:
        raise CapplanError(f"headroom must be >= 0, got {headroom!r}")
    return _desired(f * (1.0 + headroom), capacity_per_instance, target_utilization, lo, hi).astype(np.int64)


def combine_policies(predictive, reactive) -> np.ndarray:
    """AWS "forecast and scale" with a reactive floor: the larger count per step."""
    p, r = np.asarray(predictive), np.asarray(reactive)
    if p.shape != r.shape:
        raise CapplanError(f"policies must have the same length, got {p.shape} and {r.shape}")
    return np.maximum(p, r)


def score_policy(
    demand,
    instances,
    capacity_per_instance: float,
    cost_per_instance_hour: float,
    step_hours: float = 1.0,
    *,
    low_utilization: float = 0.3,
) -> dict[str, float]:
    """Cost and service of an instance schedule against the demand it met.

    Per step, capacity = instances * K and utilization = demand / capacity. Returns
    ``steps``; ``instance_hours`` (sum of instances * step_hours); ``cost`` (instance_hours *
    price); ``under_provisioned_steps`` (demand > capacity, i.e. above 100% utilization, with a
    1e-9 relative tolerance) and their ``under_provisioned_share`` of steps; ``shortfall`` (sum
    of unserved demand * step_hours, demand unit x h); ``mean_utilization`` (mean over steps
    with capacity > 0, may exceed 1; NaN when there are none); ``over_provisioned_share``
    (share of steps with capacity > 0 and utilization < ``low_utilization``).
    """
    d = _series(demand, "demand")
    inst = _series(instances, "instances")
    if d.size != inst.size or d.size == 0:
        raise CapplanError(f"score_policy needs one count per demand step, got {d.size} and {inst.size}")
    if not (capacity_per_instance > 0 and step_hours > 0):
        raise CapplanError("capacity_per_instance and step_hours must be > 0")
    cap = inst * capacity_per_instance
    unserved = np.maximum(d - cap, 0.0)
    short = unserved > _TOL * np.maximum(1.0, cap)
    live = cap > 0
    util = d[live] / cap[live]
    hours = float(inst.sum() * step_hours)
    return {
        "steps": int(d.size),
        "instance_hours": hours,
        "cost": hours * float(cost_per_instance_hour),
        "under_provisioned_steps": int(short.sum()),
        "under_provisioned_share": float(short.mean()),
        "shortfall": float(unserved[short].sum() * step_hours),
        "mean_utilization": float(util.mean()) if util.size else float("nan"),
        "over_provisioned_share": float((util < low_utilization).sum() / d.size),
    }


def _inventory_rows(inventory: pd.DataFrame) -> dict[tuple, pd.Series]:
    require_columns(inventory, POLICY_INVENTORY_COLUMNS, "inventory")
    dup = inventory[inventory.duplicated(KEYS, keep=False)]
    if not dup.empty:
        pairs = sorted({f"{s}/{r}" for s, r in dup[KEYS].itertuples(index=False)})
        raise CapplanError(f"inventory lists a service/resource more than once: {', '.join(pairs)}")
    return {(row["service"], row["resource"]): row for _, row in inventory.iterrows()}


def _groups(frame: pd.DataFrame, columns: list[str], inv: dict, what: str):
    """Yield (service, resource, sorted group, inventory row); errors name the service."""
    require_columns(frame, [*KEYS, "ds", *columns], what)
    missing = sorted(
        {f"{s}/{r}" for s, r in frame[KEYS].drop_duplicates().itertuples(index=False)}
        - {f"{s}/{r}" for s, r in inv}
    )
    if missing:
        raise CapplanError(f"{what}: no inventory row for service/resource: {', '.join(missing)}")
    for (service, resource), grp in frame.groupby(KEYS, sort=True):
        grp = grp.sort_values("ds")
        if grp["ds"].duplicated().any():
            raise CapplanError(f"{what}: {service}/{resource} has repeated ds")
        bad = [c for c in columns if not np.all(np.isfinite(grp[c].to_numpy(float)))]
        if bad:
            raise CapplanError(f"{what}: {service}/{resource} has missing or non-finite {', '.join(bad)}")
        yield service, resource, grp, inv[(service, resource)]


def _step_hours(ds: pd.Series, label: str) -> float:
    if len(ds) < 2:
        return 1.0
    steps = ds.diff().iloc[1:].unique()
    if len(steps) != 1:
        raise CapplanError(f"{label}: ds must be evenly spaced to replay a policy; found steps {list(steps)}")
    return pd.Timedelta(steps[0]) / pd.Timedelta(hours=1)


def _sizing_args(row: pd.Series) -> dict:
    mx = float(row["max_instances"]) if pd.notna(row["max_instances"]) else None
    mn = int(row["min_instances"]) if "min_instances" in row.index and pd.notna(row["min_instances"]) else 1
    return {"min_instances": mn, "max_instances": mx}


def _winners(scores: pd.DataFrame) -> pd.Series:
    order = scores["policy"].map({p: i for i, p in enumerate(POLICIES)})
    ranked = scores.assign(_order=order).sort_values(
        [*KEYS, "under_provisioned_steps", "cost", "_order"], kind="stable"
    )
    first = ranked.groupby(KEYS, sort=False).head(1).index
    return pd.Series(scores.index.isin(first), index=scores.index)


def compare_policies(
    frame: pd.DataFrame,
    inventory: pd.DataFrame,
    *,
    quantile_col: str = "p90",
    cfg: PlanningConfig | None = None,
    scale_out_delay: int = 1,
    cooldown: int = 3,
) -> pd.DataFrame:
    """Replay reactive, predictive and combined policies on a past period and score them.

    ``frame``: ``service, resource, ds, y`` (actual demand) and ``quantile_col`` (the forecast
    for each ds, published before it), evenly spaced per service/resource. ``inventory``: one
    row per ``service, resource`` with ``capacity_per_instance, target_utilization,
    max_instances`` (NaN = no cap) ``, cost_per_instance_hour`` and optionally
    ``min_instances`` (default 1). The predictive policy uses ``cfg.headroom`` (0 without cfg);
    the reactive one tracks the target utilization only, with default ``initial`` and
    ``scale_in_step`` 1.

    Returns one row per service, resource, policy (``reactive``, ``predictive``,
    ``predictive+reactive``) with the :func:`score_policy` scores, ``monthly_cost`` (cost per
    hour of the period * 730) and ``winner``: True for exactly one policy per service/resource,
    the one with the fewest under-provisioned steps, ties broken by lower cost, then by the
    order above.
    """
    headroom = cfg.headroom if cfg is not None else 0.0
    inv = _inventory_rows(inventory)
    rows = []
    for service, resource, grp, row in _groups(frame, ["y", quantile_col], inv, "policy comparison input"):
        hours = _step_hours(grp["ds"], f"policy comparison input: {service}/{resource}")
        cap, util = float(row["capacity_per_instance"]), float(row["target_utilization"])
        size = _sizing_args(row)
        y = grp["y"].to_numpy(float)
        reactive = replay_reactive(y, cap, util, scale_out_delay=scale_out_delay, cooldown=cooldown, **size)
        predictive = replay_predictive(
            grp[quantile_col].to_numpy(float), cap, util, headroom=headroom, **size
        )
        schedules = dict(
            zip(POLICIES, (reactive, predictive, combine_policies(predictive, reactive)), strict=True)
        )
        for policy, inst in schedules.items():
            score = score_policy(y, inst, cap, float(row["cost_per_instance_hour"]), hours)
            monthly = score["cost"] / (score["steps"] * hours) * HOURS_PER_MONTH
            rows.append(
                {"service": service, "resource": resource, "policy": policy, **score, "monthly_cost": monthly}
            )
    out = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS[:-1]))
    out["winner"] = _winners(out) if not out.empty else pd.Series(dtype=bool)
    return out


def recommend_schedule(
    forecast_frame: pd.DataFrame,
    inventory: pd.DataFrame,
    quantile_col: str = "p90",
    cfg: PlanningConfig | None = None,
) -> pd.DataFrame:
    """The predictive instance schedule for the coming horizon ("what autoscaling should do").

    ``forecast_frame``: ``service, resource, ds`` and ``quantile_col`` (forecast demand);
    ``inventory`` as in :func:`compare_policies`. Each row gets
    ``ceil(forecast * (1 + cfg.headroom) / (K * u))`` (headroom 0 without cfg) clamped to
    ``[min_instances, max_instances]``. Returns ``service, resource, ds, instances`` (int64) and
    ``capped`` (True where ``max_instances`` cut the count), sorted by service, resource, ds.
    """
    headroom = cfg.headroom if cfg is not None else 0.0
    inv = _inventory_rows(inventory)
    parts = []
    for service, resource, grp, row in _groups(forecast_frame, [quantile_col], inv, "schedule input"):
        cap, util = float(row["capacity_per_instance"]), float(row["target_utilization"])
        size = _sizing_args(row)
        f = grp[quantile_col].to_numpy(float)
        inst = replay_predictive(f, cap, util, headroom=headroom, **size)
        uncapped = replay_predictive(f, cap, util, headroom=headroom, min_instances=size["min_instances"])
        parts.append(
            pd.DataFrame(
                {
                    "service": service,
                    "resource": resource,
                    "ds": grp["ds"].to_numpy(),
                    "instances_recommended": inst,
                    "capped": uncapped > inst,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(SCHEDULE_COLUMNS))
    return pd.concat(parts, ignore_index=True)
