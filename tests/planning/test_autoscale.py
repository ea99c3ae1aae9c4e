import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.core.config import AutoscalingPolicy, ScalingRule, config_from_dict
from capplan.core.errors import CapplanError, ConfigError
from capplan.planning.autoscale import (
    Steps,
    forecast_fallback,
    hybrid,
    pool,
    replay_hpa,
    replay_predictive,
    required_instances,
    seasonal_naive_forecasts,
    simulate_service,
)

MIN = 60  # one-minute steps: durations in the policy are whole steps


def policy(**kw) -> AutoscalingPolicy:
    base = {"startup_delay_s": 0, "scale_down_stabilization_s": 0, "warmup_s": 0, "decision_interval_s": 0}
    return AutoscalingPolicy(**{**base, **kw})


def hpa(required, **kw):
    p = policy(**kw)
    return replay_hpa(required, p, Steps.of(p, MIN))


def test_hpa_desired_is_ceil_of_required_and_respects_the_tolerance():
    # 2 in service; required 2.15 -> metric/target 1.075, within 0.1: no change; 2.3 -> ceil = 3
    np.testing.assert_array_equal(hpa([2.0, 2.15, 2.15, 2.3, 2.3]), [2, 2, 2, 2, 3])
    np.testing.assert_array_equal(hpa([2.0, 2.15, 2.15], tolerance=0.0), [2, 2, 3])


def test_scale_down_waits_for_the_stabilization_window():
    demand = [2.0] * 3 + [6.0] * 4 + [2.0] * 6
    # window 1 step: follows the drop at once (seen one step later)
    np.testing.assert_array_equal(hpa(demand), [2, 2, 2, 2, 6, 6, 6, 6, 2, 2, 2, 2, 2])
    # window 180 s = 3 steps: the highest recommendation of the last 3 steps holds the count
    np.testing.assert_array_equal(
        hpa(demand, scale_down_stabilization_s=180), [2, 2, 2, 2, 6, 6, 6, 6, 6, 6, 2, 2, 2]
    )
    # flapping demand never scales down inside the window
    flap = hpa([2.0, 6.0] * 6, scale_down_stabilization_s=180)
    np.testing.assert_array_equal(flap, [2, 2] + [6] * 10)


def test_rate_policies_pods_percent_and_select_policy():
    up = [2.0] + [20.0] * 6
    one_pod = [ScalingRule(type="Pods", value=1, period_s=60)]
    np.testing.assert_array_equal(hpa(up, scale_up_policies=one_pod), [2, 2, 3, 4, 5, 6, 7])
    doubling = [ScalingRule(type="Percent", value=100, period_s=60)]
    np.testing.assert_array_equal(hpa(up, scale_up_policies=doubling), [2, 2, 4, 8, 16, 20, 20])
    both = [*one_pod, *doubling]
    np.testing.assert_array_equal(hpa(up, scale_up_policies=both), [2, 2, 4, 8, 16, 20, 20])  # Max
    np.testing.assert_array_equal(hpa(up, scale_up_policies=both, select_policy="Min"), [2, 2, 3, 4, 5, 6, 7])
    # a 120 s period: the count two steps back is the period's start
    slow = [ScalingRule(type="Pods", value=2, period_s=120)]
    np.testing.assert_array_equal(hpa(up, scale_up_policies=slow), [2, 2, 4, 4, 6, 6, 8])
    half = [ScalingRule(type="Percent", value=50, period_s=60)]
    down = [16.0] + [1.0] * 5
    np.testing.assert_array_equal(hpa(down, scale_down_policies=half), [16, 16, 8, 4, 2, 1])


def test_max_step_limits_every_policy_and_the_hybrid():
    up = [2.0] + [8.0] * 5
    np.testing.assert_array_equal(hpa(up, max_step=2), [2, 2, 4, 6, 8, 8])
    p = policy(max_step=2)
    pred = replay_predictive([2.0, 8.0, 8.0, 8.0, 2.0, 2.0], p, Steps.of(p, MIN))
    np.testing.assert_array_equal(pred, [2, 4, 6, 8, 6, 4])
    both = hybrid(pred, hpa(up, max_step=2), p)
    assert np.abs(np.diff(both)).max() <= 2


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_startup_delay_shifts_reactive_capacity(delay):
    demand = [2.0] * 4 + [6.0] * 6
    inst = hpa(demand, startup_delay_s=delay * MIN)
    met = 4 + 1 + delay  # seen one step late, serves `delay` steps after launch
    np.testing.assert_array_equal(inst, [2] * met + [6] * (10 - met))


