import numpy as np
import pandas as pd
import pytest

from capplan.core.config import PlanningConfig
from capplan.core.errors import CapplanError
from capplan.planning.policies import (
    combine_policies,
    compare_policies,
    recommend_schedule,
    replay_predictive,
    replay_reactive,
    score_policy,
)

# K = 10 per instance at 50% target: desired(10) = 2, desired(30) = 6
STEP_UP = [10.0] * 5 + [30.0] * 5


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_reactive_lags_a_step_increase_by_one_plus_delay(delay):
    inst = replay_reactive(STEP_UP, 10, 0.5, scale_out_delay=delay)
    met = 5 + 1 + delay  # the jump at step 5 is seen at step 6 and served `delay` steps later
    np.testing.assert_array_equal(inst, [2] * met + [6] * (10 - met))
    short = np.flatnonzero(np.asarray(STEP_UP) > inst * 10)
    np.testing.assert_array_equal(short, np.arange(5, met))  # exactly 1 + delay steps short
    assert score_policy(STEP_UP, inst, 10, 1.0)["under_provisioned_steps"] == 1 + delay


def test_predictive_with_a_perfect_forecast_is_never_short():
    inst = replay_predictive(STEP_UP, 10, 0.5)
    np.testing.assert_array_equal(inst, [2] * 5 + [6] * 5)
    score = score_policy(STEP_UP, inst, 10, 1.0)
    assert score["under_provisioned_steps"] == 0
    assert score["shortfall"] == 0.0


def test_cooldown_prevents_flapping_on_alternating_demand():
    alternating = [10.0, 30.0] * 8
    # no cooldown: every step reacts to the step before -> 2, 6, 2, 6 ...
    flapping = replay_reactive(alternating, 10, 0.5, scale_out_delay=0, cooldown=0, scale_in_step=10)
    np.testing.assert_array_equal(flapping, [2, 2] + [6, 2] * 7)
    # cooldown 3: after the first scale-out the count holds (no scale-in within the window)
    steady = replay_reactive(alternating, 10, 0.5, scale_out_delay=0, cooldown=3, scale_in_step=10)
    np.testing.assert_array_equal(steady, [2, 2] + [6] * 14)


