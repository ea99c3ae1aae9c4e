"""The Crane-DSP-like and AHPA-like peers (planning/predictors.py) on hand-built series."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.core.config import AutoscalingPolicy
from capplan.core.errors import CapplanError
from capplan.planning.autoscale import Steps, replay_hpa, replay_predictive, seasonal_naive_forecasts
from capplan.planning.autoscale_batch import replay_all
from capplan.planning.predictors import (
    ahpa_counts,
    ahpa_forecasts,
    crane_metric,
    crane_required,
    detect_period,
    detect_periods,
    dsp_forecasts,
    peer_forecasts,
    peer_parts,
)

H = 3600


def policy(**kw) -> AutoscalingPolicy:
    base = {"startup_delay_s": 0, "scale_down_stabilization_s": 0, "warmup_s": 0, "decision_interval_s": 0}
    return AutoscalingPolicy(**{**base, **kw})


def test_dsp_finds_the_24_hour_period_of_a_daily_sine():
    t = np.arange(10 * 24)
    assert detect_period(50 + 20 * np.sin(2 * np.pi * t / 24), (24, 168)) == 24
    # on 5-minute steps too (the search runs on block-means)
    t5 = np.arange(10 * 288)
    assert detect_period(50 + 20 * np.sin(2 * np.pi * t5 / 288), (288, 2016)) == 288
    # weekdays high, weekends low, a small daily wave: the week is the stronger period
    w = np.arange(3 * 168)
    weekly = 50 + 5 * np.sin(2 * np.pi * w / 24) + 30 * ((w // 24) % 7 < 5)
    assert detect_period(weekly, (24, 168)) == 168
    # the week needs two weeks of history: 13 days can only have the day
    assert detect_period(weekly[: 13 * 24], (24, 168)) == 24
    # nothing covered twice: no period; a constant series: the shorter candidate
    assert detect_period(np.ones(47), (24, 168)) is None
    assert detect_period(np.full(400, 3.0), (24, 168)) == 24
    # one period per column
    both = np.column_stack([50 + 20 * np.sin(2 * np.pi * w / 24), weekly])
    assert detect_periods(both, (24, 168)).tolist() == [24, 168]


def _issue_at(c: int, n: int, length: int) -> np.ndarray:
    issued = np.full(length, -1)
    issued[c : c + n] = c
    return issued


def test_dsp_max_value_of_past_cycles_exact_numbers():
    y = np.array([1, 5, 2, 0, 3, 4, 2, 1, 2, 6, 1, 0] + [100] * 6, float)  # the 100s are the future
    issued = _issue_at(12, 6, y.size)
    fc, period = dsp_forecasts(y, issued, (4, 8), cycles=3, margin=0.1)
    # period 4 (covered three times; 8 only once); phase maxima over the 3 cycles: 3, 6, 2, 1
    assert period[12:].tolist() == [4] * 6 and np.isnan(fc[:12]).all()
    np.testing.assert_allclose(fc[12:], np.array([3, 6, 2, 1, 3, 6]) * 1.1)
    fc1, _ = dsp_forecasts(y, issued, (4, 8), cycles=1)
    np.testing.assert_allclose(fc1[12:], [2, 6, 1, 0, 2, 6])  # the last cycle only
    with pytest.raises(CapplanError, match="maxValue or fft"):
        dsp_forecasts(y, issued, (4, 8), estimator="mean")


def test_dsp_fft_low_pass_keeps_the_strongest_frequency():
    t = np.arange(30)
    y = 10 + 3 * np.sin(2 * np.pi * t / 8) + 0.5 * np.sin(2 * np.pi * 3 * t / 8)
    fc, period = dsp_forecasts(y, _issue_at(24, 6, 30), (8, 16), estimator="fft", top_k=1)
    assert (period[24:] == 8).all()
    np.testing.assert_allclose(fc[24:], 10 + 3 * np.sin(2 * np.pi * t[24:] / 8), atol=1e-9)
    full, _ = dsp_forecasts(y, _issue_at(24, 6, 30), (8, 16), estimator="fft", top_k=4)
    np.testing.assert_allclose(full[24:], y[24:], atol=1e-9)  # every frequency kept: exact


def test_ahpa_robust_decomposition_exact_numbers():
    prof = np.array([0, 4, 1, -1.0])
    y = np.concatenate([10 + prof, 12 + prof, 14 + prof, [999.0] * 4])
    issued = _issue_at(12, 4, y.size)
    point, upper = ahpa_forecasts(y, issued, (4, 8))
    # levels (upper medians) 11, 13, 15, trend +2 a cycle from the last cycle's middle, profile
    # -1, 3, 0, -2: 15 + 2 x (h + 2) / 4 + profile[h]
    np.testing.assert_allclose(point[12:], [15, 19.5, 17, 15.5])
    np.testing.assert_array_equal(upper, point)
    spiky = y.copy()
    spiky[5] += 8  # one outlier: medians ignore it, the upper band's top quantile sees it
    p2, u90 = ahpa_forecasts(spiky, issued, (4, 8), quantile=0.9)
    _, u95 = ahpa_forecasts(spiky, issued, (4, 8), quantile=0.95)
    np.testing.assert_allclose(p2[12:], point[12:])
    np.testing.assert_allclose(u90[12:], point[12:])  # 11 of 12 residuals are 0
    np.testing.assert_allclose(u95[12:], point[12:] + 8)


def _daily(days=21):
    hour = np.arange(days * 24) % 24
    return 4.0 + 16.0 * ((hour >= 9) & (hour < 18))


def test_ahpa_shifts_its_forecast_by_the_startup_time():
    req = _daily()
    p = policy(startup_delay_s=3 * H, warmup_s=H, min_instances=0)
    steps = Steps.of(p, H)
    sched = {"season": 24, "refresh": 6, "horizon": 48}
    fc = peer_forecasts(req, p, steps, sched, None)
    issued = fc["ahpa_issued_at"]
    have = np.flatnonzero(issued >= 0)
    assert np.all(issued[have] <= have - 3)  # decided the start-up time ahead, not the warm-up
    scored = np.flatnonzero(np.isfinite(fc["ahpa"]))  # the daily period needs two days of history
    assert scored[0] == 48 + 3 and np.all(issued[scored] >= 48)
    np.testing.assert_allclose(fc["ahpa"][scored], req[scored])  # a repeating day: exact
    react = replay_hpa(req, p, steps)
    ahpa = ahpa_counts(req, p, steps, fc, react)
    assert np.all(ahpa[scored] >= req[scored])  # every morning's jump is in service on time
    # the same forecast launched only the warm-up ahead arrives 2 steps late each morning
    late = replay_predictive(fc["ahpa"], p, steps)
    later = scored[2:]  # (its first 2 steps look back at steps without a forecast)
    short = late[later] < req[later]
    assert short.any() and np.array_equal(np.flatnonzero(short), np.flatnonzero(np.isin(later % 24, (9, 10))))


def test_crane_feeds_hpa_the_peak_of_the_prediction_window():
    np.testing.assert_allclose(
        crane_metric([1, np.nan, 3, 2, np.nan], 1), [1, 3, 3, 2, np.nan], equal_nan=True
    )
    req = np.full(12, 2.0)
    fc = {"dsp": np.where(np.arange(12) == 8, 9.0, 2.0), "dsp_window": 3}
    p = policy(startup_delay_s=2 * 60)
    both = crane_required(req, p, fc)
    np.testing.assert_allclose(both, [2, 2, 2, 2, 2, 9, 9, 9, 9, 2, 2, 2])
    crane = replay_hpa(both, p, Steps.of(p, 60))
    # HPA sees step 5's predicted 9 at step 6; launched then, 2 steps of start-up: in service at 8
    assert crane[8] == 9 and crane[7] == 2
    assert (
        peer_parts(req, p, Steps.of(p, 60), {**fc, "ahpa": req, "ahpa_point": req}, crane)[
            "crane_dsp"
        ].tolist()
        == crane.tolist()
    )


def test_forecast_only_peers_run_reactive():
    req = np.array([2.0, 2.0, 8.0, 8.0, 2.0])
    fc = {"dsp": req * 2, "dsp_window": 1, "ahpa": req * 2, "ahpa_point": req * 2}
    react = np.array([2, 2, 2, 8, 8])
    p = policy(forecast_only=True)
    out = peer_parts(req, p, Steps.of(p, 60), fc, react)
    assert out["crane_dsp"].tolist() == out["ahpa"].tolist() == react.tolist()
    acting = peer_parts(req, policy(), Steps.of(policy(), 60), fc, react)
    assert acting["ahpa"].tolist() != react.tolist()


def test_peer_forecasts_read_no_future_value():
    rng = np.random.default_rng(5)
    y = rng.uniform(0, 10, 24 * 14)
    _, issued = seasonal_naive_forecasts(y, season=24, refresh=6, horizon=48, warmup=2)
    base = {
        "dsp": dsp_forecasts(y, issued, (24, 168))[0],
        "fft": dsp_forecasts(y, issued, (24, 168), estimator="fft")[0],
        "ahpa": ahpa_forecasts(y, issued, (24, 168), quantile=0.9)[1],
    }
    assert np.isfinite(base["dsp"]).sum() > 200
    for k in (48, 50, 101, 250):
        z = y.copy()
        z[k:] += 1000.0
        made_before = (issued >= 0) & (issued <= k)
        after = {
            "dsp": dsp_forecasts(z, issued, (24, 168))[0],
            "fft": dsp_forecasts(z, issued, (24, 168), estimator="fft")[0],
            "ahpa": ahpa_forecasts(z, issued, (24, 168), quantile=0.9)[1],
        }
        for name in base:
            np.testing.assert_array_equal(after[name][made_before], base[name][made_before])
        assert not np.array_equal(after["dsp"], base["dsp"], equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(
    demand=st.lists(st.floats(0, 60, allow_nan=False), min_size=2, max_size=40),
    noise=st.lists(st.floats(-20, 20, allow_nan=False), min_size=40, max_size=40),
    lo=st.integers(0, 3),
    span=st.integers(0, 30),
    delay=st.integers(0, 3),
    max_step=st.one_of(st.none(), st.integers(1, 5)),
    threshold=st.floats(0.05, 2.0),
)
def test_ahpa_never_has_fewer_instances_than_either_part(demand, noise, lo, span, delay, max_step, threshold):
    p = policy(min_instances=lo, max_instances=max(1, lo + span), startup_delay_s=delay * 60,
               max_step=max_step, fallback_error=threshold, fallback_window_s=300)  # fmt: skip
    steps = Steps.of(p, 60)
    req = np.asarray(demand)
    fc = np.maximum(req + np.asarray(noise[: req.size]), 0)
    react = replay_hpa(req, p, steps)
    out = ahpa_counts(req, p, steps, {"ahpa": fc, "ahpa_point": fc}, react)
    shifted = p.model_copy(update={"warmup_s": p.startup_delay_s})
    pro = replay_predictive(fc, shifted, Steps.of(shifted, 60))
    assert np.all(out >= react)
    assert out.min() >= p.min_instances and out.max() <= p.max_instances
    followed = out != react  # where it does not fall back, it holds at least the proactive count
    assert np.all(out[followed] >= pro[followed])


def test_batch_replay_of_the_peers_equals_the_per_service_one():
    rng = np.random.default_rng(2)
    n, k = 24 * 9, 3
    req = np.column_stack([_daily(9) * s for s in (1.0, 0.5, 2.0)]) * rng.uniform(0.9, 1.1, (n, k))
    p = policy(startup_delay_s=2 * H, warmup_s=H, decision_interval_s=H)
    steps = Steps.of(p, H)
    sched = {"season": 24, "refresh": 6, "horizon": 48}
    peers = peer_forecasts(req, p, steps, sched, 0.9)
    point = np.column_stack([seasonal_naive_forecasts(req[:, j], 24, 6, 48, 1)[0] for j in range(k)])
    out = replay_all(req, point, point, p, steps, max_instances=50, peers=peers)
    for j in range(k):
        one = peer_forecasts(req[:, j], p, steps, sched, 0.9)
        for key in ("dsp", "ahpa", "ahpa_point"):
            np.testing.assert_allclose(peers[key][:, j], one[key], equal_nan=True)
        parts = peer_parts(req[:, j], p, steps, one, out["reactive"][:, j], max_instances=50)
        assert out["crane_dsp"][:, j].tolist() == parts["crane_dsp"].tolist()
        assert out["ahpa"][:, j].tolist() == parts["ahpa"].tolist()
