import numpy as np
import pandas as pd
import pytest

from capplan.core.config import PlanningConfig
from capplan.core.errors import CapplanError
from capplan.planning.rightsizing import compare_alternatives, rightsizing


def _inventory(instances=10):
    return pd.DataFrame(
        {
            "service": ["api", "api", "db"],
            "resource": ["cpu", "memory", "cpu"],
            "capacity_per_instance": [4.0, 16.0, 8.0],
            "instances": [instances, instances, 4],
            "target_utilization": [0.5, 0.8, 0.6],
            "max_instances": [50, 50, 50],
            "cost_per_instance_hour": [0.2, 0.2, 1.0],
        }
    )


def _usage():
    ds = pd.date_range("2026-01-01", periods=60, freq="D")
    old = np.where(ds < pd.Timestamp("2026-02-01"), 1000.0, 1.0)  # outside the 28-day window: ignored
    return pd.concat(
        [
            pd.DataFrame({"service": "api", "resource": "cpu", "ds": ds, "y": np.where(old > 1, 30.0, 6.0)}),
            pd.DataFrame({"service": "api", "resource": "memory", "ds": ds, "y": 40.0}),
            pd.DataFrame({"service": "db", "resource": "cpu", "ds": ds, "y": 20.0}),
        ],
        ignore_index=True,
    )


def test_over_provisioned_service_gets_fewer_instances():
    cfg = PlanningConfig(
        redundancy="n+1", headroom=0.0, rightsizing_utilization=0.4, rightsizing_window_days=28
    )
    out = rightsizing(_usage(), _inventory(), cfg).set_index("service")
    api = out.loc["api"]
    # api: p95 cpu 6 / (10*4) = 0.15, memory 40 / 160 = 0.25, both < 0.4 -> over-provisioned
    # needed: cpu ceil(6 / 2) + 1 = 4; memory ceil(40 / 12.8) + 1 = 5 -> 5, bound by memory
    assert bool(api["over_provisioned"])
    assert api["instances_recommended"] == 5
    assert api["binding_resource"] == "memory"
    assert api["max_p95_utilization"] == pytest.approx(0.25)
    assert api["monthly_saving"] == pytest.approx(5 * 0.2 * 730)
    assert api["action"] == "right_size_down" and api["monthly_cost_change"] == pytest.approx(-5 * 0.2 * 730)
    db = out.loc["db"]  # 20 / 32 = 0.625 >= 0.4, and ceil(20 / 4.8) + 1 = 6 > 4: a scale-up, not a saving
    assert not bool(db["over_provisioned"])
    assert db["action"] == "scale_up" and db["instances_recommended"] == 6
    assert db["monthly_saving"] == 0.0 and db["monthly_cost_change"] == pytest.approx(2 * 1.0 * 730)


def test_rightsizing_looks_ahead_and_never_recommends_below_the_forecast_need():
    cfg = PlanningConfig(redundancy="n+1", headroom=0.0, rightsizing_utilization=0.4)
    ahead = pd.DataFrame({"service": ["api"], "resource": ["cpu"], "instances_uncapped": [8.0]})
    api = rightsizing(_usage(), _inventory(), cfg, forecast_need=ahead).set_index("service").loc["api"]
    # trailing need 5 (memory), forecast need 8 (cpu): recommend 8 of 10, saving 2 instances only
    assert api["action"] == "right_size_down" and api["instances_recommended"] == 8
    assert api["trailing_need"] == 5 and api["forecast_need"] == 8 and api["binding_resource"] == "cpu"
    assert api["monthly_saving"] == pytest.approx(2 * 0.2 * 730)
    # a forecast need above today's count is a scale-up, even for an over-provisioned service
    ahead["instances_uncapped"] = 13.0
    api = rightsizing(_usage(), _inventory(), cfg, forecast_need=ahead).set_index("service").loc["api"]
    assert api["action"] == "scale_up" and api["instances_recommended"] == 13
    assert api["monthly_saving"] == 0.0 and api["monthly_cost_change"] == pytest.approx(3 * 0.2 * 730)


def test_needs_one_instance_count_per_service():
    inv = _inventory()
    inv.loc[1, "instances"] = 12
    with pytest.raises(CapplanError, match="api"):
        rightsizing(_usage(), inv, PlanningConfig())


def test_compare_alternatives_picks_cheapest_that_fits():
    catalogue = pd.DataFrame(
        {
            "instance_type": ["small", "large", "highmem", "gpu"],
            "cpu": [2.0, 8.0, 4.0, 8.0],
            "memory": [4.0, 32.0, 64.0, np.nan],
            "cost_per_instance_hour": [0.05, 0.30, 0.25, 0.10],
        }
    )
    out = compare_alternatives({"cpu": 16.0, "memory": 100.0}, catalogue).set_index("instance_type")
    # small: max(8, 25) = 25 -> 25*0.05 = 1.25/h; large: max(2, 4) = 4 -> 1.20/h; highmem: max(4, 2) = 4 -> 1.00/h
    assert out.loc["small", "instances_required"] == 25
    assert out.loc["large", "instances_required"] == 4
    assert out.loc["highmem", "monthly_cost"] == pytest.approx(4 * 0.25 * 730)
    assert not out.loc["gpu", "fits"]
    assert out.index[0] == "highmem" and bool(out.loc["highmem", "cheapest"])
    assert out["cheapest"].sum() == 1
