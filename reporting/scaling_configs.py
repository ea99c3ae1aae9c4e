"""Autoscaling configurations generated from ``[autoscaling]``: pure functions returning dicts.

* :func:`hpa_manifest`: a Kubernetes ``autoscaling/v2`` HorizontalPodAutoscaler whose
  ``behavior`` is the reactive policy (stabilization windows, rate policies, select policy) and
  whose metrics are the service's inventory targets (cpu, memory: ``Utilization``; rps: a
  ``Pods`` metric named ``metric_name`` with the per-instance target as ``AverageValue``).
* :func:`keda_scaled_object`: a KEDA ``ScaledObject`` with one ``cron`` trigger per run of equal
  recommended counts in the predictive schedule (``start`` ``warmup_s`` early and ``end`` as
  cron expressions in the policy's ``timezone``, ``desiredReplicas`` cut to ``max_instances``), cpu/memory triggers for the reactive part (KEDA
  takes the max over triggers: the hybrid), the HPA behavior under ``advanced`` and, when there
  is a cron trigger, a ``fallback`` to the schedule's highest count (KEDA refuses a fallback on
  cpu/memory triggers alone). A cron expression names minute, hour, day and
  month, so it recurs yearly: regenerate the object with each plan (48 hours ahead).
* :func:`aws_predictive_policy`: the input of AWS Auto Scaling ``PutScalingPolicy`` with
  ``PolicyType: PredictiveScaling`` (``Mode``, ``SchedulingBufferTime`` = ``warmup_s``,
  ``MaxCapacityBreachBehavior``, ``MaxCapacityBuffer``, one ``ASGCPUUtilization`` metric pair with
  the cpu target as ``TargetValue`` in percent).

Modes: ``reactive`` leaves out the cron triggers; ``predictive`` leaves out the cpu/memory
triggers; ``forecast_only`` leaves out the cron triggers (the schedule is only reported) and
makes the AWS policy ``ForecastOnly``.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from capplan.core.config import AutoscalingPolicy
from capplan.core.errors import CapplanError

_UTILIZATION = ("cpu", "memory")


def k8s_name(service: str) -> str:
    """A DNS-1123 name for ``service`` (lower case, ``-`` for anything else)."""
    name = re.sub(r"[^a-z0-9-]+", "-", service.lower()).strip("-")
    if not name:
        raise CapplanError(f"service {service!r} gives no valid Kubernetes name")
    return name[:63]


def _rows(inventory: pd.DataFrame, service: str) -> pd.DataFrame:
    rows = inventory[inventory["service"] == service]
    if rows.empty:
        raise CapplanError(f"no inventory row for service {service!r}")
    return rows.set_index("resource")


def _max_replicas(policy: AutoscalingPolicy, rows: pd.DataFrame) -> int:
    if policy.max_instances is not None:
        return policy.max_instances
    mx = pd.to_numeric(rows["max_instances"], errors="coerce").dropna()
    if mx.empty:
        raise CapplanError(
            "maxReplicas is required: set [autoscaling] max_instances or the inventory's max_instances"
        )
    return int(mx.min())


def _target(policy: AutoscalingPolicy, rows: pd.DataFrame, resource: str) -> float:
    return float(policy.target_utilization or rows.loc[resource, "target_utilization"])


def _quantity(value: float) -> str:
    """A Kubernetes quantity: whole numbers plain, others in milli-units."""
    milli = round(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def _rules(rules, window_s: int, select: str) -> dict:
    return {
        "stabilizationWindowSeconds": window_s,
        "selectPolicy": select,
        "policies": [{"type": r.type, "value": r.value, "periodSeconds": r.period_s} for r in rules],
    }


def hpa_behavior(policy: AutoscalingPolicy) -> dict:
    """The reactive policy as an ``HorizontalPodAutoscalerBehavior``."""
    return {
        "scaleUp": _rules(policy.scale_up_policies, policy.scale_up_stabilization_s, policy.select_policy),
        "scaleDown": _rules(
            policy.scale_down_policies, policy.scale_down_stabilization_s, policy.select_policy
        ),
    }


def _metrics(policy: AutoscalingPolicy, rows: pd.DataFrame) -> list[dict]:
    out = []
    for r in _UTILIZATION:
        if r in rows.index:
            pct = round(_target(policy, rows, r) * 100)
            out.append(
                {
                    "type": "Resource",
                    "resource": {"name": r, "target": {"type": "Utilization", "averageUtilization": pct}},
                }
            )
    if "rps" in rows.index:
        per_pod = float(rows.loc["rps", "capacity_per_instance"]) * _target(policy, rows, "rps")
        out.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": policy.metric_name},
                    "target": {"type": "AverageValue", "averageValue": _quantity(per_pod)},
                },
            }
        )
    if not out:
        raise CapplanError("no cpu, memory or rps inventory row to track")
    return out


def hpa_manifest(service: str, policy: AutoscalingPolicy, inventory: pd.DataFrame) -> dict:
    """A Kubernetes ``autoscaling/v2`` HorizontalPodAutoscaler for ``service``'s Deployment."""
    rows, name = _rows(inventory, service), k8s_name(service)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "capplan"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": max(1, policy.min_instances),
            "maxReplicas": _max_replicas(policy, rows),
            "metrics": _metrics(policy, rows),
            "behavior": hpa_behavior(policy),
        },
    }


