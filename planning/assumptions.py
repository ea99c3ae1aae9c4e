"""The plan's assumptions, stated as ``key, value, note`` rows (the Assumptions sheet)."""

from __future__ import annotations

import pandas as pd

from capplan.core.bundles import PlanInputs
from capplan.core.config import Config, config_hash

COLUMNS = ["key", "value", "note"]


def _scenario_rows(cfg: Config) -> list[dict]:
    rows = []
    for name, sc in cfg.scenarios.items():
        parts = [
            sc.description,
            ", ".join(f"{k} {v:+.0%}" for k, v in sc.kpi_growth.items()),
            ", ".join(f"{k} x{v:g}" for k, v in sc.event_uplift.items()),
        ]
        rows.append(
            {
                "key": f"scenario {name}",
                "value": f"p{sc.quantile * 100:g} x {sc.demand_multiplier:g}",
                "note": "; ".join(p for p in parts if p),
            }
        )
    return rows


def _event_rows(windows: pd.DataFrame) -> list[dict]:
    if windows.empty:
        return []
    grouped = windows.groupby(["scenario", "name", "source"], sort=True)["multiplier"].agg(
        ["min", "max", "count"]
    )
    rows = []
    sources = grouped.groupby(level=["scenario", "name"]).size()
    for (scenario, name, source), r in grouped.iterrows():
        span = f"x{r['min']:.2f}" if r["min"] == r["max"] else f"x{r['min']:.2f}-{r['max']:.2f}"
        several = sources[(scenario, name)] > 1  # e.g. stated for traffic, learned for gauges
        rows.append(
            {
                "key": f"event {name} ({scenario}; {source})" if several else f"event {name} ({scenario})",
                "value": span,
                "note": f"{source}; {int(r['count'])} series",
            }
        )
    return rows


def _model_rows(usl: pd.DataFrame, effects: pd.DataFrame) -> list[dict]:
    """Capacity models (USL fits) and business drivers."""
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
    return rows


def assumptions(
    inputs: PlanInputs, cfg: Config, windows: pd.DataFrame, notes: list[dict], usl: pd.DataFrame, effects
) -> pd.DataFrame:
    """Every assumption the plan rests on: run, horizon, sizing rules, scenarios, events, models.

    Six parameters: these are the six sources of assumptions; each is a frame or list already
    built by another step, so a parameter object would only rename them.
    """
    p = cfg.planning
    rows = [
        {"key": "forecast run", "value": inputs.run_id, "note": "MLflow run of the champions"},
        {"key": "plan as of", "value": str(inputs.as_of), "note": "forecast cutoff"},
        {"key": "horizon end", "value": str(inputs.forecasts["ds"].max()), "note": ""},
        {"key": "redundancy", "value": p.redundancy, "note": f"zones={p.zones}"},
        {"key": "headroom", "value": f"{p.headroom:.0%}", "note": "buffer on top of demand"},
        {"key": "expected scenario", "value": p.expected_scenario, "note": "charts, summary and frontier"},
        {
            "key": "event uplifts",
            "value": "traffic only",
            "note": "a scenario's or event's uplift multiplies traffic-like series (rps, network, cpu, "
            "rates, counters); memory and storage move only by the uplift learned for that series "
            "from past events (storage is not traffic)",
        },
        {
            "key": "scenario cost",
            "value": "uncapped",
            "note": "monthly_cost is the cost of serving the demand (instances_uncapped); "
            "monthly_cost_capped is what max_instances allows; the difference is an action",
        },
        {"key": "config hash", "value": config_hash(cfg), "note": ""},
        *_scenario_rows(cfg),
        *_event_rows(windows),
    ]
    ch = inputs.champions
    for r in ch.itertuples(index=False) if len(ch) else []:
        rows.append({"key": f"champion {r.unique_id}", "value": r.champion, "note": r.reason})
    rows += notes
    rows += _model_rows(usl, effects)
    return pd.DataFrame(rows, columns=COLUMNS)
