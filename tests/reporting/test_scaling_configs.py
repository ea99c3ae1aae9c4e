"""Every generated autoscaling config validates against the upstream schemas in tests/schemas
(see its README), plus the ranges those schemas state only in prose."""

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from capplan.core.config import AutoscalingPolicy, ScalingRule
from capplan.core.errors import CapplanError
from capplan.reporting.scaling_configs import (
    aws_predictive_policy,
    hpa_manifest,
    keda_scaled_object,
    schedule_runs,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

INVENTORY = pd.DataFrame(
    {
        "service": ["web"] * 4,
        "resource": ["cpu", "memory", "rps", "storage"],
        "capacity_per_instance": [4.0, 16.0, 250.0, 100.0],
        "target_utilization": [0.6, 0.8, 0.7, 0.8],
        "max_instances": [20, 20, 20, 20],
        "cost_per_instance_hour": [0.2] * 4,
    }
)


def _schedule():
    ds = pd.date_range("2026-12-01", periods=6, freq="h")
    # one row per hour, the binding resource's count (memory binds at 03:00)
    return pd.DataFrame(
        {
            "ds": ds,
            "instances_recommended": [2, 2, 5, 6, 3, 2],
            "binding_resource": ["cpu", "cpu", "cpu", "memory", "cpu", "cpu"],
            "capped": False,
        }
    )


POLICIES = {
    "default": AutoscalingPolicy(),
    "tuned": AutoscalingPolicy(
        min_instances=2,
        max_instances=12,
        tolerance=0.05,
        scale_up_stabilization_s=60,
        scale_down_stabilization_s=3600,
        scale_up_policies=(ScalingRule(type="Pods", value=2, period_s=1800),),
        scale_down_policies=(ScalingRule(type="Percent", value=10, period_s=1),),
        select_policy="Min",
        warmup_s=3600,
        max_capacity_breach="IncreaseMaxCapacity",
        max_capacity_buffer=100,
        timezone="Europe/Berlin",
    ),
    "forecast_only": AutoscalingPolicy(forecast_only=True, max_capacity_buffer=0),
}


@pytest.fixture(scope="module")
def hpa_validator():
    spec = json.loads((SCHEMAS / "k8s-autoscaling-v2-openapi.json").read_text())
    root = {
        "$ref": "#/components/schemas/io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        "components": spec["components"],
    }
    return jsonschema.Draft7Validator(root)


@pytest.fixture(scope="module")
def keda_validator():
    crd = yaml.safe_load((SCHEMAS / "keda-scaledobjects-crd.yaml").read_text())
    return jsonschema.Draft7Validator(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


@pytest.fixture(scope="module")
def cron_keys():
    scalers = json.loads((SCHEMAS / "keda-scalers-schema.json").read_text())["scalers"]
    (cron,) = [s for s in scalers if s["type"] == "cron"]
    return {p["name"] for p in cron["parameters"] if not p.get("optional")}


def _check_behavior(behavior: dict) -> None:
    for side in ("scaleUp", "scaleDown"):
        rules = behavior[side]
        assert 0 <= rules["stabilizationWindowSeconds"] <= 3600
        assert rules["selectPolicy"] in ("Max", "Min", "Disabled")
        for p in rules["policies"]:
            assert p["type"] in ("Pods", "Percent")
            assert 1 <= p["periodSeconds"] <= 1800
            assert p["value"] > 0


@pytest.mark.parametrize("name", list(POLICIES))
def test_hpa_validates_against_the_kubernetes_schema(name, hpa_validator):
    doc = hpa_manifest("web", POLICIES[name], INVENTORY)
    errors = list(hpa_validator.iter_errors(doc))
    assert not errors, [e.message for e in errors]
    spec = doc["spec"]
    _check_behavior(spec["behavior"])
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    assert {m["type"] for m in spec["metrics"]} == {"Resource", "Pods"}


def test_hpa_carries_the_reactive_policy():
    spec = hpa_manifest("web", POLICIES["tuned"], INVENTORY)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 12)
    assert spec["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Min",
        "policies": [{"type": "Pods", "value": 2, "periodSeconds": 1800}],
    }
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 3600
    cpu, mem, rps = spec["metrics"]
    assert cpu["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
    assert mem["resource"]["target"]["averageUtilization"] == 80
    assert rps["pods"]["target"] == {"type": "AverageValue", "averageValue": "175"}  # 250 x 0.7
    # the inventory's max_instances when the config sets none; none at all is an error
    assert hpa_manifest("web", POLICIES["default"], INVENTORY)["spec"]["maxReplicas"] == 20
    with pytest.raises(CapplanError, match="maxReplicas is required"):
        hpa_manifest("web", POLICIES["default"], INVENTORY.assign(max_instances=None))


@pytest.mark.parametrize("name", list(POLICIES))
def test_keda_validates_against_the_crd_and_the_cron_catalogue(name, keda_validator, cron_keys):
    doc = keda_scaled_object("web", POLICIES[name], INVENTORY, _schedule())
    errors = list(keda_validator.iter_errors(doc))
    assert not errors, [e.message for e in errors]
    spec = doc["spec"]
    assert spec["minReplicaCount"] <= spec["maxReplicaCount"]  # the CRD's CEL rule
    _check_behavior(spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"])
    crons = [t for t in spec["triggers"] if t["type"] == "cron"]
    for t in crons:
        assert set(t["metadata"]) == cron_keys
        assert all(isinstance(v, str) for v in t["metadata"].values())
        assert len(t["metadata"]["start"].split()) == 5
    assert bool(crons) != POLICIES[name].forecast_only
    assert ("fallback" in spec) == bool(crons)


def test_keda_cron_triggers_follow_the_binding_schedule():
    assert schedule_runs(_schedule()) == [
        (pd.Timestamp("2026-12-01 00:00"), pd.Timestamp("2026-12-01 02:00"), 2),
        (pd.Timestamp("2026-12-01 02:00"), pd.Timestamp("2026-12-01 03:00"), 5),
        (pd.Timestamp("2026-12-01 03:00"), pd.Timestamp("2026-12-01 04:00"), 6),
        (pd.Timestamp("2026-12-01 04:00"), pd.Timestamp("2026-12-01 05:00"), 3),
        (pd.Timestamp("2026-12-01 05:00"), pd.Timestamp("2026-12-01 06:00"), 2),
    ]
    spec = keda_scaled_object("web", POLICIES["tuned"], INVENTORY, _schedule())["spec"]
    crons = [t["metadata"] for t in spec["triggers"] if t["type"] == "cron"]
    # min_instances 2: runs at 2 need no trigger; Berlin is UTC+1 in December; each run starts
    # warmup_s (1 h) early, overlapping the one before (KEDA takes the max)
    assert crons == [
        {"timezone": "Europe/Berlin", "start": "0 2 1 12 *", "end": "0 4 1 12 *", "desiredReplicas": "5"},
        {"timezone": "Europe/Berlin", "start": "0 3 1 12 *", "end": "0 5 1 12 *", "desiredReplicas": "6"},
        {"timezone": "Europe/Berlin", "start": "0 4 1 12 *", "end": "0 6 1 12 *", "desiredReplicas": "3"},
    ]
    capped = keda_scaled_object(
        "web", POLICIES["tuned"].model_copy(update={"max_instances": 4}), INVENTORY, _schedule()
    )
    assert {t["metadata"]["desiredReplicas"] for t in capped["spec"]["triggers"] if t["type"] == "cron"} == {
        "3",
        "4",
    }
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 6}
    assert {t["type"] for t in spec["triggers"]} == {"cron", "cpu", "memory"}  # KEDA takes the max
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["tolerance"] == "50m"
    reactive = keda_scaled_object("web", AutoscalingPolicy(mode="reactive"), INVENTORY, _schedule())
    assert {t["type"] for t in reactive["spec"]["triggers"]} == {"cpu", "memory"}
    # a hybrid's reactive part tracks hybrid_reactive_utilization beside the cron triggers
    loose = keda_scaled_object(
        "web", AutoscalingPolicy(hybrid_reactive_utilization=0.85), INVENTORY, _schedule()
    )
    assert {t["metadata"]["value"] for t in loose["spec"]["triggers"] if t["type"] in ("cpu", "memory")} == {
        "85"
    }
    # without cron triggers (forecast-only) the reactive part keeps the target
    alone = AutoscalingPolicy(hybrid_reactive_utilization=0.85, forecast_only=True)
    values = {
        t["metadata"]["value"]
        for t in keda_scaled_object("web", alone, INVENTORY, _schedule())["spec"]["triggers"]
    }
    assert "85" not in values
    assert "fallback" not in reactive["spec"]  # KEDA's webhook refuses it on cpu/memory alone
    predictive = keda_scaled_object("web", AutoscalingPolicy(mode="predictive"), INVENTORY, _schedule())
    assert {t["type"] for t in predictive["spec"]["triggers"]} == {"cron"}


# --- AWS: botocore's validate_parameters when installed, else the same checks on the model -----


def _aws_model():
    return json.loads((SCHEMAS / "aws-autoscaling-service-2.json").read_text())


def _check_shape(value, shape_name: str, shapes: dict, path: str = "params") -> list[str]:
    """botocore's checks (required members, types, unknown keys, min) plus enum and max."""
    shape, errs = shapes[shape_name], []
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected a structure, got {type(value).__name__}"]
        errs += [f"{path}: missing required {k}" for k in shape.get("required", []) if k not in value]
        for k, v in value.items():
            if k not in shape["members"]:
                errs.append(f"{path}: unknown parameter {k}")
            else:
                errs += _check_shape(v, shape["members"][k]["shape"], shapes, f"{path}.{k}")
        return errs
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        if len(value) < shape.get("min", 0):
            errs.append(f"{path}: fewer than {shape['min']} items")
        for i, v in enumerate(value):
            errs += _check_shape(v, shape["member"]["shape"], shapes, f"{path}[{i}]")
        return errs
    types = {"string": str, "integer": int, "double": (int, float), "boolean": bool}
    if not isinstance(value, types[kind]) or (kind != "boolean" and isinstance(value, bool)):
        return [f"{path}: expected {kind}, got {value!r}"]
    size = len(value) if kind == "string" else value
    if "min" in shape and size < shape["min"]:
        errs.append(f"{path}: below min {shape['min']}")
    if "max" in shape and size > shape["max"]:
        errs.append(f"{path}: above max {shape['max']}")
    if "enum" in shape and value not in shape["enum"]:
        errs.append(f"{path}: {value!r} not in {shape['enum']}")
    return errs


@pytest.mark.parametrize("name", list(POLICIES))
def test_aws_policy_validates_against_the_botocore_model(name):
    model = _aws_model()
    params = aws_predictive_policy("web", POLICIES[name], INVENTORY)
    input_shape = model["operations"]["PutScalingPolicy"]["input"]["shape"]
    assert _check_shape(params, input_shape, model["shapes"]) == []
    cfg = params["PredictiveScalingConfiguration"]
    assert params["PolicyType"] == "PredictiveScaling"
    assert 0 <= cfg.get("MaxCapacityBuffer", 0) <= 100
    assert cfg["Mode"] == ("ForecastOnly" if name == "forecast_only" else "ForecastAndScale")


def test_the_shape_checker_catches_what_botocore_and_the_prose_forbid():
    model = _aws_model()
    good = aws_predictive_policy("web", POLICIES["tuned"], INVENTORY)
    assert good["PredictiveScalingConfiguration"]["MaxCapacityBuffer"] == 100
    assert good["PredictiveScalingConfiguration"]["SchedulingBufferTime"] == 3600
    bad = json.loads(json.dumps(good))
    bad["PredictiveScalingConfiguration"].update(MaxCapacityBuffer=101, Mode="Sometimes", Extra=1)
    del bad["PredictiveScalingConfiguration"]["MetricSpecifications"][0]["TargetValue"]
    errs = _check_shape(bad, "PutScalingPolicyType", model["shapes"])
    assert len(errs) == 4, errs


def test_aws_policy_with_botocore_itself():
    botocore_model = pytest.importorskip("botocore.model")
    from botocore.validate import validate_parameters

    shape = (
        botocore_model.ServiceModel(_aws_model(), "autoscaling")
        .operation_model("PutScalingPolicy")
        .input_shape
    )
    for policy in POLICIES.values():
        validate_parameters(aws_predictive_policy("web", policy, INVENTORY), shape)


def test_aws_needs_a_cpu_row():
    with pytest.raises(CapplanError, match="no cpu inventory row"):
        aws_predictive_policy("web", AutoscalingPolicy(), INVENTORY[INVENTORY["resource"] != "cpu"])


def test_the_validators_do_catch_broken_configs(hpa_validator, keda_validator):
    hpa = hpa_manifest("web", POLICIES["default"], INVENTORY)
    del hpa["spec"]["maxReplicas"]
    hpa["spec"]["minReplicas"] = "two"
    assert len(list(hpa_validator.iter_errors(hpa))) == 2
    keda = keda_scaled_object("web", POLICIES["default"], INVENTORY, _schedule())
    del keda["spec"]["fallback"]["failureThreshold"]
    keda["spec"]["triggers"][0]["metadata"]["desiredReplicas"] = 5
    assert len(list(keda_validator.iter_errors(keda))) == 2
