"""Alerts from a plan: one per service, resource and kind, naming the scenarios it affects.

Each alert lists the ``scenarios`` it affects (in the plan's scenario order), the earliest
``date`` over them and ``days_left`` (days from the plan's ``as_of`` to that date). Severity comes
from the time left (threshold T = ``runway_alert_days``): **critical** when already short or
within 7 days, **warning** within T days, **info** later. Kinds:

* ``runway_short``: demand crosses usable capacity within the horizon (``already_short`` counts
  as today); the date is the earliest crossing.
* ``cap_hit``: the count needed is above ``max_instances`` on some day; the date is the first
  such day and the message says what to do: raise ``max_instances`` to the peak need before it.
* ``beyond_scale_out``: demand past the load-tested USL throughput peak on some day; adding
  instances cannot serve it (re-architect); the date is the first such day.
* ``over_target_utilization``: utilization at the first planned ds above the row's target: a
  warning; at or above 1.0 (demand beyond raw capacity): critical.
* ``low_confidence``: a series' backtest MASE above ``low_confidence_mase``: a warning on the
  service and resource it feeds (``scenarios`` = ``all``); the other alerts of that service and
  resource say so in their message.
* ``not_planned``: a service/resource the plan could not size (no inventory row, ...): critical;
  the rest of the plan is still built.

Sorted critical, warning, info, then by date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.config import PlanningConfig
from capplan.core.contracts import split_unique_id

from ._common import require_columns

ALERT_COLUMNS = ("severity", "service", "resource", "kind", "scenarios", "date", "days_left", "message")
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
CRITICAL_DAYS = 7.0
_DAY = pd.Timedelta(days=1)


def severity_for(days_left: float, threshold: float) -> str:
    """critical within :data:`CRITICAL_DAYS` (or already short), warning within ``threshold``, else info."""
    if days_left <= CRITICAL_DAYS:
        return "critical"
    return "warning" if days_left <= threshold else "info"


def _ordered(scenarios, order: list[str]) -> str:
    rank = {s: i for i, s in enumerate(order)}
    return ", ".join(sorted(set(scenarios), key=lambda s: (rank.get(s, len(rank)), s)))


def _days(date: pd.Timestamp, as_of: pd.Timestamp) -> float:
    return max(0.0, (pd.Timestamp(date) - as_of) / _DAY)


def _runway_alerts(runway: pd.DataFrame, as_of, threshold: float, order: list[str]) -> list[dict]:
    out = []
    hit = runway[runway["status"].isin(["already_short", "within_horizon"])]
    for (service, resource), g in hit.groupby(["service", "resource"], sort=True):
        short = g[g["status"] == "already_short"]
        date = pd.Timestamp(as_of) if len(short) else pd.Timestamp(g["crossing"].min())
        days = 0.0 if len(short) else _days(date, as_of)
        first = g.sort_values("crossing").iloc[0]
        if len(short):
            msg = f"demand already exceeds usable capacity in {_ordered(short['scenario'], order)}"
        else:
            msg = f"capacity runs out on {date:%Y-%m-%d} (in {days:.0f} days, {first['scenario']})"
        rest = sorted(set(g["scenario"]) - set(short["scenario"]))
        if len(short) and rest:
            msg += f"; runs out within the horizon in {_ordered(rest, order)}"
        out.append(
            dict(service=service, resource=resource, kind="runway_short", scenarios=_ordered(g["scenario"], order),
                 date=date, days_left=days, severity=severity_for(days, threshold), message=msg)
        )  # fmt: skip
    return out


def _plan_alerts(plan: pd.DataFrame, as_of, threshold: float, order: list[str]) -> list[dict]:
    out = []
    p = plan.sort_values("ds")
    first = p.groupby(["service", "resource", "scenario"], sort=False).head(1)
    over = first[first["utilization_at_current"].astype(float) > first["target_utilization"].astype(float)]
    for (service, resource), g in over.groupby(["service", "resource"], sort=True):
        util = float(g["utilization_at_current"].max())
        target = float(g["target_utilization"].iloc[0])
        date = pd.Timestamp(g["ds"].min())
        out.append(
            dict(service=service, resource=resource, kind="over_target_utilization",
                 scenarios=_ordered(g["scenario"], order), date=date, days_left=_days(date, as_of),
                 severity="critical" if util >= 1.0 else "warning",
                 message=f"utilization up to {util:.0%} on {date:%Y-%m-%d} is above the {target:.0%} target")
        )  # fmt: skip
    capped = p[p["capped"].astype(bool)]
    for (service, resource), g in capped.groupby(["service", "resource"], sort=True):
        date, need = pd.Timestamp(g["ds"].min()), int(g["instances_uncapped"].max())
        cap = int(g["instances_required"].max())
        days = _days(date, as_of)
        out.append(
            dict(service=service, resource=resource, kind="cap_hit", scenarios=_ordered(g["scenario"], order),
                 date=date, days_left=days, severity=severity_for(days, threshold),
                 message=f"raise max_instances from {cap} to {need} before {date:%Y-%m-%d}")
        )  # fmt: skip
    if "sizing_basis" in p and "demand_unserved" in p:
        beyond = p[(p["sizing_basis"] == "usl: beyond peak throughput") & (p["demand_unserved"] > 0)]
        for (service, resource), g in beyond.groupby(["service", "resource"], sort=True):
            date = pd.Timestamp(g["ds"].min())
            days = _days(date, as_of)
            out.append(
                dict(service=service, resource=resource, kind="beyond_scale_out",
                     scenarios=_ordered(g["scenario"], order), date=date, days_left=days,
                     severity=severity_for(days, threshold),
                     message=f"demand passes the load-tested throughput peak on {date:%Y-%m-%d} (up to "
                     f"{float(g['demand_unserved'].max()):,.0f} unserved): more instances do not help; "
                     "re-architect (shard, cache) or load-test again")
            )  # fmt: skip
    return out


def _accuracy_alerts(accuracy: pd.DataFrame, limit: float, resource_of: dict, as_of) -> list[dict]:
    out = []
    for r in accuracy[accuracy["mase"] > limit].itertuples(index=False):
        service, metric, _ = split_unique_id(r.unique_id)
        resource = resource_of.get(metric) or metric
        out.append(
            dict(service=service, resource=resource, kind="low_confidence", scenarios="all", date=as_of,
                 days_left=np.nan, severity="warning",
                 message=f"forecast of {r.unique_id} is weak (backtest MASE {r.mase:.2f} > {limit:g}): "
                 "check its dates before acting on them")
        )  # fmt: skip
    return out


def _not_planned(problems: pd.DataFrame, as_of) -> list[dict]:
    return [
        dict(service=r.service, resource=r.resource, kind="not_planned", scenarios="all", date=as_of,
             days_left=0.0, severity="critical",
             message=f"cannot be planned: {r.reason}; the other services are planned")
        for r in problems.itertuples(index=False)
    ]  # fmt: skip


def build_alerts(
    runway: pd.DataFrame,
    utilization: pd.DataFrame,
    accuracy: pd.DataFrame | None,
    cfg: PlanningConfig,
    *,
    as_of: pd.Timestamp | None = None,
    scenarios: list[str] | None = None,
    resource_of: dict | None = None,
    problems: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Alerts per the module rules.

    ``runway``: :func:`runway_frame` output. ``utilization``: :func:`size_plan` output
    (``service, resource, scenario, ds, utilization_at_current, target_utilization, capped,
    instances_required, instances_uncapped``; ``sizing_basis, demand_unserved`` when present).
    ``accuracy``: ``unique_id, mase`` (one row per series) or None. ``as_of``: the plan's origin
    (default: the runway's ``as_of``, else the first ds). ``scenarios``: their order.
    ``resource_of``: metric -> resource. ``problems``: ``service, resource, reason`` that could
    not be planned. Returns :data:`ALERT_COLUMNS`.

    (Eight parameters: the plan tables each alert kind reads, the config and the as-of time; each is one kind's evidence.)
    """
    require_columns(
        runway, ["service", "resource", "scenario", "status", "crossing", "days_left"], "runway frame"
    )
    cols = ["service", "resource", "scenario", "ds", "utilization_at_current", "target_utilization", "capped",
            "instances_required", "instances_uncapped"]  # fmt: skip
    require_columns(utilization, cols, "plan frame")
    if as_of is None:
        as_of = runway["as_of"].min() if "as_of" in runway and len(runway) else utilization["ds"].min()
    as_of = pd.Timestamp(as_of) if as_of is not None and not pd.isna(as_of) else pd.Timestamp(0)
    order = list(scenarios) if scenarios else list(dict.fromkeys(utilization["scenario"]))
    t = cfg.runway_alert_days
    rows = _runway_alerts(runway, as_of, t, order) + _plan_alerts(utilization, as_of, t, order)
    if accuracy is not None:
        require_columns(accuracy, ["unique_id", "mase"], "accuracy frame")
        weak = _accuracy_alerts(accuracy, cfg.low_confidence_mase, resource_of or {}, as_of)
        flagged = {(a["service"], a["resource"]) for a in weak}
        for a in rows:
            if (a["service"], a["resource"]) in flagged:
                a["message"] += " (low forecast confidence: see its low_confidence alert)"
        rows += weak
    if problems is not None and len(problems):
        rows += _not_planned(problems, as_of)
    out = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
    out["date"] = pd.to_datetime(out["date"])
    out["days_left"] = out["days_left"].astype(float)
    order_ = out["severity"].map(_SEVERITY_ORDER)
    return (
        out.assign(_o=order_)
        .sort_values(["_o", "date", "service", "resource", "kind"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )
