"""Build the planner-facing :class:`PlanBundle` from the stored plan tables (reads only)."""

from __future__ import annotations

import pandas as pd

from capplan.core.config import Config
from capplan.core.contracts import quantile_columns
from capplan.core.errors import CapplanError
from capplan.reporting import PlanBundle, planned_demand

HOURS_PER_MONTH = 730.0


def _table(con, name: str, have: set[str]) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {name}").df() if name in have else pd.DataFrame()


def monthly_plan(plan: pd.DataFrame) -> pd.DataFrame:
    """Daily plan rows rolled up per service, resource, scenario and month (peaks).

    ``days_planned``: the days of the month the plan covers (a horizon ends mid-month); the
    month's ``monthly_cost`` is the run rate at that month's peak over those days.
    """
    if plan.empty:
        return plan
    p = plan.assign(period=plan["ds"].dt.to_period("M").dt.to_timestamp(), _day=plan["ds"].dt.floor("D"))
    g = p.groupby(["service", "resource", "scenario", "period"], as_index=False, observed=True, sort=False)
    out = g.agg(
        days_planned=("_day", "nunique"),
        demand_peak=("demand", "max"),
        unit=("unit", "first"),
        usable_capacity=("usable_capacity", "min"),
        instances=("instances", "first"),
        required_instances=("required_instances", "max"),
        capped=("capped", "any"),
        cost_per_hour=("cost_per_hour", "max"),
        sizing_basis=("sizing_basis", "first"),
    )
    out["monthly_cost"] = out["cost_per_hour"] * HOURS_PER_MONTH
    return out.drop(columns="cost_per_hour")


def _expected(cfg: Config) -> str:
    return "expected" if "expected" in cfg.scenarios else next(iter(cfg.scenarios))


def _summary(cfg: Config, t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    runway, cost, alerts, right = t["runway"], t["cost"], t["alerts"], t["rightsizing"]
    exp = _expected(cfg)
    if len(runway):
        r = runway[runway["scenario"] == exp]
        short = r[r["days_left"] <= cfg.planning.runway_alert_days]
        rows.append(
            {
                "metric": f"service/resources short within {cfg.planning.runway_alert_days:g} days ({exp})",
                "value": float(len(short)),
                "note": ", ".join(
                    f"{a}/{b}" for a, b in short[["service", "resource"]].itertuples(index=False)
                ),
            }
        )
    if len(cost):
        for sc, total in cost.groupby("scenario")["monthly_cost"].sum().items():
            rows.append(
                {
                    "metric": f"monthly cost {sc}",
                    "value": float(total),
                    "note": cfg.scenarios[sc].description if sc in cfg.scenarios else "",
                }
            )
        rows.append(
            {
                "metric": "monthly cost of headroom (expected)",
                "value": float(cost.loc[cost["scenario"] == exp, "headroom_cost"].sum()),
                "note": f"headroom {cfg.planning.headroom:.0%}",
            }
        )
    if len(right):
        rows.append(
            {
                "metric": "monthly saving from right-sizing",
                "value": float(right["monthly_saving"].sum()),
                "note": ", ".join(right.loc[right["over_provisioned"], "service"]),
            }
        )
    if len(alerts):
        for sev in ("critical", "warning"):
            rows.append(
                {"metric": f"{sev} alerts", "value": float((alerts["severity"] == sev).sum()), "note": ""}
            )
    return pd.DataFrame(rows, columns=["metric", "value", "note"])


def bundle_from_warehouse(con, cfg: Config) -> PlanBundle:
    have = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    if "plan" not in have:
        raise CapplanError("no plan in the warehouse yet; run `capplan plan` first")
    t = {
        n: _table(con, n, have)
        for n in (
            "plan",
            "runway",
            "bottlenecks",
            "rightsizing",
            "alerts",
            "frontier",
            "plan_assumptions",
            "cost",
            "autoscaling",
            "scaling_schedule",
        )
    }
    series = _table(con, "series", have)
    latest = con.execute("SELECT run_id FROM forecasts ORDER BY created_at DESC LIMIT 1").fetchall()[0][0]
    fc = con.execute("SELECT * FROM forecasts WHERE run_id = ?", [latest]).df().dropna(axis=1, how="all")
    fc = fc.merge(series[["unique_id", "service", "metric", "unit"]], on="unique_id")
    resource = {m: cfg.metric_spec(m).resource for m in series["metric"].unique()}
    fc["resource"] = fc["metric"].map(resource)
    cap = (
        t["plan"].groupby(["service", "resource"], as_index=False)["usable_capacity"].min()
        if len(t["plan"])
        else None
    )
    if cap is not None:
        fc = fc.merge(
            cap.rename(columns={"usable_capacity": "capacity"}), on=["service", "resource"], how="left"
        )
    qcols = quantile_columns(fc.columns)
    fc = fc.assign(planned_demand=planned_demand(fc, t["plan"], _expected(cfg)))
    forecasts = fc.rename(columns={"ds": "ts"})[
        [
            "service",
            "metric",
            "ts",
            "model",
            *qcols,
            *(["capacity"] if cap is not None else []),
            "planned_demand",
        ]
    ]
    start = fc["ds"].min() - pd.Timedelta(days=14)
    hist = con.execute(
        "SELECT s.service, s.metric, o.ds AS ts, o.y FROM observations o JOIN series s USING (unique_id) WHERE o.ds >= ? ORDER BY 1, 2, 3",
        [start],
    ).df()
    accuracy = _accuracy(con, have, series, latest)
    right = t["rightsizing"]
    assumptions = t["plan_assumptions"]
    return PlanBundle(
        summary=_summary(cfg, t),
        plan=monthly_plan(t["plan"]),
        runway=t["runway"],
        bottlenecks=t["bottlenecks"],
        rightsizing=right,
        forecasts=forecasts.sort_values(["service", "metric", "ts"], ignore_index=True),
        accuracy=accuracy,
        alerts=t["alerts"],
        frontier=t["frontier"],
        assumptions=assumptions,
        expected_scenario=_expected(cfg),
        history=hist,
        autoscaling=t["autoscaling"] if len(t["autoscaling"]) else None,
        schedule=t["scaling_schedule"] if len(t["scaling_schedule"]) else None,
    )


def _accuracy(con, have: set[str], series: pd.DataFrame, run_id: str) -> pd.DataFrame:
    cat = series[["unique_id", "service", "metric"]]
    parts = []
    if "backtest_metrics" in have and "champions" in have:
        bm = con.execute(
            "SELECT b.* FROM backtest_metrics b JOIN champions c ON b.run_id = c.run_id AND b.unique_id = c.unique_id "
            "AND b.model = c.champion WHERE b.run_id = ?",
            [run_id],
        ).df()
        if len(bm):
            parts.append(bm.assign(source="backtest (champion)"))
    if "forecast_accuracy" in have:
        fa = con.execute("SELECT * FROM forecast_accuracy").df()
        if len(fa):
            parts.append(fa.assign(source="published vintage " + fa["run_id"].str[:8]))
    if not parts:
        return pd.DataFrame(columns=["service", "metric", "model", "mase", "smape"])
    acc = pd.concat(parts, ignore_index=True).merge(cat, on="unique_id")
    lead = ["service", "metric", "model", "source"]
    keep = [
        c
        for c in (
            "mase",
            "smape",
            "rmsse",
            "bias",
            "coverage",
            "coverage_p10_p90",
            "msis_p10_p90",
            "pinball",
            "n",
        )
        if c in acc
    ]
    return acc[lead + keep].sort_values(lead, ignore_index=True)
