"""What to do, per service: the ``actions`` table (the workbook's first sheet).

One row per planned service, worst first (earliest ``by_date``, then the most serious action).
The action is the most serious that applies:

1. ``re_architect``: demand passes the load-tested USL throughput peak on some day
   (``sizing_basis`` ``usl: beyond peak throughput`` with ``demand_unserved > 0``): more
   instances do not help; ``instances_recommended`` is the count at the peak.
2. ``raise_max_instances``: the count needed is above ``max_instances`` on some day: raise it
   to ``instances_recommended`` and scale out by ``by_date`` (the first capped day).
3. ``scale_out``: ``instances_uncapped`` is above today's ``instances`` on some day (the first
   such day is ``by_date``); or right-sizing says ``scale_up``.
4. ``right_size_down``: right-sizing says the service is over-provisioned and the need (trailing
   and forecast) is below today's count; ``by_date`` is the plan's ``as_of`` (any time).
5. ``keep``: nothing to do within the horizon; ``by_date`` is the horizon's end (plan again).

``by_date`` is the earliest day of any need of the service: a re-architecture or a cap raise
whose scale-out need starts earlier is due by the scale-out's first day (the note says both).
For the first three, ``instances_recommended`` is the peak ``instances_uncapped`` of the expected
scenario when it needs the action, else the largest over the scenarios that need it
(``scenarios`` lists them, in config order). ``monthly_cost_change`` = (recommended - today's
instances) x cost per instance-hour x 730. ``severity`` follows the alerts' rule on
``days_left`` (critical within 7 days, warning within ``runway_alert_days``, info later).

Long range (:func:`add_long_range`): a service with nothing to add within the short horizon
(``keep``, ``right_size_down``) whose long-range crossing minus its lead time falls within
``runway_alert_days`` becomes ``order_hardware`` (``scale_out`` without a lead time): by the
crossing (``by_date``), ordered by ``order_by_date``, the purchase plan's count for that month;
severity from the days to the order-by date. Other ``keep`` rows name their long-range crossing.

Procurement: ``order_by_date`` = ``by_date`` - ``[planning] lead_time_days`` of the binding
resource (the inventory's ``lead_time_days``, else ``[planning] lead_time_days``, else 0) for actions that add instances (empty otherwise); a date
before ``as_of`` means the order is already late, and the note says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.config import PlanningConfig

from ._common import HOURS_PER_MONTH
from .alerts import severity_for

ACTION_COLUMNS = (
    "rank", "service", "action", "by_date", "days_left", "order_by_date", "severity", "instances", "instances_recommended",
    "binding_resource", "monthly_cost_change", "scenarios", "note",
)  # fmt: skip
_RANK = {
    "re_architect": 0,
    "raise_max_instances": 1,
    "scale_out": 2,
    "order_hardware": 3,
    "right_size_down": 4,
    "keep": 5,
}


def _need(rows: pd.DataFrame, expected: str, order: list[str]) -> tuple[float, str, str, pd.Timestamp]:
    """(count, binding resource, scenarios, first date) for the rows that need an action."""
    scen = [s for s in order if s in set(rows["scenario"])]
    pick = rows[rows["scenario"] == expected] if expected in scen else rows
    top = pick.sort_values("instances_uncapped", ascending=False, kind="stable").iloc[0]
    return (
        float(top["instances_uncapped"]),
        str(top["resource"]),
        ", ".join(scen),
        pd.Timestamp(rows["ds"].min()),
    )


def build_actions(
    plan: pd.DataFrame,
    rightsizing: pd.DataFrame,
    cfg: PlanningConfig,
    *,
    as_of: pd.Timestamp,
    scenarios: list[str],
    lead_times: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``actions`` table (see the module docstring) from a :func:`size_plan` frame and right-sizing.

    ``lead_times``: :func:`.procurement.lead_times` (the inventory's, else the config's)."""
    if plan.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    as_of, end = pd.Timestamp(as_of), pd.Timestamp(plan["ds"].max())
    exp = cfg.expected_scenario
    right = rightsizing.set_index("service") if len(rightsizing) else pd.DataFrame()
    rows = []
    for service, p in plan.groupby("service", sort=True):
        today = float(p["instances"].max())
        price = float(p["cost_per_instance_hour"].max()) * HOURS_PER_MONTH
        beyond = p[(p.get("sizing_basis", "") == "usl: beyond peak throughput") & (p["demand_unserved"] > 0)]
        capped = p[p["capped"].astype(bool)]
        short = p[p["instances_uncapped"] > p["instances"]]
        r = right.loc[service] if service in right.index else None
        note = ""
        if len(beyond):
            action, (count, res, scen, date) = "re_architect", _need(beyond, exp, scenarios)
            note = (f"demand passes the load-tested throughput peak (up to {beyond['demand_unserved'].max():,.0f} "
                    f"{beyond['unit'].iloc[0] if 'unit' in beyond else ''} unserved): shard, cache or load-test again")  # fmt: skip
        elif len(capped):
            action, (count, res, scen, date) = "raise_max_instances", _need(capped, exp, scenarios)
            note = f"raise max_instances from {int(capped['max_instances'].max())} to {int(count)}, then scale out"
        elif len(short):
            action, (count, res, scen, date) = "scale_out", _need(short, exp, scenarios)
            note = f"scale out from {int(today)} to {int(count)} instances"
        elif r is not None and r["action"] == "scale_up":
            action, count, res, scen, date = (
                "scale_out",
                float(r["instances_recommended"]),
                r["binding_resource"],
                exp,
                as_of,
            )
            note = "right-sizing: trailing usage needs more than today's count"  # fmt: skip
        elif r is not None and r["action"] == "right_size_down":
            action, count, res, scen, date = (
                "right_size_down",
                float(r["instances_recommended"]),
                r["binding_resource"],
                "all",
                as_of,
            )
            note = (f"p95 utilization {r['max_p95_utilization']:.0%} under the threshold; the forecast needs "
                    f"{int(r['forecast_need']) if np.isfinite(r['forecast_need']) else int(count)}")  # fmt: skip
        else:
            top = p.sort_values("instances_uncapped", ascending=False, kind="stable").iloc[0]
            action, count, res, scen, date = "keep", today, str(top["resource"]), "all", end
            note = "enough instances for every scenario within the horizon; plan again before the end"
        if len(short) and action in ("re_architect", "raise_max_instances"):
            first = pd.Timestamp(short["ds"].min())  # the scale-out need comes first: act by then
            if first < date:
                note = f"scale out from {int(today)} by {first:%Y-%m-%d}; {note}"
                date = first
        days = max(0.0, (date - as_of) / pd.Timedelta(days=1))
        order_by = pd.NaT
        if action in ("re_architect", "raise_max_instances", "scale_out"):
            lead = float(cfg.lead_time_days.get(res, 0.0))
            if lead_times is not None and len(lead_times):
                own = lead_times[(lead_times["service"] == service) & (lead_times["resource"] == res)]
                lead = float(own["lead_time_days"].iloc[0]) if len(own) else lead
            order_by = date - pd.Timedelta(days=lead)
            if lead and order_by < as_of:
                note = f"{note}; order now: {lead:g} days of lead time for {res}, {(as_of - order_by).days} days late"
        rows.append(
            dict(service=service, action=action, by_date=date, days_left=days, order_by_date=order_by,
                 severity="info" if action in ("keep", "right_size_down") else severity_for(days, cfg.runway_alert_days),
                 instances=today, instances_recommended=count, binding_resource=res,
                 monthly_cost_change=(count - today) * price, scenarios=scen, note=note)
        )  # fmt: skip
    out = pd.DataFrame(rows)
    out = out.assign(_r=out["action"].map(_RANK), _k=out["action"].isin(["keep", "right_size_down"]))
    out = out.sort_values(["_k", "by_date", "_r", "service"], kind="stable").drop(columns=["_r", "_k"])
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)[list(ACTION_COLUMNS)]