def test_predictive_warmup_covers_the_startup_delay_or_arrives_late():
    fc = [2.0] * 4 + [6.0] * 4
    on_time = policy(startup_delay_s=2 * MIN, warmup_s=2 * MIN)
    np.testing.assert_array_equal(replay_predictive(fc, on_time, Steps.of(on_time, MIN)), [2] * 4 + [6] * 4)
    late = policy(startup_delay_s=3 * MIN, warmup_s=1 * MIN)  # two steps late
    np.testing.assert_array_equal(replay_predictive(fc, late, Steps.of(late, MIN)), [2] * 6 + [6] * 2)


def test_max_capacity_buffer_lets_only_the_forecast_exceed_max_instances():
    fc = [30.0] * 3
    honor = policy(max_instances=10, max_capacity_buffer=20)
    assert replay_predictive(fc, honor, Steps.of(honor, MIN)).max() == 10
    grow = policy(max_instances=10, max_capacity_buffer=20, max_capacity_breach="IncreaseMaxCapacity")
    pred = replay_predictive(fc, grow, Steps.of(grow, MIN))
    assert pred.max() == 12
    react = replay_hpa(fc, grow, Steps.of(grow, MIN))
    assert react.max() == 10
    assert hybrid(pred, react, grow).max() == 12


def test_min_and_max_instances_come_from_config_overrides():
    cfg = config_from_dict(
        {"autoscaling": {"max_instances": 8, "services": {"web": {"min_instances": 3}}}}
    ).autoscaling
    web, api = cfg.for_service("web"), cfg.for_service("api")
    assert (web.min_instances, web.max_instances, api.min_instances) == (3, 8, 1)
    # the default 300 s start-up delay takes a whole hourly step
    np.testing.assert_array_equal(
        replay_hpa([0.0, 0.0, 50.0, 50.0, 50.0], web, Steps.of(web, 3600)), [3, 3, 3, 3, 8]
    )
    with pytest.raises(ConfigError, match="autoscaling.services.web"):
        config_from_dict({"autoscaling": {"services": {"web": {"min_instances": 9, "max_instances": 2}}}})
    with pytest.raises(ConfigError, match="unknown key 'autoscaling.services.web.min_instance'"):
        config_from_dict({"autoscaling": {"services": {"web": {"min_instance": 2}}}})


def test_forecast_only_reports_predictive_but_runs_reactive():
    parts = {"reactive": np.array([2, 2, 3]), "predictive": np.array([5, 5, 5])}
    no = np.zeros(3, dtype=bool)
    np.testing.assert_array_equal(pool(policy(forecast_only=True), parts, no), [2, 2, 3])
    np.testing.assert_array_equal(pool(policy(), parts, no), [5, 5, 5])
    np.testing.assert_array_equal(pool(policy(mode="predictive"), parts, no), [5, 5, 5])
    np.testing.assert_array_equal(pool(policy(mode="reactive"), parts, no), [2, 2, 3])


def test_fallback_to_reactive_when_the_recent_forecast_error_is_high():
    actual = np.full(10, 10.0)
    fc = np.array([10.0, 10, 10, 30, 30, 10, 10, 10, 10, 10])  # wrong by 200% at steps 3 and 4
    fb, events = forecast_fallback(actual, fc, window=2, threshold=0.5)
    # step t judges steps t-2 and t-1 only: errors 2.0 at 3, 4 -> fallback at 4, 5, 6 (mean 1.0 at 6)
    np.testing.assert_array_equal(np.flatnonzero(fb), [4, 5, 6])
    assert [(s, kind) for s, kind, _ in events] == [(4, "fallback"), (7, "recovered")]
    assert "exceeds 0.5" in events[0][2] and "back within" in events[1][2]
    parts = {"reactive": np.full(10, 2), "predictive": np.full(10, 9)}
    np.testing.assert_array_equal(pool(policy(), parts, fb), [9, 9, 9, 9, 2, 2, 2, 9, 9, 9])


def test_binding_resource_wins_and_storage_is_excluded():
    loads = {"cpu": np.array([3.0, 1.0]), "memory": np.array([10.0, 40.0]), "storage": np.array([1e6, 1e6])}
    req, binding = required_instances(
        loads, {"cpu": 1.0, "memory": 10.0, "storage": 1.0}, {"cpu": 1.0, "memory": 1.0, "storage": 1.0}
    )
    np.testing.assert_allclose(req, [3.0, 4.0])
    assert list(binding) == ["cpu", "memory"]
    with pytest.raises(CapplanError, match="no scaled resource"):
        required_instances({"storage": np.ones(2)}, {"storage": 1.0}, {"storage": 1.0})


