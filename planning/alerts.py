"""Alerts from a plan: short runway, utilization over target, instance caps, weak forecasts.

Rules (``cfg`` is :class:`capplan.core.config.PlanningConfig`, threshold T = runway_alert_days):

* ``runway_short``: status ``already_short`` -> critical; ``days_left < T / 2`` -> critical;
  ``days_left < T`` -> warning.
* ``over_target_utilization``: utilization at the first planned ds above the row's
  ``target_utilization`` -> warning; at or above 1.0 (demand beyond raw capacity) -> critical.
* ``cap_hit``: any ds where the required count was cut to ``max_instances`` -> critical
  (the cap makes the demand unservable).
* ``low_confidence``: backtest MASE above ``low_confidence_mase`` -> info (resource = the
  series' metric, scenario ``all``).

One alert per ``service, resource, scenario, kind``; sorted critical, warning, info.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.config import PlanningConfig
from capplan.core.contracts import split_unique_id

from ._common import require_columns

ALERT_COLUMNS = ("severity", "service", "resource", "scenario", "kind", "message")
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _runway_alerts(runway: pd.DataFrame, threshold: float) -> list[dict]:
    out = []
    for r in runway.itertuples(index=False):
        if r.status == "already_short":
            sev, msg = "critical", f"demand already exceeds usable capacity ({r.crossing:%Y-%m-%d})"
        elif r.days_left < threshold:
            sev = "critical" if r.days_left < threshold / 2 else "warning"
            upper = "beyond the horizon" if r.days_left_max == float("inf") else f"{r.days_left_max:.1f} days"
            msg = (
                f"capacity runs out in {r.days_left:.1f} days (on {r.crossing:%Y-%m-%d}; "
                f"range {r.days_left_min:.1f} days to {upper}); alert threshold {threshold:g} days"
            )
        else:
            continue
        out.append(
            dict(
                severity=sev,
                service=r.service,
                resource=r.resource,
                scenario=r.scenario,
                kind="runway_short",
                message=msg,
            )
        )
    return out


def _plan_alerts(plan: pd.DataFrame) -> list[dict]:
    out = []
    for (service, resource, scenario), g in plan.sort_values("ds").groupby(
        ["service", "resource", "scenario"]
    ):
        first = g.iloc[0]
        util, target = float(first["utilization_at_current"]), float(first["target_utilization"])
        if util > target:
            out.append(
                dict(
                    severity="critical" if util >= 1.0 else "warning",
                    service=service,
                    resource=resource,
                    scenario=scenario,
                    kind="over_target_utilization",
                    message=f"utilization {util:.0%} on {first['ds']:%Y-%m-%d} is above the {target:.0%} target",
                )
            )
        hit = g[g["capped"].astype(bool)]
        if not hit.empty:
            h = hit.iloc[0]
            out.append(
                dict(
                    severity="critical",
                    service=service,
                    resource=resource,
                    scenario=scenario,
                    kind="cap_hit",
                    message=_cap_message(h),
                )
            )
    return out


def _cap_message(h: pd.Series) -> str:
    need = float(h["instances_uncapped"])
    if not np.isfinite(need):  # USL sizing: demand beyond the peak throughput of scaling out
        return (
            f"demand on {h['ds']:%Y-%m-%d} exceeds what scaling out can serve (past the load-tested "
            f"throughput peak); capped at max_instances {int(h['instances_required'])}"
        )
    return f"needs {int(need)} instances on {h['ds']:%Y-%m-%d} but max_instances is {int(h['instances_required'])}"


def _accuracy_alerts(accuracy: pd.DataFrame, limit: float) -> list[dict]:
    out = []
    for r in accuracy[accuracy["mase"] > limit].itertuples(index=False):
        service, metric, _ = split_unique_id(r.unique_id)
        out.append(
            dict(
                severity="info",
                service=service,
                resource=metric,
                scenario="all",
                kind="low_confidence",
                message=f"forecast of {r.unique_id} is weak: backtest MASE {r.mase:.2f} > {limit:g}",
            )
        )
    return out


def build_alerts(
    runway: pd.DataFrame, utilization: pd.DataFrame, accuracy: pd.DataFrame | None, cfg: PlanningConfig
) -> pd.DataFrame:
    """Alerts per the module rules.

    ``runway``: :func:`runway_frame` output. ``utilization``: :func:`plan_instances` output
    (``service, resource, scenario, ds, utilization_at_current, target_utilization, capped,
    instances_required, instances_uncapped``). ``accuracy``: ``unique_id, mase`` (one row per
    series, e.g. the champion's backtest score) or None. Returns :data:`ALERT_COLUMNS`.
    """
    require_columns(
        runway,
        [
            "service",
            "resource",
            "scenario",
            "status",
            "crossing",
            "days_left",
            "days_left_min",
            "days_left_max",
        ],
        "runway frame",
    )
    require_columns(
        utilization,
        [
            "service",
            "resource",
            "scenario",
            "ds",
            "utilization_at_current",
            "target_utilization",
            "capped",
            "instances_required",
            "instances_uncapped",
        ],
        "plan frame",
    )
    rows = _runway_alerts(runway, cfg.runway_alert_days) + _plan_alerts(utilization)
    if accuracy is not None:
        require_columns(accuracy, ["unique_id", "mase"], "accuracy frame")
        rows += _accuracy_alerts(accuracy, cfg.low_confidence_mase)
    out = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
    order = out["severity"].map(_SEVERITY_ORDER)
    return (
        out.assign(_o=order)
        .sort_values(["_o", "service", "resource", "scenario", "kind"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )
