import pandas as pd
import pytest

from capplan.core.config import PlanningConfig
from capplan.planning.cost import capacity_cost_frontier, headroom_cost, monthly_cost
from capplan.planning.sizing import plan_instances

DS = pd.date_range("2026-01-01", periods=2, freq="D")
CFG = PlanningConfig(redundancy="n+1", headroom=0.0)


def _inventory():
    return pd.DataFrame(
        {
            "service": ["api", "api"],
            "resource": ["cpu", "memory"],
            "capacity_per_instance": [4.0, 16.0],
            "instances": [10, 10],
            "target_utilization": [0.5, 0.8],
            "max_instances": [50, 50],
            "cost_per_instance_hour": [0.2, 0.2],
        }
    )


def _demand():
    # day 1: cpu 8 -> 4+1 = 5, memory 40 -> ceil(3.125)+1 = 5; day 2: cpu 18 -> 9+1 = 10, memory 100 -> 8+1 = 9
    return pd.DataFrame(
        {
            "service": "api",
            "resource": ["cpu", "memory", "cpu", "memory"],
            "scenario": "expected",
            "ds": [DS[0], DS[0], DS[1], DS[1]],
            "demand": [8.0, 40.0, 18.0, 100.0],
        }
    )


def test_monthly_cost_provisions_the_peak_of_the_largest_resource():
    out = monthly_cost(plan_instances(_demand(), _inventory(), CFG))
    assert len(out) == 1
    row = out.iloc[0]
    assert row["instances_required"] == 10
    assert row["cost_per_hour"] == pytest.approx(2.0)
    assert row["monthly_cost"] == pytest.approx(2.0 * 730)


def test_headroom_cost_is_the_difference():
    # with 10% headroom day 2: cpu 19.8 / 2 = 9.9 -> 10+1 = 11; memory 110 / 12.8 -> 9+1 = 10 -> 11 instances
    out = headroom_cost(_demand(), _inventory(), CFG.model_copy(update={"headroom": 0.1})).iloc[0]
    assert out["monthly_cost"] == pytest.approx(11 * 0.2 * 730)
    assert out["monthly_cost_no_headroom"] == pytest.approx(10 * 0.2 * 730)
    assert out["headroom_cost"] == pytest.approx(0.2 * 730)


def test_frontier_prices_each_quantile():
    forecast = pd.DataFrame(
        {
            "service": "api",
            "resource": ["cpu", "memory", "cpu", "memory"],
            "ds": [DS[0], DS[0], DS[1], DS[1]],
            "p50": [8.0, 40.0, 18.0, 100.0],
            "p90": [10.0, 50.0, 30.0, 100.0],  # day 2 cpu: 15+1 = 16 instances
            "unrelated": 1.0,
        }
    )
    out = capacity_cost_frontier(forecast, _inventory(), CFG)
    assert out["quantile"].tolist() == [0.5, 0.9]
    assert out["instances_required"].tolist() == [10, 16]
    assert out["monthly_cost"].tolist() == pytest.approx([1460.0, 2336.0])
    assert out["extra_monthly_cost"].tolist() == pytest.approx([0.0, 876.0])