@settings(max_examples=60, deadline=None)
@given(
    demand=st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=40),
    noise=st.lists(st.floats(-20, 20, allow_nan=False), min_size=40, max_size=40),
    lo=st.integers(0, 3),
    span=st.integers(0, 30),
    buffer=st.integers(0, 100),
    increase=st.booleans(),
    max_step=st.one_of(st.none(), st.integers(1, 5)),
    delay=st.integers(0, 3),
)
def test_hybrid_never_has_fewer_instances_than_either_part(
    demand, noise, lo, span, buffer, increase, max_step, delay
):
    p = policy(
        min_instances=lo,
        max_instances=lo + span if lo + span >= 1 else 1,
        max_capacity_buffer=buffer,
        max_capacity_breach="IncreaseMaxCapacity" if increase else "HonorMaxCapacity",
        max_step=max_step,
        startup_delay_s=delay * MIN,
    )
    steps = Steps.of(p, MIN)
    fc = np.maximum(np.asarray(demand) + np.asarray(noise[: len(demand)]), 0)
    react, pred = replay_hpa(demand, p, steps), replay_predictive(fc, p, steps)
    both = hybrid(pred, react, p)
    assert np.all(both >= react) and np.all(both >= pred)
    assert both.min() >= p.min_instances
    assert react.max() <= p.max_instances
    if max_step is not None and both.size > 1:
        assert np.abs(np.diff(pred)).max() <= max_step
        assert np.abs(np.diff(both)).max() <= max_step


def test_seasonal_naive_forecasts_read_no_future_value():
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 10, 200)
    fc, issued = seasonal_naive_forecasts(y, season=24, refresh=6, horizon=48, warmup=2)
    have = np.flatnonzero(issued >= 0)
    assert have.size and np.all(issued[have] <= have - 2)  # issued at least the warm-up ahead
    assert np.all(have - issued[have] < 48)  # within the forecast's horizon
    # changing every value from step k on changes no forecast issued at or before k
    for k in (24, 30, 77, 150):
        z = y.copy()
        z[k:] += 1000.0
        fz, _ = seasonal_naive_forecasts(z, season=24, refresh=6, horizon=48, warmup=2)
        made_before = issued >= 0
        made_before &= issued <= k
        np.testing.assert_array_equal(fz[made_before], fc[made_before])
    # the first season has no forecast; then a step is the same hour one season before its issue
    assert np.isnan(fc[:26]).all()
    assert fc[26] == y[2]


def _weekly_usage(weeks=3, step="h"):
    ds = pd.date_range("2026-01-05", periods=weeks * 168, freq=step)
    hour = np.arange(ds.size) % 24
    cpu = 4.0 + 16.0 * ((hour >= 9) & (hour < 18))  # a working-day step: 4 -> 20 cores
    mem = np.full(ds.size, 30.0)
    return pd.concat(
        [
            pd.DataFrame({"resource": "cpu", "ds": ds, "y": cpu}),
            pd.DataFrame({"resource": "memory", "ds": ds, "y": mem}),
            pd.DataFrame({"resource": "storage", "ds": ds, "y": 1e6}),
        ]
    )


INVENTORY = pd.DataFrame(
    {
        "service": ["web"] * 3,
        "resource": ["cpu", "memory", "storage"],
        "capacity_per_instance": [4.0, 16.0, 100.0],
        "target_utilization": [0.5, 0.8, 0.8],
        "max_instances": [50, 50, 50],
        "cost_per_instance_hour": [0.5, 0.5, 0.5],
    }
)


def test_simulate_scores_every_policy_on_the_same_steps():
    p = AutoscalingPolicy(startup_delay_s=600, warmup_s=900)
    sim = simulate_service(_weekly_usage(), INVENTORY, "web", p)
    scores, events = sim.scores, sim.events
    assert list(scores["policy"]) == ["reactive", "predictive", "hybrid", "crane_dsp", "ahpa"]
    assert (
        scores["steps"].nunique() == 1 and scores["steps"].iloc[0] == 2 * 168 - 1
    )  # from one week + the warm-up step
    s = scores.set_index("policy")
    # a repeating week: the seasonal-naive forecast is perfect, reactive misses each morning's jump
    assert s.loc["predictive", "under_provisioned_minutes"] == 0
    assert s.loc["hybrid", "under_provisioned_minutes"] == 0
    # the peers find the daily period: maxValue and the robust profile are exact, issued in time
    assert s.loc["crane_dsp", "under_provisioned_minutes"] == 0
    assert s.loc["ahpa", "under_provisioned_minutes"] == 0
    assert s.loc["reactive", "under_provisioned_minutes"] == 14 * 2 * 60  # 14 days, 2 hours each
    assert s.loc["hybrid", "instance_hours"] >= s.loc["predictive", "instance_hours"]
    assert s.loc["reactive", "scaling_actions"] == 28
    assert events == []
    np.testing.assert_allclose(s["cost"], s["instance_hours"] * 0.5)


