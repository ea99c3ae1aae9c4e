"""Capacity-planning math: pure kernels over frames (no I/O).

The verbs a pipeline calls (``build_plan`` above all); helpers and kernels live in the submodules.
"""

from .actions import build_actions
from .alerts import build_alerts
from .autoscale import replay_hpa, replay_predictive, simulate_service
from .bottlenecks import find_bottlenecks
from .build import build_plan, history_days
from .compare import compare_plans
from .cost import capacity_cost_frontier, headroom_cost, monthly_cost
from .drivers import add_uplift, apply_kpi_scenario, fit_driver_model, learned_event_uplift
from .queueing import erlang_c, servers_for_latency
from .rightsizing import compare_alternatives, rightsizing
from .rollup import monthly_plan, plan_summary, scenario_totals
from .runway import runway, runway_frame
from .scaling_plan import replay_services, schedule
from .sizing import plan_instances, required_instances, size_plan, size_with_usl
from .usl import fit_usl, fit_usl_frame, usl_capacity

__all__ = [
    "build_plan",
    "history_days",
    "compare_plans",
    "build_actions",
    "size_plan",
    "monthly_plan",
    "scenario_totals",
    "plan_summary",
    "fit_usl",
    "fit_usl_frame",
    "usl_capacity",
    "erlang_c",
    "servers_for_latency",
    "required_instances",
    "plan_instances",
    "size_with_usl",
    "runway",
    "runway_frame",
    "find_bottlenecks",
    "rightsizing",
    "compare_alternatives",
    "monthly_cost",
    "headroom_cost",
    "capacity_cost_frontier",
    "fit_driver_model",
    "apply_kpi_scenario",
    "add_uplift",
    "learned_event_uplift",
    "build_alerts",
    "replay_hpa",
    "replay_predictive",
    "simulate_service",
    "replay_services",
    "schedule",
]