def test_scale_in_is_gradual_and_waits_for_the_cooldown():
    drop = [50.0] * 3 + [10.0] * 10  # K = 10, u = 1: desired 5 then 1
    # demand drops at step 3, seen at step 4; the 2-step window still holds a 5 at step 4, so the
    # first removal is at step 5, then one every cooldown (2) steps
    inst = replay_reactive(drop, 10, 1.0, cooldown=2)
    np.testing.assert_array_equal(inst, [5, 5, 5, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
    inst2 = replay_reactive(drop, 10, 1.0, cooldown=2, scale_in_step=2)
    np.testing.assert_array_equal(inst2, [5, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1])


def test_no_scale_in_while_a_launch_is_pending():
    # K = 10, u = 1: 50 -> 5 instances; the spike of 80 at step 1 is seen at step 2 (launch 3,
    # ready at step 5). Steps 3 and 4 see 10 but hold 5 while the launch is pending; at step 5
    # the 3 join (8) and, with no cooldown, one is removed at once (7)
    inst = replay_reactive([50.0, 80.0, 10.0, 10.0, 10.0, 10.0], 10, 1.0, scale_out_delay=3, cooldown=0)
    np.testing.assert_array_equal(inst, [5, 5, 5, 5, 5, 7])


def test_reactive_clamps_and_initial():
    demand = [0.0, 0.0, 200.0, 200.0, 200.0, 0.0]
    inst = replay_reactive(demand, 10, 1.0, min_instances=3, max_instances=12, cooldown=0, scale_in_step=100)
    # desired 0 -> min 3; desired 20 -> max 12; the last step still sees step 4's 200
    np.testing.assert_array_equal(inst, [3, 3, 3, 3, 12, 12])
    assert inst.dtype == np.int64
    # initial is clamped too, and scale-in from it starts at once (cooldown 0)
    np.testing.assert_array_equal(
        replay_reactive([0.0, 0.0], 10, 1.0, initial=50, max_instances=12, cooldown=0, scale_in_step=5),
        [12, 7],
    )


def test_predictive_headroom_clamps_and_float_noise():
    # 100 * 1.1 / 10 = 11.000000000000002 -> 11; -5 counts as 0 -> min 2; 1000 -> cap 40
    inst = replay_predictive(
        [100.0, -5.0, 1000.0, 1.0], 10, 1.0, headroom=0.1, min_instances=2, max_instances=40
    )
    np.testing.assert_array_equal(inst, [11, 2, 40, 2])


def test_combine_takes_the_larger_count():
    np.testing.assert_array_equal(combine_policies([1, 5, 3], [2, 4, 3]), [2, 5, 3])
    with pytest.raises(CapplanError, match="same length"):
        combine_policies([1, 2], [1])


def test_score_policy_by_hand():
    # K = 10, half-hour steps, 0.5 per instance-hour
    score = score_policy([5.0, 25.0, 8.0, 0.0], [1, 2, 3, 2], 10, 0.5, step_hours=0.5)
    # capacity 10, 20, 30, 20; utilization 0.5, 1.25, 8/30, 0; unserved 0, 5, 0, 0
    assert score["steps"] == 4
    assert score["instance_hours"] == pytest.approx(8 * 0.5)
    assert score["cost"] == pytest.approx(4.0 * 0.5)
    assert score["under_provisioned_steps"] == 1
    assert score["under_provisioned_share"] == pytest.approx(0.25)
    assert score["shortfall"] == pytest.approx(5 * 0.5)
    assert score["mean_utilization"] == pytest.approx((0.5 + 1.25 + 8 / 30 + 0.0) / 4)
    assert score["over_provisioned_share"] == pytest.approx(0.5)  # 8/30 and 0 are below 30%


def test_score_policy_exactly_full_is_not_short_and_zero_instances_are_excluded():
    # 30 on 3 x 10 is exactly 100%: not short; 0 instances with demand 4: short by 4, no utilization
    score = score_policy([30.0, 4.0], [3, 0], 10, 1.0)
    assert score["under_provisioned_steps"] == 1
    assert score["shortfall"] == pytest.approx(4.0)
    assert score["mean_utilization"] == pytest.approx(1.0)
    assert score["over_provisioned_share"] == 0.0


def _frame(service, y, forecast):
    ds = pd.date_range("2026-01-01", periods=len(y), freq="h")
    return pd.DataFrame({"service": service, "resource": "cpu", "ds": ds, "y": y, "p90": forecast})


def _inventory(services, costs, **extra):
    return pd.DataFrame(
        {
            "service": services,
            "resource": "cpu",
            "capacity_per_instance": 10.0,
            "target_utilization": 1.0,
            "max_instances": np.nan,
            "cost_per_instance_hour": costs,
            "instances": 4,
            **extra,
        }
    )


def test_compare_policies_winners():
    up = [10.0] * 4 + [30.0] * 8  # K = 10, u = 1: desired 1 then 3
    frame = pd.concat(
        [
            # api: perfect forecast of a bump. reactive [1]*6 + [3]*5 + [2]: 2 short, 23 inst-h;
            # predictive [1]*4 + [3]*4 + [1]*4: 0 short, 20; combined: 0 short, 27 -> predictive
            _frame("api", [10.0] * 4 + [30.0] * 4 + [10.0] * 4, [10.0] * 4 + [30.0] * 4 + [10.0] * 4),
            # db: the forecast sags to 20 from step 8. reactive [1]*6 + [3]*6: 2 short;
            # predictive [1]*4 + [3]*4 + [2]*4: 4 short; combined [1]*4 + [3]*8: 0 short -> combined
            _frame("db", up, [10.0] * 4 + [30.0] * 4 + [20.0] * 4),
            # web: the forecast misses the jump. reactive 2 short, 24 inst-h; predictive 8 short;
            # combined [3, 3, 1, 1, 1, 1, 3 ...]: 2 short but 28 inst-h -> reactive (tie by cost)
            _frame("web", up, [30.0, 30.0] + [10.0] * 10),
        ]
    )
    out = compare_policies(frame, _inventory(["web", "api", "db"], [0.5, 1.0, 2.0]))
    assert list(out.columns[:3]) == ["service", "resource", "policy"]
    assert len(out) == 9
    got = out.set_index(["service", "policy"])
    winners = sorted(out.loc[out["winner"], ["service", "policy"]].itertuples(index=False, name=None))
    assert winners == [("api", "predictive"), ("db", "predictive+reactive"), ("web", "reactive")]
    assert got.loc[("api", "reactive"), "under_provisioned_steps"] == 2
    assert got.loc[("api", "reactive"), "cost"] == pytest.approx(23.0)
    assert got.loc[("api", "predictive"), "cost"] == pytest.approx(20.0)
    assert got.loc[("api", "predictive"), "monthly_cost"] == pytest.approx(20.0 / 12 * 730)
    assert got.loc[("api", "predictive+reactive"), "cost"] == pytest.approx(27.0)
    assert got.loc[("db", "predictive"), "under_provisioned_steps"] == 4
    assert got.loc[("db", "predictive+reactive"), "under_provisioned_steps"] == 0
    assert got.loc[("web", "predictive"), "under_provisioned_steps"] == 8
    assert got.loc[("web", "reactive"), "cost"] == pytest.approx(24 * 0.5)
    assert got.loc[("web", "predictive+reactive"), "cost"] == pytest.approx(28 * 0.5)


def test_compare_policies_tie_goes_to_the_earlier_policy_and_headroom_comes_from_cfg():
    # perfect forecast of a step up: the reactive count never exceeds the predictive one, so the
    # combined schedule equals the predictive one (same shorts, same cost) -> 'predictive' wins
    frame = _frame("api", [10.0] * 4 + [30.0] * 4, [10.0] * 4 + [30.0] * 4)
    out = compare_policies(frame, _inventory(["api"], [1.0]))
    assert out.loc[out["winner"], "policy"].tolist() == ["predictive"]
    # with headroom 0.1: ceil(11 / 10) = 2 and ceil(33 / 10) = 4 -> 8 + 16 = 24 instance-hours
    out = compare_policies(frame, _inventory(["api"], [1.0]), cfg=PlanningConfig(headroom=0.1))
    assert out.set_index("policy").loc["predictive", "instance_hours"] == pytest.approx(24.0)


def test_compare_policies_uses_step_length_and_names_bad_series():
    ds = pd.date_range("2026-01-01", periods=4, freq="15min")
    frame = pd.DataFrame({"service": "api", "resource": "cpu", "ds": ds, "y": 5.0, "p90": 5.0})
    out = compare_policies(frame, _inventory(["api"], [1.0]))
    assert out["instance_hours"].tolist() == pytest.approx([1.0, 1.0, 1.0])  # 4 x 1 instance x 0.25 h
    with pytest.raises(CapplanError, match="api/cpu.*evenly spaced"):
        compare_policies(frame.drop(index=2), _inventory(["api"], [1.0]))
    with pytest.raises(CapplanError, match="api/cpu.*p90"):
        compare_policies(frame.assign(p90=[5.0, np.nan, 5.0, 5.0]), _inventory(["api"], [1.0]))
    with pytest.raises(CapplanError, match="no inventory row.*api/cpu"):
        compare_policies(frame, _inventory(["db"], [1.0]))
    with pytest.raises(CapplanError, match="p95"):
        compare_policies(frame, _inventory(["api"], [1.0]), quantile_col="p95")


def test_recommend_schedule_exact_counts():
    ds = pd.date_range("2026-02-01", periods=4, freq="h")
    forecast = pd.concat(
        [
            pd.DataFrame({"service": "db", "resource": "cpu", "ds": ds, "p90": [0.0, 9.0, 10.0, 31.0]}),
            pd.DataFrame(
                {"service": "api", "resource": "cpu", "ds": ds[::-1], "p90": [100.0, 0.0, 0.0, 0.0]}
            ),
        ]
    )
    inv = pd.DataFrame(
        {
            "service": ["api", "db"],
            "resource": "cpu",
            "capacity_per_instance": [10.0, 10.0],
            "target_utilization": [1.0, 0.5],
            "max_instances": [np.nan, 6],
            "cost_per_instance_hour": 1.0,
            "instances": 3,
            "min_instances": [2, np.nan],
        }
    )
    out = recommend_schedule(forecast, inv, "p90", PlanningConfig(headroom=0.1))
    assert list(out.columns) == ["service", "resource", "ds", "instances_recommended", "capped"]
    # api (min 2, rows sorted by ds): 0 -> 2, 100 * 1.1 / 10 = 11
    # db (u = 0.5): 0 -> 1; 9.9 / 5 -> 2; 11 / 5 -> 3; 34.1 / 5 -> 7, cut to 6
    assert out["service"].tolist() == ["api"] * 4 + ["db"] * 4
    assert out["ds"].tolist() == list(ds) * 2
    assert out["instances_recommended"].tolist() == [2, 2, 2, 11, 1, 2, 3, 6]
    assert out["capped"].tolist() == [False] * 7 + [True]
    # without cfg there is no headroom: 31 / 5 -> 7 still capped, 10 / 5 -> 2
    plain = recommend_schedule(forecast, inv, "p90")
    assert plain["instances_recommended"].tolist() == [2, 2, 2, 10, 1, 2, 2, 6]


def test_bad_kernel_inputs_raise():
    with pytest.raises(CapplanError, match="target_utilization"):
        replay_reactive([1.0], 10, 1.5)
    with pytest.raises(CapplanError, match="capacity_per_instance"):
        replay_predictive([1.0], 0, 0.5)
    with pytest.raises(CapplanError, match="min_instances"):
        replay_predictive([1.0], 10, 0.5, min_instances=5, max_instances=3)
    with pytest.raises(CapplanError, match="finite"):
        replay_reactive([1.0, np.nan], 10, 0.5)
    with pytest.raises(CapplanError, match="one count per demand step"):
        score_policy([1.0, 2.0], [1], 10, 1.0)
