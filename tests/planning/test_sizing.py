import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from capplan.core.config import PlanningConfig
from capplan.core.errors import CapplanError
from capplan.planning.sizing import plan_instances, required_instances


def test_base_count_ignores_float_noise():
    # 100 * 1.1 / 10 is 11.000000000000002 in floating point: still 11 instances, not 12
    assert required_instances(100, 10, 1.0, redundancy="none", headroom=0.1) == (11, False)


@pytest.mark.parametrize(
    ("redundancy", "expected"),
    [("none", 25), ("n+1", 26), ("zone", 38)],  # zone: ceil(25 * 3 / 2) = ceil(37.5) = 38
)
def test_redundancy_rules(redundancy, expected):
    # base = ceil(100 / (8 * 0.5)) = 25
    assert required_instances(100, 8, 0.5, redundancy=redundancy, zones=3, headroom=0.0) == (expected, False)


def test_zone_count_survives_losing_a_zone():
    for base_demand in range(1, 40):
        n, _ = required_instances(base_demand, 1, 1.0, redundancy="zone", zones=4, headroom=0.0)
        survivors = n - int(np.ceil(n / 4))  # the largest zone of an even spread is lost
        assert survivors >= base_demand
        assert (n - 1) - int(np.ceil((n - 1) / 4)) < base_demand  # and one fewer would not do


def test_zero_demand_still_runs_one_instance_plus_redundancy():
    assert required_instances(0, 10, 0.7, redundancy="none") == (1, False)
    assert required_instances(0, 10, 0.7, redundancy="n+1") == (2, False)
    assert required_instances(0, 10, 0.7, redundancy="zone", zones=3) == (2, False)


def test_cap_is_applied_and_flagged():
    # base = ceil(100 * 1.1 / 10) = 11, n+1 -> 12 > cap 10
    assert required_instances(100, 10, 1.0, max_instances=10) == (10, True)
    assert required_instances(100, 10, 1.0, max_instances=12) == (12, False)


def test_bad_inputs_raise():
    with pytest.raises(CapplanError, match="target_utilization"):
        required_instances(1, 1, 1.5)
    with pytest.raises(CapplanError, match="capacity"):
        required_instances(1, 0, 0.5)
    with pytest.raises(CapplanError, match="redundancy"):
        required_instances(1, 1, 0.5, redundancy="n+2")


def _inventory():
    return pd.DataFrame(
        {
            "service": ["api", "api", "db"],
            "resource": ["cpu", "memory", "cpu"],
            "capacity_per_instance": [4.0, 16.0, 8.0],
            "unit": ["cores", "GiB", "cores"],
            "instances": [10, 10, 3],
            "target_utilization": [0.5, 0.8, 0.6],
            "max_instances": [20, 20, 4],
            "cost_per_instance_hour": [0.2, 0.2, 1.0],
        }
    )


def test_plan_instances_by_hand():
    ds = pd.Timestamp("2026-01-01")
    demand = pd.DataFrame(
        {
            "service": ["api", "api", "db"],
            "resource": ["cpu", "memory", "cpu"],
            "scenario": "expected",
            "ds": ds,
            "demand": [18.0, 100.0, 30.0],
        }
    )
    out = plan_instances(demand, _inventory(), PlanningConfig(redundancy="n+1", headroom=0.0))
    # api cpu: ceil(18 / (4 * 0.5)) = 9, +1 = 10; usable = 10 * 4 * 0.5 = 20; util = 18 / 40
    # api mem: ceil(100 / 12.8) = 8, +1 = 9; util = 100 / 160
    # db cpu: ceil(30 / 4.8) = 7, +1 = 8 > cap 4 -> 4, capped; util = 30 / 24
    assert out["instances_required"].tolist() == [10, 9, 4]
    assert out["instances_uncapped"].tolist() == [10, 9, 8]
    assert out["capped"].tolist() == [False, False, True]
    assert out["usable_capacity"].tolist() == pytest.approx([20.0, 128.0, 14.4])
    assert out["utilization_at_current"].tolist() == pytest.approx([0.45, 0.625, 1.25])
    assert out["cost_per_hour"].tolist() == pytest.approx([2.0, 1.8, 4.0])
    assert list(out.columns[:5]) == ["service", "resource", "scenario", "ds", "demand"]


def test_plan_instances_names_missing_inventory():
    demand = pd.DataFrame(
        {
            "service": ["web"],
            "resource": ["cpu"],
            "scenario": ["expected"],
            "ds": [pd.Timestamp("2026-01-01")],
            "demand": [1.0],
        }
    )
    with pytest.raises(CapplanError, match="web/cpu"):
        plan_instances(demand, _inventory(), PlanningConfig())


def test_plan_instances_names_bad_inventory_rows():
    inv = _inventory()
    inv.loc[2, "target_utilization"] = 1.4
    demand = pd.DataFrame(
        {
            "service": ["db"],
            "resource": ["cpu"],
            "scenario": ["x"],
            "ds": [pd.Timestamp("2026-01-01")],
            "demand": [1.0],
        }
    )
    with pytest.raises(CapplanError, match="db/cpu"):
        plan_instances(demand, inv, PlanningConfig())


