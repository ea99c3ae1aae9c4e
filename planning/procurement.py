"""The long-range plan sized, its runway, lead times, order-by dates and the purchase plan by month.

* :func:`long_range_plan`: scenario demand on the long-range projection (:mod:`.longrange`), sized
  by the one sizing (:func:`.sizing.size_plan`: cost and instances agree with the short horizon);
* :func:`lead_times`: per ``service, resource``, the inventory's ``lead_time_days`` where given,
  else ``[planning] lead_time_days`` of the resource, else 0;
* :func:`extend_runway`: the short horizon's runway with the long-range crossing, its range
  (earliest from the higher quantile), days and ``months_left`` (days / 30.44), the lead time
  and the ``order_by_date`` (long-range crossing - lead time);
* :func:`purchase_plan`: per ``scenario, period`` (a month) and service: ``instances_needed``
  (the running peak of ``instances_uncapped``: bought capacity is kept, never below today's
  ``instances``), ``instances_to_add`` that month, the ``binding_resource`` (the resource whose
  count is largest), ``order_by_date`` (the month's first day of need - the lead time) and
  ``monthly_cost_change`` = (instances_needed - instances) x cost per instance-hour x 730,
  cumulative against today. Every month of the horizon has a row per scenario and service
  (0 to add when nothing is needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from capplan.core.config import Config
from capplan.core.contracts import quantile_columns

from ._common import HOURS_PER_MONTH
from .demand import resources
from .longrange import (
    BACKTEST_DAYS,
    DAYS_PER_MONTH,
    KEYS,
    baseline,
    driver_uplift,
    event_multipliers,
    horizon_days,
    to_resolution,
)
from .parts import long_range_peaks
from .runway import runway_frame
from .scenarios import event_windows, quantile_bracket
from .sizing import size_plan

PURCHASE_COLUMNS = (
    "scenario", "period", "service", "binding_resource", "instances", "instances_needed", "instances_to_add",
    "max_instances", "order_by_date", "lead_time_days", "monthly_cost_change",
)  # fmt: skip
LONG_RUNWAY_COLUMNS = (
    "long_range_status", "long_range_crossing", "long_range_crossing_earliest", "long_range_days_left",
    "long_range_days_left_min", "months_left", "months_left_min", "lead_time_days", "order_by_date",
)  # fmt: skip


@dataclass
class LongRange:
    plan: pd.DataFrame = field(default_factory=pd.DataFrame)  # sized long-range demand
    runway: pd.DataFrame = field(default_factory=pd.DataFrame)  # runway_frame on it
    purchase: pd.DataFrame = field(default_factory=pd.DataFrame)
    accuracy: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[dict] = field(default_factory=list)


def lead_times(inventory: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """``service, resource, lead_time_days`` (see the module docstring)."""
    out = inventory[KEYS].copy()
    conf = out["resource"].map(cfg.planning.lead_time_days).astype(float)
    own = (
        pd.to_numeric(inventory["lead_time_days"], errors="coerce") if "lead_time_days" in inventory else None
    )
    out["lead_time_days"] = (own.fillna(conf) if own is not None else conf).fillna(0.0).to_numpy(float)
    return out


def scenario_long_range(base, pk, inputs, cfg: Config, learned, traffic, resource_of) -> pd.DataFrame:
    """Per scenario: ``base`` with its quantile bracket, multiplier, KPI path and event uplifts."""
    qcols = [c for c in base.columns if c not in (*KEYS, "ds", "model")]
    frames, cache = [], {}
    for name, sc in cfg.scenarios.items():
        low, mid, high = quantile_bracket(sc.quantile, qcols)
        f = base.copy()
        shift = driver_uplift(pk, inputs.kpis, sc.kpi_growth_per_quarter, f, inputs.as_of, cache)
        windows = event_windows(
            inputs.events, inputs.series, f["ds"].min(), f["ds"].max() + pd.Timedelta(days=1),
            sc.event_uplift, learned, traffic,
        )  # fmt: skip
        mult = event_multipliers(windows, inputs.series, resource_of, f) * sc.demand_multiplier
        for c in qcols:
            f[c] = f[c].to_numpy(float) * mult + shift
        frames.append(
            f.assign(
                scenario=name, quantile=sc.quantile, demand_low=f[low], demand=f[mid], demand_high=f[high]
            )
        )
    return pd.concat(frames, ignore_index=True)


def long_range_plan(inputs, cfg: Config, inventory, usl, learned, traffic, parts) -> LongRange:
    """The sized long-range plan, its runway, the purchase plan and the model's backtest score.

    Empty when ``[planning] long_range_months`` is 0 or no series has enough history.
    (Seven parameters: the plan's inputs, config and fitted pieces the short horizon already made;
    ``parts``: :class:`.parts.ServiceParts`, whose fits and backtest were made per service batch.)"""
    p = cfg.planning
    if p.long_range_months == 0:
        return LongRange(
            notes=[{"key": "long-range plan", "value": "off", "note": "[planning] long_range_months = 0"}]
        )
    resource_of = resources(cfg, inputs.series)
    pk = long_range_peaks(inputs, cfg, inventory)
    qcols = quantile_columns(inputs.forecasts.columns)
    fits = parts.fits
    if not fits:
        return LongRange(
            notes=[
                {"key": "long-range plan", "value": "none", "note": "no series has 28 days of daily peaks"}
            ]
        )
    base = baseline(fits, horizon_days(inputs.as_of, p.long_range_months), qcols)
    demand = scenario_long_range(base, pk, inputs, cfg, learned, traffic, resource_of)
    demand = to_resolution(demand, p.long_range_resolution, [*qcols, "demand_low", "demand", "demand_high"])
    sized = size_plan(demand, inventory, usl, p)
    runway = runway_frame(sized, as_of=inputs.as_of, low="demand_low", mid="demand", high="demand_high")
    accuracy = parts.accuracy
    models = sorted({f.model for f in fits.values()})
    notes = [{"key": "long-range model", "value": "; ".join(models),
              "note": f"{len(fits)} service/resources, {p.long_range_months} months, {p.long_range_resolution}, "
                      f"daily peaks from {min(f.origin for f in fits.values()):%Y-%m-%d}"}]  # fmt: skip
    if len(accuracy):
        notes.append({"key": "long-range model accuracy", "value": f"MASE {accuracy['mase'].median():.2f}",
                      "note": f"median over {len(accuracy)} service/resources on the last {BACKTEST_DAYS} days; "
                              f"coverage {accuracy['coverage'].mean():.0%} of the outer quantiles "
                              f"(nominal {accuracy['nominal_coverage'].iloc[0]:.0%})"})  # fmt: skip
    leads = lead_times(inventory, cfg)
    return LongRange(
        sized,
        runway,
        purchase_plan(sized, leads, as_of=inputs.as_of, scenarios=list(cfg.scenarios)),
        accuracy,
        notes,
    )


def extend_runway(runway: pd.DataFrame, long_runway: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """The short runway with the long-range columns (:data:`LONG_RUNWAY_COLUMNS`)."""
    keys = [*KEYS, "scenario"]
    out = runway.merge(leads, on=KEYS, how="left")
    out["lead_time_days"] = out["lead_time_days"].fillna(0.0)
    if long_runway.empty:
        for c in LONG_RUNWAY_COLUMNS[:-2]:
            out[c] = pd.NaT if "crossing" in c else (None if c == "long_range_status" else np.nan)
        out["order_by_date"] = pd.NaT
        return out
    lr = long_runway[[*keys, "status", "crossing", "crossing_earliest", "days_left", "days_left_min"]].rename(
        columns={
            c: f"long_range_{c}"
            for c in ("status", "crossing", "crossing_earliest", "days_left", "days_left_min")
        }
    )
    out = out.merge(lr, on=keys, how="left")
    out["months_left"] = out["long_range_days_left"] / DAYS_PER_MONTH
    out["months_left_min"] = out["long_range_days_left_min"] / DAYS_PER_MONTH
    out["order_by_date"] = out["long_range_crossing"] - pd.to_timedelta(out["lead_time_days"], unit="D")
    return out


def purchase_plan(sized: pd.DataFrame, leads: pd.DataFrame, *, as_of, scenarios: list[str]) -> pd.DataFrame:
    """Instances to buy per scenario, month and service (see the module docstring)."""
    if sized.empty:
        return pd.DataFrame(columns=list(PURCHASE_COLUMNS))
    s = sized.merge(leads, on=KEYS, how="left")
    s["lead_time_days"] = s["lead_time_days"].fillna(0.0)
    grp = ["scenario", "service"]
    # per service and day: the binding resource (largest uncapped count)
    top = s.sort_values(["instances_uncapped", "resource"], ascending=[False, True], kind="stable")
    day = top.drop_duplicates([*grp, "ds"]).sort_values([*grp, "ds"], kind="stable").reset_index(drop=True)
    day["period"] = day["ds"].dt.to_period("M").dt.to_timestamp()
    day["today"] = day.groupby(grp)["instances"].transform("max").astype(float)
    day["price"] = day.groupby(grp)["cost_per_instance_hour"].transform("max") * HOURS_PER_MONTH
    day["_need"] = np.maximum(day["instances_uncapped"].astype(float), day["today"])
    day["_need"] = day.groupby(grp)["_need"].cummax()
    day["_prev"] = day.groupby(grp)["_need"].shift(1).fillna(day["today"])
    keys = [*grp, "period"]
    month = day.groupby(keys, sort=False).agg(
        instances=("today", "first"), instances_needed=("_need", "max"), _prev=("_prev", "first"),
        price=("price", "first"), max_instances=("max_instances", "max"),
    )  # fmt: skip
    peak = day.loc[day.groupby(keys, sort=False)["_need"].idxmax(), [*keys, "resource", "lead_time_days"]]
    grew = (
        day[day["_need"] > day["_prev"]]
        .groupby(keys, sort=False)
        .first()[["ds", "resource", "lead_time_days"]]
    )
    month = month.join(peak.set_index(keys)).join(grew.add_prefix("g_"))
    has = month["g_ds"].notna()
    month["binding_resource"] = month["g_resource"].where(has, month["resource"])
    month["lead_time_days"] = month["g_lead_time_days"].where(has, month["lead_time_days"]).astype(float)
    month["order_by_date"] = month["g_ds"] - pd.to_timedelta(month["lead_time_days"], unit="D")
    month["instances_to_add"] = month["instances_needed"] - month["_prev"]
    month["monthly_cost_change"] = (month["instances_needed"] - month["instances"]) * month["price"]
    out = month.reset_index()
    order = {sc: i for i, sc in enumerate(scenarios)}
    out = out.assign(_o=out["scenario"].map(order)).sort_values(["_o", "period", "service"], kind="stable")
    out["max_instances"] = out["max_instances"].astype(float)
    return out.reset_index(drop=True)[list(PURCHASE_COLUMNS)]


def long_range_summary(lr: LongRange, runway: pd.DataFrame, cfg: Config, as_of) -> pd.DataFrame:
    """The Summary's long-range rows: the horizon, who runs short and when, orders due, purchases."""
    p, exp = cfg.planning, cfg.planning.expected_scenario
    if lr.plan.empty:
        return pd.DataFrame([{"metric": "long-range horizon (months)", "value": 0.0,
                              "note": lr.notes[0]["note"] if lr.notes else "no long-range plan"}])  # fmt: skip
    end = pd.Timestamp(as_of).floor("D") + pd.DateOffset(months=p.long_range_months)
    rows = [{"metric": "long-range horizon (months)", "value": float(p.long_range_months),
             "note": f"to {end:%Y-%m-%d}, {p.long_range_resolution} peaks; {lr.notes[0]['value']}"}]  # fmt: skip
    r = runway[(runway["scenario"] == exp) & runway["long_range_crossing"].notna()].sort_values(
        "long_range_crossing"
    )
    names = [f"{a}/{b} " + ("now" if m < 0.05 else f"in {m:.1f} months")
             for a, b, m in r[[*KEYS, "months_left"]].itertuples(index=False)]  # fmt: skip
    rows.append({"metric": f"service/resources short within the long-range horizon ({exp})", "value": float(len(r)),
                 "note": _first(names)})  # fmt: skip
    due = pd.Timestamp(as_of) + pd.Timedelta(days=p.runway_alert_days)
    o = runway[(runway["lead_time_days"] > 0) & (runway["order_by_date"] <= due)]
    o = o.sort_values("order_by_date").drop_duplicates(KEYS)
    rows.append({"metric": f"orders due within {p.runway_alert_days:g} days (any scenario)", "value": float(len(o)),
                 "note": _first([f"{a}/{b} by {d:%Y-%m-%d}" for a, b, d in o[[*KEYS, "order_by_date"]].itertuples(index=False)])})  # fmt: skip
    e = lr.purchase[lr.purchase["scenario"] == exp]
    if len(e):
        last = e[e["period"] == e["period"].max()]["monthly_cost_change"].sum()
        rows.append({"metric": f"instances to buy within the long-range horizon ({exp})",
                     "value": float(e["instances_to_add"].sum()),
                     "note": f"monthly cost change {last:+,.0f} against today by {end:%Y-%m}"})  # fmt: skip
    if len(lr.accuracy):
        rows.append({"metric": f"long-range model MASE (last {BACKTEST_DAYS} days)", "value": float(lr.accuracy["mase"].median()),
                     "note": lr.notes[-1]["note"]})  # fmt: skip
    return pd.DataFrame(rows, columns=["metric", "value", "note"])


def _first(names: list[str], n: int = 6) -> str:
    """The first ``n`` names, and how many more."""
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more