def test_simulate_names_what_is_missing():
    with pytest.raises(CapplanError, match="too short"):
        simulate_service(_weekly_usage(weeks=1), INVENTORY, "web", AutoscalingPolicy())
    with pytest.raises(CapplanError, match="no row for service 'api'"):
        simulate_service(_weekly_usage(), INVENTORY, "api", AutoscalingPolicy())


@pytest.mark.parametrize("predictor", ["seasonal_naive", "crane_dsp", "ahpa"])
def test_simulate_decides_each_step_without_later_data(predictor):
    p = AutoscalingPolicy(
        startup_delay_s=600, warmup_s=900, scale_down_stabilization_s=3600, predictor=predictor
    )
    usage = _weekly_usage()
    base = simulate_service(usage, INVENTORY, "web", p, quantile=0.9).counts
    k = 300
    cut = base["ds"].iloc[k]
    changed = usage.assign(y=np.where(usage["ds"] >= cut, usage["y"] * 5 + 50, usage["y"]))
    after = simulate_service(changed, INVENTORY, "web", p, quantile=0.9).counts
    # every decision up to step k (reactive sees t-1, forecasts were issued before t) is unchanged
    for col in ("point", "forecast", "issued_at", "reactive", "predictive", "hybrid", "crane_dsp", "ahpa"):
        pd.testing.assert_series_equal(after[col].iloc[: k + 1], base[col].iloc[: k + 1])
    assert not after["reactive"].iloc[k + 1 :].equals(base["reactive"].iloc[k + 1 :])
    assert (base["issued_at"][base["issued_at"] >= 0] <= base.index[base["issued_at"] >= 0] - 1).all()


def test_simulate_fills_a_missing_step_with_the_last_value_only():
    usage = _weekly_usage()
    gap = usage["ds"] == usage["ds"].iloc[200]
    sim = simulate_service(usage[~gap], INVENTORY, "web", AutoscalingPolicy())
    assert len(sim.counts) == 3 * 168
    assert sim.counts["required"].iloc[200] == sim.counts["required"].iloc[199]


def test_recent_forecast_error_uses_the_latest_vintage_over_the_window():
    from capplan.planning.autoscale import recent_forecast_error

    ds = pd.date_range("2026-01-01", periods=10, freq="h")
    actual = pd.DataFrame({"resource": "cpu", "ds": ds, "y": 8.0, "created_at": pd.Timestamp("2025-12-31")})
    good = actual.assign(forecast=8.0)
    p = AutoscalingPolicy(fallback_window_s=3 * 3600, fallback_error=0.5)
    assert recent_forecast_error(good, INVENTORY, "web", p) == (0.0, None)
    # a later vintage, 4x the actual over the last 3 hours only: error 3.0 in required instances
    late = good.tail(3).assign(forecast=32.0, created_at=pd.Timestamp("2026-01-01"))
    error, reason = recent_forecast_error(pd.concat([good, late]), INVENTORY, "web", p)
    assert error == pytest.approx(3.0)  # cpu 8 -> 4 instances, 32 -> 16: |16 - 4| / 4
    assert "exceeds fallback_error 0.5" in reason and "3 step(s)" in reason
    assert recent_forecast_error(good.iloc[:0], INVENTORY, "web", p)[1] is None


def test_quantile_offsets_come_from_the_season_before_each_issue():
    from capplan.planning.autoscale import residual_quantile_offsets

    season = 4
    y = np.array([1.0, 1, 1, 1, 2, 3, 1, 5, 9, 9, 9, 9])  # residuals at 4..7: 1, 2, 0, 4
    issued = np.array([-1, -1, -1, -1, -1, -1, -1, -1, 8, 8, 8, 8])
    off = residual_quantile_offsets(y, issued, season, 0.5)
    # the issue at 8 sees residuals at steps 4..7 only (not 8's own, 4)
    np.testing.assert_allclose(off, [0] * 8 + [1.5] * 4)
    assert not residual_quantile_offsets(y, issued, season, None).any()
    z = y.copy()
    z[8:] = 100.0  # data from the issue on changes nothing
    np.testing.assert_allclose(residual_quantile_offsets(z, issued, season, 0.5), off)