def schedule_runs(schedule: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    """``(start, end, count)`` runs of equal counts in a service's schedule (``ds``,
    ``instances_recommended``: the binding resource's count; several rows per ``ds`` bind at their
    max). ``end`` is the start of the next step."""
    if schedule.empty:
        return []
    per = schedule.groupby("ds")["instances_recommended"].max().sort_index()
    ds = pd.DatetimeIndex(per.index)
    step = (ds[1] - ds[0]) if len(ds) > 1 else pd.Timedelta(hours=1)
    runs, start = [], 0
    values = per.to_numpy()
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start] or ds[i] - ds[i - 1] != step:
            runs.append((ds[start], ds[i - 1] + step, int(values[start])))
            start = i
    return runs


def _cron(ts: pd.Timestamp, timezone: str) -> str:
    local = ts.tz_localize("UTC").tz_convert(timezone)
    return f"{local.minute} {local.hour} {local.day} {local.month} *"


def cron_triggers(schedule: pd.DataFrame, policy: AutoscalingPolicy, floor: int, cap: int) -> list[dict]:
    """One KEDA ``cron`` trigger per run of the schedule above ``floor`` (the min count), its
    count cut to ``cap`` (``maxReplicaCount``), starting ``warmup_s`` early so the instances are
    ready when the run begins (KEDA takes the max where two triggers overlap)."""
    warmup, timezone = pd.Timedelta(seconds=policy.warmup_s), policy.timezone
    return [
        {
            "type": "cron",
            "metadata": {
                "timezone": timezone,
                "start": _cron(start - warmup, timezone),
                "end": _cron(end, timezone),
                "desiredReplicas": str(min(count, cap)),
            },
        }
        for start, end, count in schedule_runs(schedule)
        if count > floor
    ]


def keda_scaled_object(
    service: str,
    policy: AutoscalingPolicy,
    inventory: pd.DataFrame,
    schedule: pd.DataFrame,
    fallback_reason: str | None = None,
) -> dict:
    """A KEDA ``ScaledObject``: cron triggers from ``schedule`` (the plan's ``scaling_schedule``
    rows of ``service``), reactive cpu/memory triggers, HPA behavior and a fallback. With a
    ``fallback_reason`` (the recent forecast was too wrong) the cron triggers are left out and
    the reason is recorded in the annotation ``capplan.io/predictive-fallback``."""
    rows, name = _rows(inventory, service), k8s_name(service)
    lo, hi = policy.min_instances, _max_replicas(policy, rows)
    triggers = []
    if policy.mode != "reactive" and not policy.forecast_only and fallback_reason is None:
        triggers += cron_triggers(schedule, policy, lo, hi)
    if policy.mode != "predictive":
        inner = policy  # in a hybrid the reactive part may track a higher target: the cron covers the rise
        if policy.mode == "hybrid" and policy.hybrid_reactive_utilization is not None and triggers:
            inner = policy.model_copy(update={"target_utilization": policy.hybrid_reactive_utilization})
        for r in _UTILIZATION:
            if r in rows.index:
                pct = round(_target(inner, rows, r) * 100)
                triggers.append({"type": r, "metricType": "Utilization", "metadata": {"value": str(pct)}})
    if not triggers:
        raise CapplanError(
            f"no trigger for {service!r}: the schedule asks for no more than min_instances and the "
            "inventory has no cpu or memory row"
        )
    behavior = hpa_behavior(policy)
    if not math.isclose(policy.tolerance, 0.1):
        for side in behavior.values():
            side["tolerance"] = _quantity(policy.tolerance)
    peak = max([c for _, _, c in schedule_runs(schedule)] + [lo])
    metadata = {"name": name, "labels": {"app.kubernetes.io/managed-by": "capplan"}}
    if fallback_reason is not None:
        metadata["annotations"] = {"capplan.io/predictive-fallback": fallback_reason}
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicaCount": lo,
        "maxReplicaCount": hi,
    }
    if any(t["type"] == "cron" for t in triggers):
        # KEDA's admission webhook (2.17+) refuses a fallback unless a trigger other than cpu or
        # memory has an AverageValue metric (kedacore/keda#5515, #6696): the cron triggers do
        spec["fallback"] = {"failureThreshold": policy.keda_failure_threshold, "replicas": min(peak, hi)}
    spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": behavior}}
    spec["triggers"] = triggers
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": metadata, "spec": spec}


def aws_predictive_policy(service: str, policy: AutoscalingPolicy, inventory: pd.DataFrame) -> dict:
    """``PutScalingPolicy`` input for the Auto Scaling group named after ``service``."""
    rows = _rows(inventory, service)
    if "cpu" not in rows.index:
        raise CapplanError(
            f"AWS predictive scaling is generated from the cpu target; {service!r} has no cpu inventory row"
        )
    config = {
        "MetricSpecifications": [
            {
                "TargetValue": round(_target(policy, rows, "cpu") * 100, 3),
                "PredefinedMetricPairSpecification": {"PredefinedMetricType": "ASGCPUUtilization"},
            }
        ],
        "Mode": "ForecastOnly" if policy.forecast_only or policy.mode == "reactive" else "ForecastAndScale",
        "SchedulingBufferTime": policy.warmup_s,
        "MaxCapacityBreachBehavior": policy.max_capacity_breach,
    }
    if policy.max_capacity_breach == "IncreaseMaxCapacity":
        config["MaxCapacityBuffer"] = policy.max_capacity_buffer
    return {
        "AutoScalingGroupName": service,
        "PolicyName": f"{service}-capplan-predictive",
        "PolicyType": "PredictiveScaling",
        "PredictiveScalingConfiguration": config,
    }


FORMATS = ("hpa", "keda", "aws")
