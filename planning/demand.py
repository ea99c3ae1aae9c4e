"""Scenario demand: the forecast with each scenario's quantile, multiplier, business drivers and
event uplifts applied, as daily peaks per ``service, resource`` with ``demand_low``, ``demand``
and ``demand_high`` (the scenario's quantile and its neighbours).

Event uplifts take, in order: the scenario's value, the event's ``expected_uplift``, the ratio
learned from past events of the same name, then of the same kind (stated in the assumptions).
Stated uplifts move traffic-like series only (rps, network, cpu, rates and counters); memory and
storage move only by what they did around past events (:mod:`.scenarios`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan.core.bundles import PlanInputs
from capplan.core.config import Config
from capplan.core.contracts import quantile_columns
from capplan.core.errors import CapplanError

from .drivers import add_uplift, apply_kpi_scenario, fit_driver_model, learned_event_uplift
from .scenarios import (
    apply_events,
    apply_multiplier,
    daily_peaks,
    event_windows,
    quantile_bracket,
    resource_demand,
    traffic_series,
)


@dataclass
class ScenarioDemand:
    demand: pd.DataFrame  # service, resource, scenario, ds, quantile columns, demand_low/demand/demand_high
    qcols: list[str]
    windows: pd.DataFrame  # event windows applied, per scenario
    effects: pd.DataFrame  # driver effects per scenario and series
    notes: list[dict]  # assumption rows (key, value, note) for what was learned
    expected_fine: pd.DataFrame | None = None  # the expected scenario on the forecast's own grid


def resources(cfg: Config, series: pd.DataFrame) -> dict[str, str | None]:
    """metric -> the inventory resource it consumes, for the metrics of ``series``."""
    return {m: cfg.resource_of(m) for m in series["metric"].unique()}


def learned_uplifts(
    history: pd.DataFrame, events: pd.DataFrame, series: pd.DataFrame, as_of
) -> tuple[dict, list[dict]]:
    """Uplift ratios learned from history per series, by event name (last year's Black Friday)
    and by event kind (any past sale), and one assumption row per name or kind learned."""
    if events.empty or history.empty:
        return {}, []
    past = events[(events["end"] <= as_of) & (events["kind"] != "outage")]
    learned, notes = {}, []
    service_of = dict(zip(series["unique_id"], series["service"], strict=True))
    groups = [("name", n, past[past["name"] == n]) for n in sorted(set(past["name"]))]
    groups += [("kind", k, past[past["kind"] == k]) for k in sorted(set(past["kind"]))]
    for by, value, evs in groups:
        ratios = []
        for uid, g in history.groupby("unique_id"):
            try:
                up = learned_event_uplift(g, evs, evs["kind"].iloc[0], service=service_of.get(uid))
            except CapplanError:  # no past event of this name/kind with data around it
                continue
            if up.n_events and np.isfinite(up.ratio) and up.ratio > 1:
                learned[(uid, f"{by}:{value}")] = up.ratio
                ratios.append(up.ratio)
        if ratios:
            notes.append(
                {
                    "key": f"learned uplift {by} {value}",
                    "value": f"x{min(ratios):.2f}-{max(ratios):.2f}",
                    "note": f"peak ratio around {len(evs)} past event(s), {len(ratios)} series; "
                    "used where neither the scenario nor the event states an uplift",
                }
            )
    return learned, notes


def _drivers(history: pd.DataFrame, kpis: pd.DataFrame, growth: dict, base: pd.DataFrame, scenario: str):
    """Demand shifts from KPI growth through a fitted driver model per series, and its effects."""
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
        for r in up.sort_values("ds").groupby("kpi").tail(1).itertuples(index=False):
            effects.append(
                {"scenario": scenario, "unique_id": uid, "kpi": r.kpi, "growth": r.growth,
                 "coefficient": fit.coefficients[r.kpi], "r2": fit.r2, "uplift_at_horizon_end": r.uplift}
            )  # fmt: skip
    return (pd.concat(shifts, ignore_index=True) if shifts else None), effects


def scenario_demand(inputs: PlanInputs, cfg: Config) -> ScenarioDemand:
    """Per scenario: daily peak demand per service and resource (see the module docstring)."""
    fc, series = inputs.forecasts, inputs.series
    qcols = quantile_columns(fc.columns)
    resource_of = resources(cfg, series)
    learned, notes = learned_uplifts(inputs.history, inputs.events, series, inputs.as_of)
    traffic = traffic_series(series, resource_of)
    frames, windows_all, effects_all, expected_fine = [], [], [], None
    for name, sc in cfg.scenarios.items():
        try:
            low, mid, high = quantile_bracket(sc.quantile, qcols)
        except ValueError as err:
            raise CapplanError(
                f"scenarios.{name}.quantile: {err}; forecast again after changing the config"
            ) from None
        f = apply_multiplier(fc[["unique_id", "ds", *qcols]], qcols, sc.demand_multiplier)
        shift, effects = _drivers(inputs.history, inputs.kpis, sc.kpi_growth, f, name)
        f = add_uplift(f, shift, qcols) if shift is not None else f
        windows = event_windows(
            inputs.events, series, fc["ds"].min(), fc["ds"].max(), sc.event_uplift, learned, traffic
        )
        f = apply_events(f, windows, qcols)
        fine = resource_demand(f, series, resource_of, qcols)
        if name == cfg.planning.expected_scenario:
            expected_fine = fine
        rd = daily_peaks(fine, ["service", "resource"], qcols)
        frames.append(
            rd.assign(
                scenario=name, quantile=sc.quantile, demand=rd[mid], demand_low=rd[low], demand_high=rd[high]
            )
        )
        windows_all.append(windows.assign(scenario=name))
        effects_all.extend(effects)
    return ScenarioDemand(
        pd.concat(frames, ignore_index=True), qcols, pd.concat(windows_all, ignore_index=True),
        pd.DataFrame(effects_all), notes, expected_fine,
    )  # fmt: skip
