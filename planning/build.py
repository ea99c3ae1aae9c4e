"""``build_plan(PlanInputs, cfg) -> PlanTables``: the whole capacity plan, pure.

Steps: scenario demand (:mod:`.demand`) -> one sizing (:func:`.sizing.size_plan`: linear per
inventory, USL / Erlang C where load tests exist) -> runway, bottlenecks -> right-sizing and
instance-type alternatives on recent usage -> cost, the cost of headroom and the frontier
(all from the same sizing) -> alerts -> autoscaling replay (walk-forward, :mod:`.scaling_plan`) and
schedule (the expected scenario's demand) -> assumptions -> the monthly roll-up, scenario totals
and summary -> the long-range plan (:mod:`.procurement`): its runway joined to the short one, the
purchase plan, order-hardware actions, its backtest score.

Cross-table invariants (``tests/planning/test_build.py`` pins them on hand-built inputs):
``cost.monthly_cost`` is the peak of ``plan.cost_per_hour`` x 730 per service and scenario;
``cost.monthly_cost - cost.headroom_cost`` is the same plan sized without headroom; the
frontier at the expected scenario's quantile (multiplier 1, no events) equals its cost.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from capplan.core.bundles import PlanInputs, PlanTables
from capplan.core.config import Config
from capplan.core.contracts import quantile_col
from capplan.core.errors import CapplanError

from .actions import add_long_range, build_actions
from .alerts import build_alerts
from .assumptions import assumptions
from .bottlenecks import find_bottlenecks
from .cost import capacity_cost_frontier, headroom_cost, monthly_cost
from .demand import ScenarioDemand, resources, scenario_demand
from .parts import ServiceParts, service_parts, usage
from .procurement import extend_runway, lead_times, long_range_plan, long_range_summary
from .rightsizing import compare_alternatives, rightsizing
from .rollup import monthly_plan, plan_summary, scenario_totals
from .runway import runway_frame
from .scaling_plan import SCHEDULE_HOURS, schedule
from .sizing import size_plan, split_plannable
from .usl import fit_usl_frame


def history_days(cfg: Config) -> int:
    """Days of hourly history a plan reads when it has no events or KPIs to learn from: the
    right-sizing window and the autoscaling replay (its days plus the season its first forecast
    looks back on), and a day to spare."""
    return max(cfg.planning.rightsizing_window_days, cfg.autoscaling.replay_days + 7) + 1


def alternatives(use: pd.DataFrame, inv: pd.DataFrame, cfg: Config, as_of) -> pd.DataFrame:
    """Every instance type in the inventory, costed for each service's p95 needs."""
    if "instance_type" not in inv or inv["instance_type"].isna().all() or use.empty:
        return pd.DataFrame()
    typed = inv.dropna(subset=["instance_type"])
    cat = typed.pivot_table(
        index="instance_type", columns="resource", values="capacity_per_instance", aggfunc="max"
    )
    catalogue = cat.assign(
        cost_per_instance_hour=typed.groupby("instance_type")["cost_per_instance_hour"].max()
    )
    catalogue = catalogue.reset_index()
    window = use[use["ds"] > as_of - pd.Timedelta(days=cfg.planning.rightsizing_window_days)]
    p95 = window.groupby(["service", "resource"])["y"].quantile(0.95)
    p = cfg.planning
    parts = []
    for service, needs in p95.groupby(level=0):
        need = {r: v for (_, r), v in needs.items() if r in catalogue.columns}
        util = float(inv.loc[inv["service"] == service, "target_utilization"].min())
        alt = compare_alternatives(
            need,
            catalogue,
            target_utilization=util,
            redundancy=p.redundancy,
            zones=p.zones,
            headroom=p.headroom,
        )
        current = set(inv.loc[inv["service"] == service, "instance_type"].dropna())
        parts.append(alt.assign(service=service, current=alt["instance_type"].isin(current)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def champion_accuracy(inputs: PlanInputs) -> pd.DataFrame | None:
    """The champions' backtest MASE per series (None before any training)."""
    bm = inputs.backtest_metrics
    return None if bm.empty else bm[["unique_id", "mase"]]


def autoscaling(
    inputs: PlanInputs, cfg: Config, parts: ServiceParts, sd: ScenarioDemand
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``[autoscaling]`` policies replayed walk-forward on each service's last ``replay_days`` of
    history (plus the week the first seasonal-naive forecast looks back on; ``parts``, computed
    per service batch or here), and the predictive schedule for the next :data:`SCHEDULE_HOURS`
    hours from the expected scenario's demand (:mod:`.scaling_plan`)."""
    q = quantile_col(cfg.planning.scaling_quantile)
    fine = sd.expected_fine
    if fine is None or q not in fine:
        raise CapplanError(
            f"planning.scaling_quantile {cfg.planning.scaling_quantile:g}: the published forecast has no {q}; "
            "run `capplan forecast` again with the current [forecast] quantiles"
        )
    for line in parts.skipped:  # stated in the plan's assumptions, not silently left out
        service, _, why = line.partition(": ")
        sd.notes.append({"key": f"autoscaling replay: {service}", "value": "not replayed", "note": why})
    nxt = fine[fine["ds"] <= fine["ds"].min() + pd.Timedelta(hours=SCHEDULE_HOURS - 1)]
    return parts.replay, schedule(nxt, inputs.inventory, cfg.autoscaling, cfg.planning, q)


def _costs(demand: pd.DataFrame, qcols: list[str], plan: pd.DataFrame, inputs: PlanInputs, usl, cfg: Config):
    """Cost per scenario with the cost of headroom, and the expected scenario's frontier."""
    inv = inputs.inventory
    head = headroom_cost(demand[["service", "resource", "scenario", "ds", "demand"]], inv, cfg.planning, usl)
    cost = monthly_cost(plan).merge(
        head[["service", "scenario", "monthly_cost_no_headroom", "headroom_cost"]],
        on=["service", "scenario"],
        how="left",
    )
    exp = demand[demand["scenario"] == cfg.planning.expected_scenario]
    frontier = capacity_cost_frontier(exp[["service", "resource", "ds", *qcols]], inv, cfg.planning, fits=usl)
    return cost, frontier


def _forecast_need(plan: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """Per service: the peak ``instances_uncapped`` over the horizon in ``scenario`` and its resource."""
    p = plan[plan["scenario"] == scenario]
    if p.empty:
        return pd.DataFrame(columns=["service", "resource", "instances_uncapped"])
    top = p.sort_values("instances_uncapped", ascending=False, kind="stable").drop_duplicates("service")
    return top[["service", "resource", "instances_uncapped"]].reset_index(drop=True)


def build_plan(inputs: PlanInputs, cfg: Config, parts: ServiceParts | None = None) -> PlanTables:
    """The capacity plan for every scenario (see the module docstring).

    A service/resource that cannot be sized (no inventory row, a bad one) is left out with a
    critical ``not_planned`` alert; the rest is planned. ``parts``: the per-service replay and
    long-range fits, already computed by service batch (:mod:`.parts`); None computes them here.
    """
    as_of = inputs.as_of
    parts = parts if parts is not None else service_parts(inputs, cfg)
    sd = scenario_demand(inputs, cfg)
    demand, inv, problems = split_plannable(sd.demand, inputs.inventory)
    sd.demand = demand
    inputs = replace(inputs, inventory=inv)
    usl = fit_usl_frame(inputs.loadtests) if len(inputs.loadtests) else pd.DataFrame()
    plan = size_plan(sd.demand, inv, usl, cfg.planning)
    runway = runway_frame(plan, as_of=as_of, low="demand_low", mid="demand", high="demand_high")
    use = usage(inputs.history, inputs.series, cfg)
    need = _forecast_need(plan, cfg.planning.expected_scenario)
    right = (
        rightsizing(use, inv, cfg.planning, as_of=as_of, forecast_need=need) if len(use) else pd.DataFrame()
    )
    cost, frontier = _costs(sd.demand, sd.qcols, plan, inputs, usl, cfg)
    alerts = build_alerts(
        runway, plan, champion_accuracy(inputs), cfg.planning, as_of=as_of, scenarios=list(cfg.scenarios),
        resource_of=resources(cfg, inputs.series), problems=problems,
    )  # fmt: skip
    replay, scaling_schedule = autoscaling(inputs, cfg, parts, sd)
    months = monthly_plan(plan)
    lr = long_range_plan(inputs, cfg, inv, usl, sd.learned, sd.traffic, parts)
    leads = lead_times(inv, cfg)
    runway = extend_runway(runway, lr.runway, leads)
    scen = list(cfg.scenarios)
    actions = build_actions(plan, right, cfg.planning, as_of=as_of, scenarios=scen, lead_times=leads)
    return PlanTables(
        plan=plan,
        runway=runway,
        bottlenecks=find_bottlenecks(runway, plan),
        rightsizing=right,
        alternatives=alternatives(use, inv, cfg, as_of),
        cost=cost,
        frontier=frontier,
        alerts=alerts.assign(alert=range(1, len(alerts) + 1)),
        plan_assumptions=assumptions(inputs, cfg, sd.windows, sd.notes + lr.notes, usl, sd.effects),
        driver_effects=sd.effects,
        capacity_models=usl,
        autoscaling=replay,
        scaling_schedule=scaling_schedule,
        plan_months=months,
        plan_totals=scenario_totals(months, list(cfg.scenarios)),
        plan_summary=pd.concat(
            [
                plan_summary(
                    runway, cost, alerts, right, cfg, as_of=as_of, horizon_end=inputs.forecasts["ds"].max()
                ),
                long_range_summary(lr, runway, cfg, as_of),
            ],
            ignore_index=True,
        ),  # fmt: skip
        actions=add_long_range(actions, runway, lr.purchase, cfg.planning, as_of=as_of, scenarios=scen),
        long_range=lr.plan,
        purchase_plan=lr.purchase,
        long_range_accuracy=lr.accuracy,
    )
