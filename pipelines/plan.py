"""Plan flow: latest published forecasts -> scenario demand -> instances, runway, cost, alerts.

Reads the warehouse (forecasts, series, inventory, load tests, events, KPIs, history,
accuracy), calls the pure kernels of :mod:`capplan.planning`, and stores the plan tables
(``plan``, ``runway``, ``bottlenecks``, ``rightsizing``, ``alternatives``, ``cost``,
``frontier``, ``alerts``, ``plan_assumptions``, ``driver_effects``, ``capacity_models``), each
replaced as a whole by the next plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan.core.config import Config
from capplan.core.contracts import quantile_columns
from capplan.core.errors import CapplanError

from ._env import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402

PLAN_TABLES = (
    "plan",
    "runway",
    "bottlenecks",
    "rightsizing",
    "alternatives",
    "cost",
    "frontier",
    "alerts",
    "plan_assumptions",
    "driver_effects",
    "capacity_models",
    "autoscaling",
    "scaling_schedule",
)


@dataclass
class PlanResult:
    tables: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    run_id: str


def _read(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _champion_backtests(con, run_id: str) -> pd.DataFrame:
    """The champions' rolling-origin forecasts with actuals (the recent past, replayable)."""
    have = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    if not {"backtests", "champions"} <= have:
        return pd.DataFrame()
    return con.execute(
        "SELECT b.* FROM backtests b JOIN champions c ON b.run_id = c.run_id AND b.unique_id = c.unique_id "
        "AND b.model = c.champion WHERE b.run_id = ? ORDER BY b.unique_id, b.ds",
        [run_id],
    ).df()