def test_predictive_holds_the_interval_peak_waits_to_scale_in_and_skips_small_scale_ins():
    fc = [1.0, 3.0, 2.0, 5.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    hold = policy(decision_interval_s=3 * MIN)  # one count per 3 steps: the peak of each run
    np.testing.assert_array_equal(
        replay_predictive(fc, hold, Steps.of(hold, MIN)), [3, 3, 3, 5, 5, 5, 2, 2, 2]
    )
    # scale-in waits for the 2-step stabilization window: the drop to 2 comes one step later
    slow = policy(decision_interval_s=3 * MIN, scale_down_stabilization_s=2 * MIN)
    np.testing.assert_array_equal(
        replay_predictive(fc, slow, Steps.of(slow, MIN)), [3, 3, 3, 5, 5, 5, 5, 2, 2]
    )
    # a scale-in of fewer than 3 instances is skipped; increases always apply
    big = policy(min_scale_in=3)
    np.testing.assert_array_equal(
        replay_predictive([4.0, 3.0, 2.0, 1.0, 6.0, 5.0], big, Steps.of(big, MIN)), [4, 4, 4, 1, 6, 6]
    )
    # the forecast margin (Crane EHPA's) sizes for forecast x (1 + margin)
    margin = policy(forecast_margin=0.25)
    np.testing.assert_array_equal(replay_predictive([4.0, 8.0], margin, Steps.of(margin, MIN)), [5, 10])


def test_predictive_churn_on_a_noisy_five_minute_series_is_bounded_per_day():
    rng = np.random.default_rng(11)
    days, per_day = 3, 288  # 5-minute steps
    t = np.arange(days * per_day)
    fc = 20 + 10 * np.sin(2 * np.pi * t / per_day) + rng.uniform(0, 8, t.size)
    every = policy(scale_down_stabilization_s=300)
    churn = np.count_nonzero(np.diff(replay_predictive(fc, every, Steps.of(every, 300)))) / days
    hourly = AutoscalingPolicy(startup_delay_s=0, warmup_s=0)  # defaults: hourly decisions, 300 s window
    held = replay_predictive(fc, hourly, Steps.of(hourly, 300))
    actions = np.count_nonzero(np.diff(held)) / days
    assert churn > 150  # a new count nearly every step
    assert actions <= 24  # at most one change per hour
    assert np.all(held >= np.ceil(fc - 1e-9))  # the held peak still covers every step's forecast


def test_hourly_decisions_on_five_minute_data_read_no_later_value():
    # a count held over an hour is decided at the hour's start minus the warm-up: the count of
    # step t never depends on a value from t - warmup on, though the hour's later steps are
    # forecast too (here a forecast is issued at step 648, an hour's start: 288 + 5 x 72)
    rng = np.random.default_rng(5)
    usage = _weekly_usage(weeks=6, step="5min")  # 1,008 five-minute steps, 3.5 days
    usage = usage.assign(y=usage["y"] * rng.uniform(0.8, 1.2, len(usage)))
    p = AutoscalingPolicy(startup_delay_s=300, warmup_s=600)  # 2 steps ahead
    season = 86400  # a daily season keeps the case small
    base = simulate_service(usage, INVENTORY, "web", p, quantile=0.9, season_s=season).counts
    k = 648 - 2
    cut = base["ds"].iloc[k]
    changed = usage.assign(y=np.where(usage["ds"] >= cut, usage["y"] * 5 + 50, usage["y"]))
    after = simulate_service(changed, INVENTORY, "web", p, quantile=0.9, season_s=season).counts
    # predictive: decided 2 steps ahead, unchanged up to k + 2; reactive (and so the hybrid) sees
    # the previous step: unchanged up to k
    pd.testing.assert_series_equal(after["predictive"].iloc[: k + 3], base["predictive"].iloc[: k + 3])
    for col in ("reactive", "hybrid"):
        pd.testing.assert_series_equal(after[col].iloc[: k + 1], base[col].iloc[: k + 1])
    assert not after["predictive"].iloc[k + 3 :].equals(base["predictive"].iloc[k + 3 :])
