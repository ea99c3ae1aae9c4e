"""``lightgbm``'s rolling features of the target: exact, strictly from the past, and rebuilt from
the fed-back forecast for every predicted chunk (nothing past the series so far is read)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.contracts import Covariates, ModelSpec
from capplan.models.gbm import LightGBM, rolling_features

SPEC = ModelSpec(freq="h", season_length=24, seasonalities=(168,), quantiles=(0.1, 0.5, 0.9))


def _panel(days: int = 30) -> pd.DataFrame:
    n = days * 24
    t = np.arange(n)
    ds = pd.date_range("2026-01-01", periods=n, freq="h")
    rng = np.random.default_rng(3)
    parts = [
        pd.DataFrame(
            {
                "unique_id": f"s{i}",
                "ds": ds,
                "y": 50 + 10 * i + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, n),
            }
        )
        for i in range(4)
    ]
    return pd.concat(parts, ignore_index=True)


def test_rolling_features_exact_on_a_hand_built_series():
    got = rolling_features(np.array([1.0, 2.0, 3.0, 4.0]), [2])
    np.testing.assert_allclose(got[:, 0], [1.0, 1.5, 2.5, 3.5])  # mean of the last 2 (1 at the start)
    np.testing.assert_allclose(got[:, 1], [0.0, 0.5, 0.5, 0.5])  # population standard deviation
    np.testing.assert_allclose(got[:, 2], [1.0, 2.0, 3.0, 4.0])  # maximum


def test_rolling_features_read_only_the_past():
    v = np.random.default_rng(0).normal(size=200)
    full = rolling_features(v, [24, 168])
    for t in (0, 23, 24, 100, 199):
        np.testing.assert_allclose(full[t], rolling_features(v[: t + 1], [24, 168])[t])


def test_windows_are_the_periods_that_fit_and_rolling_false_turns_them_off():
    frame = _panel()
    assert LightGBM(SPEC, n_estimators=5).fit(frame).rolling_windows == [24, 168]
    assert LightGBM(SPEC, n_estimators=5).fit(frame.groupby("unique_id").tail(24 * 12)).rolling_windows == [
        24
    ]
    assert LightGBM(SPEC, n_estimators=5, rolling=False).fit(frame).rolling_windows == []


class _PoisonedPad(LightGBM):
    """Writes 1e6 into the rows after each series' last step (the ones no lag should read)."""

    def _past_series(self, hists, rows, current):
        out = []
        for series, cov in zip(current, super()._past_series(hists, rows, current), strict=True):
            values = cov.values(copy=True)
            values[len(series) :] = 1e6
            out.append(cov.with_values(values))
        return out


def test_no_feature_is_read_after_the_series_so_far_in_any_chunk():
    frame = _panel()
    kpis = frame[["unique_id", "ds"]].assign(users=np.arange(len(frame)) % 50 + 1.0)
    for cov in (None, Covariates(past=kpis)):
        plain = LightGBM(SPEC, n_estimators=20).fit(frame, cov).predict(60, cov)  # 3 chunks of 24
        poisoned = _PoisonedPad(SPEC, n_estimators=20).fit(frame, cov).predict(60, cov)
        pd.testing.assert_frame_equal(plain, poisoned)