def autoscaling(
    inputs: dict, cfg: Config, quantile: str = "p90", hours: int = 48
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Would a predictive policy have beaten the reactive one over the backtest period, and
    what should autoscaling do next: the predictive instance schedule for the next ``hours``."""
    from capplan.planning import compare_policies, recommend_schedule
    from capplan.planning.scenarios import resource_demand

    series, inv = inputs["series"], inputs["inventory"]
    resource_of = {m: cfg.metric_spec(m).resource for m in series["metric"].unique()}
    bt = inputs["champion_backtests"]
    replay = pd.DataFrame()
    if len(bt) and quantile in bt:
        bt = bt.sort_values("cutoff").drop_duplicates(["unique_id", "ds"], keep="last")  # latest fold wins
        past = resource_demand(
            bt[["unique_id", "ds", "y", quantile]].rename(columns={"y": "actual"}),
            series,
            resource_of,
            ["actual", quantile],
        )
        past = past.rename(columns={"actual": "y"})
        past = past[past["resource"].isin(set(inv["resource"]))]
        replay = compare_policies(past, inv, quantile_col=quantile, cfg=cfg.planning)
    fc = inputs["forecasts"]
    nxt = fc[fc["ds"] <= fc["ds"].min() + pd.Timedelta(hours=hours - 1)]
    demand = resource_demand(nxt[["unique_id", "ds", quantile]], series, resource_of, [quantile])
    demand = demand[demand["resource"].isin(set(inv["resource"]))]
    schedule = recommend_schedule(demand, inv, quantile_col=quantile, cfg=cfg.planning)
    return replay, schedule


def read_inputs(con) -> dict[str, pd.DataFrame]:
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    if "forecasts" not in tables:
        raise CapplanError("no published forecasts; run `capplan train` and `capplan forecast` first")
    latest = con.execute("SELECT run_id FROM forecasts ORDER BY created_at DESC LIMIT 1").fetchall()[0][0]
    out = {
        "forecasts": con.execute("SELECT * FROM forecasts WHERE run_id = ?", [latest])
        .df()
        .dropna(axis=1, how="all"),
        "series": _read(con, "SELECT * FROM series"),
        "inventory": _read(con, "SELECT * FROM inventory"),
        "loadtests": _read(con, "SELECT * FROM loadtests"),
        "events": _read(con, "SELECT * FROM events"),
        "kpis": _read(con, "SELECT * FROM kpis"),
        "champions": _read(con, "SELECT * FROM champions") if "champions" in tables else pd.DataFrame(),
        "backtest_metrics": _read(con, "SELECT * FROM backtest_metrics")
        if "backtest_metrics" in tables
        else pd.DataFrame(),
        "accuracy": _read(con, "SELECT * FROM forecast_accuracy")
        if "forecast_accuracy" in tables
        else pd.DataFrame(),
    }
    out["run_id"] = latest
    out["champion_backtests"] = _champion_backtests(con, latest)
    if out["inventory"].empty:
        raise CapplanError("the warehouse has no inventory; add an [[sources]] entry of kind 'inventory'")
    return out


def _history(con, uids: list[str], since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    """Observations the plan may use: nothing after the forecast cutoff (no look-ahead)."""
    con.register("_uids", pd.DataFrame({"unique_id": uids}))
    try:
        return con.execute(
            "SELECT o.unique_id, o.ds, o.y FROM observations o JOIN _uids USING (unique_id) "
            "WHERE o.ds >= ? AND o.ds <= ? ORDER BY 1, 2",
            [since, until],
        ).df()
    finally:
        con.unregister("_uids")


def _learned_uplifts(
    history: pd.DataFrame, events: pd.DataFrame, series: pd.DataFrame, as_of
) -> tuple[dict, list]:
    """Uplift ratios learned from history: per series, by event name (last year's Black Friday)
    and by event kind (any past sale), so an event with no stated uplift can take the nearest."""
    from capplan.planning import learned_event_uplift

    past = events[(events["end"] <= as_of) & (events["kind"] != "outage")]
    learned, notes = {}, []
    service_of = dict(zip(series["unique_id"], series["service"], strict=True))
    groups = [("name", n, past[past["name"] == n]) for n in sorted(set(past["name"]))]
    groups += [("kind", k, past[past["kind"] == k]) for k in sorted(set(past["kind"]))]
    for by, value, evs in groups:
        kind = evs["kind"].iloc[0]
        for uid, g in history.groupby("unique_id"):
            try:
                up = learned_event_uplift(g, evs, kind, service=service_of.get(uid))
            except CapplanError:  # no past event of this name/kind with data around it
                continue
            if up.n_events and np.isfinite(up.ratio) and up.ratio > 1:
                learned[(uid, f"{by}:{value}")] = up.ratio
    return learned, notes


def _drivers(history: pd.DataFrame, kpis: pd.DataFrame, growth: dict, base: pd.DataFrame, scenario: str):
    from capplan.planning import apply_kpi_scenario, fit_driver_model

    shifts, effects = [], []
    if not growth or kpis.empty:
        return None, effects
    k = kpis[kpis["kpi"].isin(growth)]
    for uid, g in history.groupby("unique_id"):
        try:
            fit = fit_driver_model(g[["unique_id", "ds", "y"]], k)
        except CapplanError:
            continue
        use = {kpi: v for kpi, v in growth.items() if kpi in fit.coefficients and fit.coefficients[kpi] > 0}
        if not use:
            continue
        up = apply_kpi_scenario(fit, use, base)
        shifts.append(up)
        end = up.sort_values("ds").groupby("kpi").tail(1)
        for r in end.itertuples(index=False):
            effects.append(
                {
                    "scenario": scenario,
                    "unique_id": uid,
                    "kpi": r.kpi,
                    "growth": r.growth,
                    "coefficient": fit.coefficients[r.kpi],
                    "r2": fit.r2,
                    "uplift_at_horizon_end": r.uplift,
                }
            )
    return (pd.concat(shifts, ignore_index=True) if shifts else None), effects


def scenario_demand(inputs: dict, cfg: Config, history: pd.DataFrame, as_of: pd.Timestamp):
    """Per scenario: daily peak demand per service, resource, with low/mid/high columns."""
    from capplan.planning import add_uplift
    from capplan.planning.scenarios import (
        apply_events,
        apply_multiplier,
        daily_peaks,
        event_windows,
        quantile_bracket,
        resource_demand,
    )

    fc = inputs["forecasts"]
    qcols = quantile_columns(fc.columns)
    series = inputs["series"]
    resource_of = {m: cfg.metric_spec(m).resource for m in series["metric"].unique()}
    learned, notes = _learned_uplifts(history, inputs["events"], series, as_of)
    frames, windows_all, effects_all = [], [], []
    for name, sc in cfg.scenarios.items():
        try:
            low, mid, high = quantile_bracket(sc.quantile, qcols)
        except ValueError as err:
            raise CapplanError(f"scenario '{name}': {err}") from None
        f = apply_multiplier(fc[["unique_id", "ds", *qcols]], qcols, sc.demand_multiplier)
        shift, effects = _drivers(history, inputs["kpis"], sc.kpi_growth, f, name)
        f = add_uplift(f, shift, qcols) if shift is not None else f
        windows = event_windows(
            inputs["events"], series, fc["ds"].min(), fc["ds"].max(), sc.event_uplift, learned
        )
        f = apply_events(f, windows, qcols)
        rd = daily_peaks(resource_demand(f, series, resource_of, qcols), ["service", "resource"], qcols)
        rd = rd.assign(
            scenario=name, quantile=sc.quantile, demand=rd[mid], demand_low=rd[low], demand_high=rd[high]
        )
        frames.append(rd)
        windows_all.append(windows.assign(scenario=name))
        effects_all.extend(effects)
    demand = pd.concat(frames, ignore_index=True)
    windows = pd.concat(windows_all, ignore_index=True)
    return demand, qcols, windows, pd.DataFrame(effects_all), notes


def capacity_models(loadtests: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """USL fit per service with load tests (throughput capacity per instance count)."""
    from capplan.planning import fit_usl_frame

    if loadtests.empty:
        return pd.DataFrame()
    return fit_usl_frame(loadtests)


@task(name="build-plan", cache_policy=NONE)
def build_plan(cfg: Config) -> PlanResult:
    from capplan import planning
    from capplan.warehouse.connection import warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        inputs = read_inputs(con)
        as_of = inputs["forecasts"]["cutoff"].max()
        uids = list(inputs["forecasts"]["unique_id"].unique())
        history = _history(con, uids, as_of - pd.Timedelta(days=400), as_of)
    inv = inputs["inventory"]
    demand, qcols, windows, effects, notes = scenario_demand(inputs, cfg, history, as_of)
    plan = planning.plan_instances(demand, inv, cfg.planning)
    plan = plan.merge(
        inv[["service", "resource", "max_instances", "cost_per_instance_hour", "unit"]],
        on=["service", "resource"],
    )
    usl = capacity_models(inputs["loadtests"], cfg)
    plan = planning.size_with_usl(plan, usl, cfg.planning)
    rw_in = plan.rename(columns={"demand_low": "lo", "demand": "mid", "demand_high": "hi"})
    runway = planning.runway_frame(rw_in, as_of=as_of, low="lo", mid="mid", high="hi")
    bottlenecks = planning.find_bottlenecks(runway, plan)
    usage = _usage(history, inputs["series"], cfg)
    right = planning.rightsizing(usage, inv, cfg.planning, as_of=as_of) if len(usage) else pd.DataFrame()
    alternatives = _alternatives(usage, inv, cfg, as_of)
    cost = planning.monthly_cost(plan)
    head = planning.headroom_cost(
        demand[["service", "resource", "scenario", "ds", "demand"]], inv, cfg.planning
    )
    cost = cost.merge(
        head[["service", "scenario", "monthly_cost_no_headroom", "headroom_cost"]],
        on=["service", "scenario"],
        how="left",
    )
    fr_in = demand[demand["scenario"] == next(iter(cfg.scenarios))][["service", "resource", "ds", *qcols]]
    frontier = planning.capacity_cost_frontier(fr_in, inv, cfg.planning)
    acc = _champion_accuracy(inputs)
    alerts = planning.build_alerts(runway, plan, acc, cfg.planning)
    replay, schedule = autoscaling(inputs, cfg)
    assumptions = _assumptions(cfg, inputs, as_of, windows, notes)
    assumptions = pd.concat([assumptions, _model_rows(usl, effects)], ignore_index=True)
    tables = {
        "plan": plan,
        "runway": runway,
        "bottlenecks": bottlenecks,
        "rightsizing": right,
        "alternatives": alternatives,
        "cost": cost,
        "frontier": frontier,
        "alerts": alerts,
        "plan_assumptions": assumptions,
        "driver_effects": effects,
        "capacity_models": usl,
        "autoscaling": replay,
        "scaling_schedule": schedule,
    }
    return PlanResult(tables, as_of, inputs["run_id"])


def _usage(history: pd.DataFrame, series: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    cat = series[["unique_id", "service", "metric"]]
    h = history.merge(cat, on="unique_id")
    h["resource"] = h["metric"].map(lambda m: cfg.metric_spec(m).resource)
    h = h[h["resource"].notna()]
    return h.groupby(["service", "resource", "ds"], as_index=False)["y"].sum()


def _alternatives(usage: pd.DataFrame, inv: pd.DataFrame, cfg: Config, as_of) -> pd.DataFrame:
    """Every instance type in the inventory, costed for each service's p95 needs."""
    from capplan.planning import compare_alternatives

    if "instance_type" not in inv or inv["instance_type"].isna().all() or usage.empty:
        return pd.DataFrame()
    cat = inv.dropna(subset=["instance_type"]).pivot_table(
        index="instance_type", columns="resource", values="capacity_per_instance", aggfunc="max"
    )
    cost = inv.dropna(subset=["instance_type"]).groupby("instance_type")["cost_per_instance_hour"].max()
    catalogue = cat.assign(cost_per_instance_hour=cost).reset_index()
    window = usage[usage["ds"] > as_of - pd.Timedelta(days=cfg.planning.rightsizing_window_days)]
    p95 = window.groupby(["service", "resource"])["y"].quantile(0.95)
    parts = []
    for service, needs in p95.groupby(level=0):
        need = {r: v for (_, r), v in needs.items() if r in catalogue.columns}
        util = float(inv.loc[inv["service"] == service, "target_utilization"].min())
        alt = compare_alternatives(
            need,
            catalogue,
            target_utilization=util,
            redundancy=cfg.planning.redundancy,
            zones=cfg.planning.zones,
            headroom=cfg.planning.headroom,
        )
        current = inv.loc[inv["service"] == service, "instance_type"].dropna()
        parts.append(alt.assign(service=service, current=alt["instance_type"].isin(set(current))))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _champion_accuracy(inputs: dict) -> pd.DataFrame | None:
    bm, ch = inputs["backtest_metrics"], inputs["champions"]
    if bm.empty or ch.empty:
        return None
    ch = ch[ch["run_id"] == inputs["run_id"]][["unique_id", "champion"]]
    bm = bm[bm["run_id"] == inputs["run_id"]]
    m = ch.merge(bm, left_on=["unique_id", "champion"], right_on=["unique_id", "model"])
    return m[["unique_id", "mase"]]


def _assumptions(cfg: Config, inputs: dict, as_of, windows: pd.DataFrame, notes: list) -> pd.DataFrame:
    from capplan.core.config import config_hash

    rows = [
        {"key": "forecast run", "value": inputs["run_id"], "note": "MLflow run of the champions"},
        {"key": "plan as of", "value": str(as_of), "note": "forecast cutoff"},
        {"key": "horizon end", "value": str(inputs["forecasts"]["ds"].max()), "note": ""},
        {"key": "redundancy", "value": cfg.planning.redundancy, "note": f"zones={cfg.planning.zones}"},
        {"key": "headroom", "value": f"{cfg.planning.headroom:.0%}", "note": "buffer on top of demand"},
        {"key": "config hash", "value": config_hash(cfg), "note": ""},
    ]
    for name, sc in cfg.scenarios.items():
        rows.append(
            {
                "key": f"scenario {name}",
                "value": f"p{sc.quantile * 100:g} x {sc.demand_multiplier:g}",
                "note": "; ".join(
                    filter(
                        None,
                        [
                            sc.description,
                            ", ".join(f"{k} {v:+.0%}" for k, v in sc.kpi_growth.items()),
                            ", ".join(f"{k} x{v:g}" for k, v in sc.event_uplift.items()),
                        ],
                    )
                ),
            }
        )
    if len(windows):
        grouped = windows.groupby(["scenario", "name", "source"], sort=True)["multiplier"].agg(
            ["min", "max", "count"]
        )
        for (scenario, name, source), r in grouped.iterrows():
            span = f"x{r['min']:.2f}" if r["min"] == r["max"] else f"x{r['min']:.2f}-{r['max']:.2f}"
            rows.append(
                {
                    "key": f"event {name} ({scenario})",
                    "value": span,
                    "note": f"{source}; {int(r['count'])} series",
                }
            )
    ch = inputs["champions"]
    if len(ch):
        ch = ch[ch["run_id"] == inputs["run_id"]]
        for r in ch.itertuples(index=False):
            rows.append({"key": f"champion {r.unique_id}", "value": r.champion, "note": r.reason})
    rows.extend(notes)
    return pd.DataFrame(rows)


def _model_rows(usl: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """Capacity models (USL fits) and business drivers, stated for the Assumptions sheet."""
    rows = []
    for r in usl.itertuples(index=False) if len(usl) else []:
        rows.append(
            {
                "key": f"capacity model {r.service}",
                "value": f"USL sigma={r.sigma:.4f} kappa={r.kappa:.5f}",
                "note": f"{r.lam:.0f}/s per instance; peak {r.x_peak:,.0f}/s at {r.n_peak:.0f} instances; "
                f"adding instances stops paying past {r.n_knee:.0f}; R2 {r.r2:.3f} over {r.points} load-test points",
            }
        )
    for r in effects.itertuples(index=False) if len(effects) else []:
        rows.append(
            {
                "key": f"driver {r.kpi} -> {r.unique_id} ({r.scenario})",
                "value": f"+{r.uplift_at_horizon_end:.3g} at horizon end",
                "note": f"{r.kpi} {r.growth:+.0%}; {r.coefficient:.3g} per unit of {r.kpi}; R2 {r.r2:.2f}",
            }
        )
    return pd.DataFrame(rows, columns=["key", "value", "note"])


@task(name="store-plan", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def store_plan(cfg: Config, result: PlanResult) -> None:
    from capplan.warehouse.connection import warehouse

    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        con.execute("BEGIN TRANSACTION")
        for name in PLAN_TABLES:
            frame = result.tables.get(name)
            con.execute(f"DROP TABLE IF EXISTS {name}")
            if frame is None or frame.empty or len(frame.columns) == 0:
                continue
            con.register("_t", _storable(frame))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _t")
            con.unregister("_t")
        con.execute("COMMIT")


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(
                lambda v: v if v is None or isinstance(v, str | bool | int | float) else str(v)
            )
    return out


@flow(name="capplan-plan")
def plan_flow(cfg: Config) -> PlanResult:
    result = build_plan(cfg)
    store_plan(cfg, result)
    return result
