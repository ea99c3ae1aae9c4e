"""Robust training: short spikes are clipped from training histories, level shifts and recurring
patterns are kept, and a spike in the last season no longer pulls ``lightgbm``'s forecast up."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from capplan.core.contracts import ModelSpec
from capplan.models import build_model
from capplan.models._robust import max_spike_steps, robust_clip
from capplan.models.gbm import LightGBM

DAY = 24


def _daily(days: int, seed: int = 0) -> np.ndarray:
    """An hourly series: 100 plus a daily cycle of amplitude 30 plus N(0, 3) noise."""
    t = np.arange(days * DAY)
    return 100 + 30 * np.sin(2 * np.pi * t / DAY) + np.random.default_rng(seed).normal(0, 3, t.size)


def test_a_short_spike_is_clipped_to_the_band_and_nothing_else_changes():
    clean = _daily(35)
    y = clean.copy()
    y[400:403] += 200  # a 3-hour incident mid-history
    y[-10:-8] += 300  # a 2-hour incident ten hours before the origin
    out, n = robust_clip(y, [DAY, 168])
    assert n == 5
    changed = np.flatnonzero(out != y)
    assert changed.tolist() == [400, 401, 402, len(y) - 10, len(y) - 9]
    # clipped to the band edge: within 4 robust sigmas (about 12) plus the noise of the baseline
    assert np.all(np.abs(out[changed] - clean[changed]) < 25)


def test_level_shifts_are_kept_mid_history_and_just_before_the_origin():
    for start in (500, 35 * DAY - 30):  # 13 days before the end, and 30 hours before it
        y = _daily(35)
        y[start:] += 60
        out, n = robust_clip(y, [DAY, 168])
        assert n == 0
        np.testing.assert_array_equal(out, y)


def test_a_dip_is_clipped_but_an_episode_still_going_at_the_origin_is_kept():
    y = _daily(30)
    y[300:302] = 0.0  # an outage's dip
    out, n = robust_clip(y, [DAY])
    assert n == 2 and out[300] > 50 and out[301] > 50
    y = _daily(30)
    y[-2:] += 300  # the last two steps: a spike or the start of a shift, nobody can tell yet
    out, n = robust_clip(y, [DAY])
    assert n == 0


def test_a_weekly_recurring_burst_is_seasonality_not_a_spike():
    y = _daily(35)
    for week in range(5):
        y[week * 168 + 100 : week * 168 + 103] += 150  # every week, same 3 hours
    out, n = robust_clip(y, [DAY, 168])
    # the first week has no weekly baseline yet: its burst is clipped, the later ones are kept
    assert n == 3 and np.flatnonzero(out != y).tolist() == [100, 101, 102]


def test_spans_and_short_histories():
    assert max_spike_steps(24) == 6 and max_spike_steps(7) == 1 and max_spike_steps(1) == 1
    y = _daily(1)
    out, n = robust_clip(y, [DAY])  # under two seasons: untouched
    assert n == 0 and np.array_equal(out, y)
    # a flat series (MAD 0: the band is the mean absolute deviation's) with a one-step blip
    flat = np.r_[np.full(100, 5.0), 50.0, np.full(100, 5.0)]
    out, n = robust_clip(flat, [DAY])
    assert n == 1 and 5.0 < out[100] < 8.0
    assert robust_clip(np.r_[np.full(100, 5.0), 50.0], [DAY])[1] == 0  # at the origin: kept


def _spiky_panel(days: int = 30) -> tuple[pd.DataFrame, int]:
    """Eight hourly series; each has a 2-hour spike (+300) ending 8 hours before the origin."""
    ds = pd.date_range("2026-01-01", periods=days * DAY, freq="h")
    parts = []
    for i in range(8):
        y = _daily(days, seed=i) + 10 * i
        y[-10:-8] += 300
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True), days * DAY - 10


def test_lightgbm_forecast_after_a_spike_is_not_pulled_up_with_robust_training():
    frame, spike_at = _spiky_panel()
    spec = ModelSpec(freq="h", season_length=DAY, seasonalities=(168,), quantiles=(0.1, 0.5, 0.9))
    # the spike's hours, one day later, are steps 15 and 16 of the forecast (0-based 14, 15)
    steps = [spike_at + DAY - 30 * DAY, spike_at + 1 + DAY - 30 * DAY]
    expected = 100 + 30 * np.sin(2 * np.pi * (spike_at + DAY + np.arange(2)) / DAY)
    raw, robust = {}, {}
    for label, clip, out in (("raw", False, raw), ("robust", True, robust)):
        model = LightGBM(replace(spec, clip_outliers=clip), n_estimators=30).fit(frame)
        fc = model.predict(48)
        for uid, g in fc.groupby("unique_id"):
            out[uid] = g["p50"].to_numpy()[steps] - (expected + 10 * int(uid[1:]))
        assert (label == "robust") == (model.clipped == {f"s{i}": 2 for i in range(8)})
    worst_raw = min(float(np.min(v)) for v in raw.values())
    worst_robust = max(float(np.max(np.abs(v))) for v in robust.values())
    assert worst_raw > 200  # the spike is carried into tomorrow's forecast (+300 on the truth)
    assert worst_robust < 30  # with robust training, tomorrow is a normal day


def test_theta_and_seasonal_profile_forecast_closer_to_the_clean_truth_with_robust_training():
    days = 32
    ds = pd.date_range("2026-01-01", periods=days * DAY, freq="h")
    train, truth = [], []
    for i in range(4):
        clean = _daily(days, seed=i) + 10 * i
        y = clean.copy()
        y[400:403] += 250
        y[30 * DAY - 10 : 30 * DAY - 8] += 300
        y[30 * DAY - 30] -= 100
        train.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds[: 30 * DAY], "y": y[: 30 * DAY]}))
        truth.append(clean[30 * DAY :])
    frame, truth = pd.concat(train, ignore_index=True), np.concatenate(truth)
    spec = ModelSpec(freq="h", season_length=DAY, seasonalities=(168,), quantiles=(0.1, 0.5, 0.9))
    for name in ("theta", "seasonal_profile"):
        mae = {}
        for clip in (False, True):
            fc = build_model(name, replace(spec, clip_outliers=clip)).fit(frame).predict(2 * DAY)
            mae[clip] = float(np.mean(np.abs(fc["p50"].to_numpy() - truth)))
        assert mae[True] < 0.8 * mae[False], (name, mae)
        assert mae[True] < 3.5, (name, mae)  # the noise alone is N(0, 3): MAE about 2.4


def test_backtests_score_the_raw_actuals_and_the_input_frame_is_untouched():
    from capplan.evaluation.backtest import backtest

    frame, _ = _spiky_panel(days=30)
    before = frame.copy()
    spec = ModelSpec(freq="h", season_length=DAY, seasonalities=(168,), quantiles=(0.1, 0.5, 0.9))
    out = backtest(lambda: build_model("theta", spec), frame, h=48, folds=2)
    pd.testing.assert_frame_equal(frame, before)
    merged = out.merge(frame, on=["unique_id", "ds"], suffixes=("", "_raw"))
    assert len(merged) == len(out) == 8 * 2 * 48
    np.testing.assert_array_equal(merged["y"].to_numpy(), merged["y_raw"].to_numpy())
    assert merged["y"].max() > 300  # the last fold's actuals still hold the spike


def test_the_cached_clip_gives_the_clip_and_never_shares_its_arrays():
    """The models of one fold clip the same histories: remembered by content, the same values,
    a fresh array each call (a caller may write into it)."""
    from capplan.models import _robust

    y = _daily(35)
    y[400:403] += 200
    first, n = _robust.robust_clip_cached(y, [DAY, 168])
    want, m = robust_clip(y, [DAY, 168])
    assert n == m > 0 and np.array_equal(first, want)
    first[:] = -1.0
    again, n2 = _robust.robust_clip_cached(y.copy(), [DAY, 168])
    assert n2 == n and np.array_equal(again, want) and again is not first
    other = y.copy()
    other[-30] += 1.0  # any changed value is another history
    assert np.array_equal(_robust.robust_clip_cached(other, [DAY, 168])[0], robust_clip(other, [DAY, 168])[0])
    flat = _daily(35, seed=1)  # nothing to clip: stored as a key only
    out, k = _robust.robust_clip_cached(flat, [DAY])
    assert k == 0 and np.array_equal(out, flat) and _robust._clips[next(reversed(_robust._clips))][0] is None
