import numpy as np
import pandas as pd
import pytest

from capplan.core.config import AutoscalingConfig, PlanningConfig
from capplan.planning.scaling_plan import REPLAY_COLUMNS, SCHEDULE_COLUMNS, replay_services, schedule

INVENTORY = pd.DataFrame(
    {
        "service": ["web", "web", "web", "api"],
        "resource": ["cpu", "memory", "storage", "cpu"],
        "capacity_per_instance": [4.0, 16.0, 100.0, 2.0],
        "target_utilization": [0.5, 0.8, 0.8, 0.5],
        "max_instances": [50, 50, 50, 50],
        "cost_per_instance_hour": [0.5, 0.5, 0.5, 0.1],
    }
)
DS = pd.date_range("2026-12-01", periods=3, freq="h")


def _demand(cpu, memory):
    return pd.concat(
        [
            pd.DataFrame({"service": "web", "resource": "cpu", "ds": DS, "p90": cpu}),
            pd.DataFrame({"service": "web", "resource": "memory", "ds": DS, "p90": memory}),
            pd.DataFrame({"service": "web", "resource": "storage", "ds": DS, "p90": 1e6}),  # never binds
        ]
    )


def test_schedule_binds_adds_redundancy_and_honours_the_bounds():
    demand = _demand([4.0, 20.0, 8.0], 30.0)  # cpu needs 2, 10, 4; memory 30 / 12.8 = 2.34 -> 3
    cfg = AutoscalingConfig(max_instances=10)
    out = schedule(demand, INVENTORY, cfg, PlanningConfig(redundancy="n+1"), "p90")
    assert tuple(out.columns) == SCHEDULE_COLUMNS
    assert out["instances_recommended"].tolist() == [4, 10, 5]  # 3 + 1, 10 + 1 cut to 10, 4 + 1
    assert out["binding_resource"].tolist() == ["memory", "cpu", "cpu"]
    assert out["capped"].tolist() == [False, True, False]
    # the max-capacity buffer lets the forecast go 20% above max_instances: 12
    grow = AutoscalingConfig(
        max_instances=10, max_capacity_breach="IncreaseMaxCapacity", max_capacity_buffer=20
    )
    out = schedule(demand, INVENTORY, grow, PlanningConfig(redundancy="n+1"), "p90")
    assert out["instances_recommended"].tolist() == [4, 11, 5] and not out["capped"].any()
    # zone redundancy over 3 zones, a per-service minimum and the forecast margin
    web = AutoscalingConfig(services={"web": {"min_instances": 6, "forecast_margin": 0.25}})
    out = schedule(demand, INVENTORY, web, PlanningConfig(redundancy="zone", zones=3), "p90")
    # margin: 2.93 -> 3, 12.5 -> 13, 5; zones: ceil(x 3/2) = 5, 20, 8; min 6
    assert out["instances_recommended"].tolist() == [6, 20, 8]


def test_schedule_names_a_missing_quantile():
    from capplan.core.errors import CapplanError

    with pytest.raises(CapplanError, match="p95"):
        schedule(_demand([4.0] * 3, 30.0), INVENTORY, AutoscalingConfig(), PlanningConfig(), "p95")


def _usage(service, weeks):
    ds = pd.date_range("2026-01-05", periods=weeks * 168, freq="h")
    hour = np.arange(ds.size) % 24
    cpu = 4.0 + 16.0 * ((hour >= 9) & (hour < 18))
    return pd.DataFrame({"service": service, "resource": "cpu", "ds": ds, "y": cpu})


def test_replay_services_scores_each_pool_walk_forward_and_picks_one_winner():
    use = pd.concat([_usage("web", 3), _usage("api", 1)])  # api: one week, shorter than a season
    cfg = AutoscalingConfig(startup_delay_s=600, warmup_s=900)
    scores, skipped = replay_services(use, INVENTORY, cfg, quantile=0.9)
    assert tuple(scores.columns) == REPLAY_COLUMNS
    assert set(scores["service"]) == {"web"} and len(skipped) == 1 and "api" in skipped[0]
    assert "too short" in skipped[0]
    s = scores.set_index("policy")
    assert s.loc["reactive", "under_provisioned_minutes"] == 14 * 2 * 60  # each morning's jump, 2 h late
    assert s.loc["predictive", "under_provisioned_minutes"] == 0  # a repeating week: forecast exact
    # predictive wins: no under-provisioning at a lower cost than the hybrid and the peers (which
    # also hold reactive)
    assert s["winner"].tolist() == [False, True, False, False, False]
    assert (s["binding_resource"] == "cpu").all()


def test_efficient_marks_the_pareto_frontier_per_policy():
    from capplan.planning.scaling_frontier import efficient

    f = pd.DataFrame(
        {
            "policy": ["reactive"] * 4 + ["hybrid"] * 2,
            "under_provisioned_minutes": [0.0, 10.0, 10.0, 30.0, 50.0, 0.0],
            "instance_hours": [100.0, 90.0, 95.0, 95.0, 10.0, 200.0],
        }
    )
    # (10, 95) is beaten by (10, 90); (30, 95) by (10, 90); hybrid rows are judged among themselves
    assert efficient(f).tolist() == [True, True, False, False, True, True]