@settings(max_examples=200, deadline=None)
@given(
    demand=st.floats(0, 1e6),
    capacity=st.floats(0.01, 1e3),
    util=st.floats(0.05, 1.0),
    headroom=st.floats(0, 1),
)
# a headroom of 1e-9 is real demand, not float noise: it must buy a second instance
@example(demand=1.5, capacity=1.5, util=1.0, headroom=1e-9)
def test_count_is_the_smallest_that_fits(demand, capacity, util, headroom):
    n, capped = required_instances(demand, capacity, util, redundancy="none", headroom=headroom)
    need = demand * (1 + headroom)
    usable = capacity * util
    assert not capped and n >= 1
    assert n * usable >= need * (1 - 1e-9)
    assert n == 1 or (n - 1) * usable < need


def test_size_with_usl_uses_throughput_curve_redundancy_and_cap():
    import numpy as np
    import pandas as pd

    from capplan.core.config import PlanningConfig
    from capplan.planning import fit_usl_frame, size_with_usl

    n = np.arange(1, 17)
    loadtests = pd.DataFrame(
        {
            "service": "web",
            "instances": n,
            "concurrency": np.nan,
            "throughput": 100.0 * n / (1 + 0.1 * (n - 1)),
            "latency_p99_ms": 10.0,
        }
    )
    fits = fit_usl_frame(loadtests)  # Amdahl: X(N) = 100 N / (1 + 0.1 (N - 1)), peak 1000/s
    plan = pd.DataFrame(
        {
            "service": "web",
            "resource": ["rps", "rps", "cpu"],
            "demand": [280.0, 5000.0, 3.0],
            "target_utilization": 1.0,
            "instances": 4.0,
            "max_instances": 20.0,
            "cost_per_instance_hour": 1.0,
            "instances_uncapped": 1,
            "instances_required": 1,
            "usable_capacity": 0.0,
            "cost_per_hour": 0.0,
            "capped": False,
        }
    )
    out = size_with_usl(plan, fits, PlanningConfig(redundancy="n+1", headroom=0.0))
    # X(3) = 250 < 280 <= X(4) = 307.7: 4 instances, +1 for N+1
    assert out["instances_required"].tolist()[0] == 5 and out["sizing_basis"].iloc[0] == "usl"
    assert not out["capped"].iloc[0] and out["cost_per_hour"].iloc[0] == 5.0
    assert abs(out["usable_capacity"].iloc[0] - 400 / 1.3) < 1e-6
    # 5000/s is past the 1000/s asymptote: scaling out stops at the knee (N+1 on top), not at the
    # cap, and what that count cannot carry is unserved demand (no infinite counts)
    assert out["sizing_basis"].iloc[1] == "usl: beyond peak throughput"
    knee = int(np.ceil(fits["n_knee"].iloc[0]))
    assert out["instances_uncapped"].iloc[1] == knee + 1 and not out["capped"].iloc[1]
    served = 100.0 * knee / (1 + 0.1 * (knee - 1))
    assert abs(out["demand_unserved"].iloc[1] - (5000.0 - served)) < 1e-6
    assert out["demand_unserved"].iloc[0] == 0.0
    assert out["sizing_basis"].iloc[2] == "linear" and out["instances_required"].iloc[2] == 1


def test_erlang_c_labels_only_the_rows_it_sizes_and_counts_stay_finite():
    import numpy as np
    import pandas as pd

    from capplan.core.config import PlanningConfig
    from capplan.planning import fit_usl_frame, size_with_usl
    from capplan.planning.queueing import servers_for_latency

    n = np.arange(1, 17)
    x = 100.0 * n / (1 + 0.05 * (n - 1) + 0.002 * n * (n - 1))  # peaks near n = 21
    fits = fit_usl_frame(pd.DataFrame({"service": "api", "instances": n, "concurrency": np.nan,
                                       "throughput": x, "latency_p99_ms": 10.0}))  # fmt: skip
    lam = float(fits["lam"].iloc[0])
    plan = pd.DataFrame(
        {"service": "api", "resource": "rps", "demand": [50.0, 1e6], "target_utilization": 1.0,
         "instances": 4.0, "max_instances": 500.0, "cost_per_instance_hour": 1.0, "instances_uncapped": 1,
         "instances_required": 1, "usable_capacity": 0.0, "cost_per_hour": 0.0, "capped": False}
    )  # fmt: skip
    cfg = PlanningConfig(redundancy="none", headroom=0.0, latency_slo_ms={"api": 60.0})
    out = size_with_usl(plan, fits, cfg)
    # 50/s: USL needs 1 instance, M/M/c for a 60 ms p99 at mu = lam needs more: Erlang C sizes it
    lat = servers_for_latency(50.0, lam, 0.060)
    assert lat > 1 and out["instances_required"].iloc[0] == lat
    assert out["sizing_basis"].iloc[0] == "erlang_c latency slo"
    # 1e6/s is past the USL peak: the label says so (it used to say erlang_c with an infinite count)
    assert out["sizing_basis"].iloc[1] == "usl: beyond peak throughput"
    assert np.isfinite(out["instances_uncapped"].astype(float)).all()
    assert out["demand_unserved"].iloc[1] > 0
