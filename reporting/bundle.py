"""An export's :class:`PlanBundle` from one stored plan (``ExportInputs``): pure, no I/O.

Frames keep their stored names; only the user-facing ``ts`` replaces ``ds`` in forecasts and
history. The forecasts gain the usable capacity, the expected scenario's planned demand (what
runway and sizing use), its required capacity (that demand plus headroom) and the capacity of
``max_instances``, so the fan charts show them next to the forecast.
"""

from __future__ import annotations

import pandas as pd

from capplan.core.bundles import ExportInputs
from capplan.core.config import Config
from capplan.core.contracts import quantile_columns

from .fans import planned_capacity, planned_demand
from .specs import PlanBundle

ACCURACY_METRICS = (
    "mase", "smape", "rmsse", "bias", "coverage", "coverage_p10_p90", "msis_p10_p90", "pinball", "n",
)  # fmt: skip


def _forecasts(inputs: ExportInputs, cfg: Config) -> pd.DataFrame:
    fc = inputs.forecasts.copy()
    fc["resource"] = fc["metric"].map(cfg.resource_of)
    plan = inputs.tables["plan"]
    cap = (
        plan.groupby(["service", "resource"], as_index=False)["usable_capacity"].min() if len(plan) else None
    )
    if cap is not None:
        fc = fc.merge(
            cap.rename(columns={"usable_capacity": "capacity"}), on=["service", "resource"], how="left"
        )
    fc = fc.assign(
        planned_demand=planned_demand(fc, plan, inputs.expected_scenario),
        **planned_capacity(fc, plan, inputs.expected_scenario, cfg.planning.headroom),
    )
    cols = [
        "service",
        "metric",
        *(["unit"] if "unit" in fc else []),
        "ts",
        "model",
        *quantile_columns(fc.columns),
    ]
    cols += ["capacity"] if cap is not None else []
    out = fc.rename(columns={"ds": "ts"})[
        [*cols, "planned_demand", "required_capacity", "max_instances_capacity"]
    ]
    return out.sort_values(["service", "metric", "ts"], ignore_index=True)


def _accuracy(inputs: ExportInputs) -> pd.DataFrame:
    acc = inputs.accuracy
    if acc.empty:
        return pd.DataFrame(columns=["service", "metric", "model", "mase", "smape"])
    acc = acc.merge(inputs.series[["unique_id", "service", "metric"]], on="unique_id")
    lead = ["service", "metric", "model", "source"]
    return acc[lead + [c for c in ACCURACY_METRICS if c in acc]].sort_values(lead, ignore_index=True)


def _optional(frame: pd.DataFrame) -> pd.DataFrame | None:
    return frame if len(frame) else None


def plan_bundle(inputs: ExportInputs, cfg: Config) -> PlanBundle:
    """Everything the workbook, CSV tables and report show, for one stored plan."""
    t = inputs.tables
    return PlanBundle(
        summary=t["plan_summary"],
        plan=t["plan_months"],
        runway=t["runway"],
        bottlenecks=t["bottlenecks"],
        rightsizing=t["rightsizing"],
        forecasts=_forecasts(inputs, cfg),
        accuracy=_accuracy(inputs),
        alerts=t["alerts"].drop(columns="alert", errors="ignore"),
        frontier=t["frontier"],
        assumptions=t["plan_assumptions"],
        expected_scenario=inputs.expected_scenario,
        totals=t["plan_totals"],
        history=inputs.history,
        autoscaling=_optional(t["autoscaling"]),
        schedule=_optional(t["scaling_schedule"]),
        changes=inputs.changes,
        accuracy_by_week=_optional(inputs.accuracy_by_week) if inputs.accuracy_by_week is not None else None,
        actions=t.get("actions"),
        purchase_plan=_optional(t.get("purchase_plan", pd.DataFrame())),
        long_range=_optional(t.get("long_range", pd.DataFrame())),
        long_range_accuracy=_optional(t.get("long_range_accuracy", pd.DataFrame())),
    )
