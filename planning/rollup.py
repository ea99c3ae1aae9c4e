"""The plan rolled up for people: per month, per scenario, and the summary a planner reads first.

* :func:`monthly_plan`: the daily plan per ``service, resource, scenario, period`` (a month):
  ``demand_peak``, ``instances_required`` and ``instances_uncapped`` (the month's peaks),
  ``demand_unserved`` (its peak), ``days_planned`` (the days of the month the horizon covers),
  ``monthly_cost`` (serving the demand: uncapped) and ``monthly_cost_capped``.
* :func:`scenario_totals`: per ``scenario, period``, each service counted once with its largest
  value over resources, summed over services.
* :func:`plan_summary`: the figures the workbook and report open with.

``monthly_cost`` means one thing everywhere: 730 hours at the cost per hour of the peak of the
row's period (the horizon in ``cost``, the month here).
"""

from __future__ import annotations

import pandas as pd

from capplan.core.bundles import HOURS_PER_MONTH
from capplan.core.config import Config

MONTH_COLUMNS = (
    "service", "resource", "scenario", "period", "days_planned", "demand_peak", "unit", "usable_capacity",
    "instances", "instances_required", "instances_uncapped", "capped", "demand_unserved", "monthly_cost",
    "monthly_cost_capped", "sizing_basis",
)  # fmt: skip
TOTAL_COLUMNS = (
    "scenario", "period", "monthly_cost", "monthly_cost_capped", "instances_required", "instances_uncapped",
    "instances", "days_planned",
)  # fmt: skip


def monthly_plan(plan: pd.DataFrame) -> pd.DataFrame:
    """Daily plan rows rolled up per service, resource, scenario and month (peaks)."""
    if plan.empty:
        return pd.DataFrame(columns=list(MONTH_COLUMNS))
    p = plan.assign(
        period=plan["ds"].dt.to_period("M").dt.to_timestamp(),
        _day=plan["ds"].dt.floor("D"),
        instances_uncapped=plan.get("instances_uncapped", plan["instances_required"]),
        cost_per_hour_uncapped=plan.get("cost_per_hour_uncapped", plan["cost_per_hour"]),
        demand_unserved=plan.get("demand_unserved", 0.0),
    )
    g = p.groupby(["service", "resource", "scenario", "period"], as_index=False, observed=True, sort=False)
    out = g.agg(
        days_planned=("_day", "nunique"),
        demand_peak=("demand", "max"),
        unit=("unit", "first"),
        usable_capacity=("usable_capacity", "min"),
        instances=("instances", "first"),
        instances_required=("instances_required", "max"),
        instances_uncapped=("instances_uncapped", "max"),
        capped=("capped", "any"),
        demand_unserved=("demand_unserved", "max"),
        cost_per_hour=("cost_per_hour_uncapped", "max"),
        capped_per_hour=("cost_per_hour", "max"),
        sizing_basis=("sizing_basis", "first"),
    )
    out["monthly_cost"] = out["cost_per_hour"] * HOURS_PER_MONTH
    out["monthly_cost_capped"] = out["capped_per_hour"] * HOURS_PER_MONTH
    return out[list(MONTH_COLUMNS)]


def scenario_totals(months: pd.DataFrame, scenarios: list[str] | None = None) -> pd.DataFrame:
    """Per ``scenario, period``: ``monthly_cost``, ``instances_required`` and ``instances`` totals.

    Each service counts once per period with its largest value over resources; the totals sum
    those over services. Scenarios in ``scenarios`` order (else first appearance).
    """
    values = ["monthly_cost", "monthly_cost_capped", "instances_required", "instances_uncapped", "instances"]
    if months.empty:
        return pd.DataFrame(columns=list(TOTAL_COLUMNS))
    frame = months[["service", "scenario", "period", *values]].copy()
    frame[values] = frame[values].apply(pd.to_numeric, errors="coerce")
    per_service = frame.groupby(["service", "scenario", "period"], sort=False)[values].max()
    totals = per_service.groupby(level=["scenario", "period"], sort=False).sum(min_count=1).reset_index()
    covered = months.groupby("period")["days_planned"].max()
    totals["days_planned"] = totals["period"].map(covered)
    order = {s: i for i, s in enumerate(scenarios or dict.fromkeys(months["scenario"]))}
    totals = totals.assign(_o=totals["scenario"].map(order)).sort_values(["period", "_o"], kind="stable")
    return totals.drop(columns="_o").reset_index(drop=True)[list(TOTAL_COLUMNS)]


def _row(metric: str, value: float, note: str = "") -> dict:
    return {"metric": metric, "value": float(value), "note": note}


def plan_summary(
    runway: pd.DataFrame,
    cost: pd.DataFrame,
    alerts: pd.DataFrame,
    rightsizing: pd.DataFrame,
    cfg: Config,
    *,
    as_of=None,
    horizon_end=None,
) -> pd.DataFrame:
    """The figures a planner reads first: when, how far and which scenarios; who runs short, cost
    per scenario (serving the demand, and what the caps allow), savings, alerts.

    (Seven parameters: the plan tables the summary quotes, each read for one line, and the config.)
    """
    rows = []
    exp, days = cfg.planning.expected_scenario, cfg.planning.runway_alert_days
    if as_of is not None:
        rows.append(
            _row("plan as of (forecast cutoff, UTC)", float("nan"), f"{pd.Timestamp(as_of):%Y-%m-%d %H:%M}")
        )
    if as_of is not None and horizon_end is not None:
        span = (pd.Timestamp(horizon_end) - pd.Timestamp(as_of)) / pd.Timedelta(days=1)
        rows.append(_row("horizon (days)", round(span, 1), f"to {pd.Timestamp(horizon_end):%Y-%m-%d}"))
    rows.append(_row("scenarios", len(cfg.scenarios), f"{', '.join(cfg.scenarios)}; expected: {exp}"))
    if len(runway):
        r = runway[runway["scenario"] == exp]
        short = r[r["days_left"] <= days]
        names = ", ".join(f"{a}/{b}" for a, b in short[["service", "resource"]].itertuples(index=False))
        rows.append(_row(f"service/resources short within {days:g} days ({exp})", len(short), names))
    if len(cost):
        totals = cost.groupby("scenario", sort=False)["monthly_cost"].sum()
        capped = (
            cost.groupby("scenario", sort=False)["monthly_cost_capped"].sum()
            if "monthly_cost_capped" in cost
            else totals
        )
        for sc in [s for s in cfg.scenarios if s in totals.index]:
            note = cfg.scenarios[sc].description
            if capped[sc] < totals[sc]:
                note = f"{note}; {capped[sc]:,.0f} within today's max_instances".lstrip("; ")
            rows.append(_row(f"monthly cost {sc}", totals[sc], note))
        head = cost.loc[cost["scenario"] == exp, "headroom_cost"].sum()
        rows.append(_row(f"monthly cost of headroom ({exp})", head, f"headroom {cfg.planning.headroom:.0%}"))
    if len(rightsizing):
        over = ", ".join(rightsizing.loc[rightsizing["over_provisioned"], "service"])
        rows.append(_row("monthly saving from right-sizing", rightsizing["monthly_saving"].sum(), over))
    if len(alerts):
        for sev in ("critical", "warning"):
            rows.append(_row(f"{sev} alerts", (alerts["severity"] == sev).sum()))
    return pd.DataFrame(rows, columns=["metric", "value", "note"])