def add_long_range(
    actions: pd.DataFrame,
    runway: pd.DataFrame,
    purchase: pd.DataFrame,
    cfg: PlanningConfig,
    *,
    as_of,
    scenarios: list[str],
) -> pd.DataFrame:
    """``actions`` with the long-range plan's orders (see the module docstring).

    ``runway``: :func:`.procurement.extend_runway` output; ``purchase``: :func:`.procurement.purchase_plan`."""
    if actions.empty or "long_range_crossing" not in runway or runway["long_range_crossing"].isna().all():
        return actions
    as_of, out = pd.Timestamp(as_of), actions.copy()
    out = out.astype(
        {"by_date": "datetime64[ns]", "order_by_date": "datetime64[ns]", "instances_recommended": float}
    )
    due = as_of + pd.Timedelta(days=cfg.runway_alert_days)
    lr = runway[runway["long_range_crossing"].notna()].sort_values(
        ["order_by_date", "long_range_crossing"], kind="stable"
    )
    for i, a in out.iterrows():
        rows = lr[lr["service"] == a["service"]]
        if rows.empty or a["action"] not in ("keep", "right_size_down"):
            continue
        first = rows.iloc[0]
        cross, order_by, lead = (
            first["long_range_crossing"],
            first["order_by_date"],
            float(first["lead_time_days"]),
        )
        if order_by > due:
            if a["action"] == "keep":
                out.at[i, "note"] = (f"{a['note']}; long range: {first['resource']} short on {cross:%Y-%m-%d} "
                                     f"({first['scenario']}), order by {order_by:%Y-%m-%d}")  # fmt: skip
            continue
        scen = [s for s in scenarios if s in set(rows.loc[rows["order_by_date"] <= due, "scenario"])]
        pick = purchase[(purchase["service"] == a["service"]) & (purchase["scenario"] == first["scenario"])]
        pick = pick[pick["period"] <= cross]
        count = float(pick["instances_needed"].max()) if len(pick) else float(a["instances"])
        change = float(pick["monthly_cost_change"].max()) if len(pick) else 0.0
        order_days = (order_by - as_of) / pd.Timedelta(days=1)
        late = f", {-order_days:.0f} days late" if order_days < 0 else ""
        out.loc[i, ["action", "by_date", "days_left", "order_by_date", "severity", "instances_recommended",
                    "binding_resource", "monthly_cost_change", "scenarios", "note"]] = [
            "order_hardware" if lead else "scale_out", cross, max(0.0, (cross - as_of) / pd.Timedelta(days=1)),
            order_by, severity_for(max(order_days, 0.0), cfg.runway_alert_days), count, first["resource"], change,
            ", ".join(scen), f"long range: {first['resource']} short on {cross:%Y-%m-%d}; order {int(count - a['instances'])} "
            f"instance(s) by {order_by:%Y-%m-%d} ({lead:g} days of lead time{late})",
        ]  # fmt: skip
    out = out.assign(_r=out["action"].map(_RANK), _k=out["action"].isin(["keep", "right_size_down"]))
    out = out.sort_values(["_k", "by_date", "_r", "service"], kind="stable").drop(columns=["_r", "_k"])
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)[list(ACTION_COLUMNS)]
