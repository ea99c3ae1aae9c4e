"""LightGBM covariates: past KPIs without look-ahead, future events, one batch prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_synthetic import SPEC, hourly, pattern

from capplan.core.errors import ModelError
from capplan.models import Covariates
from capplan.models.gbm import LightGBM

QCOLS = ["p10", "p50", "p90", "p95", "p99"]
H = 24


def kpi_panel(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two series driven by a KPI and the KPI frame, which runs 3 days past the history."""
    rng = np.random.default_rng(seed)
    n = 24 * 21
    frames, kpis = [], []
    for uid, level in (("a:cpu", 40.0), ("b:cpu", 400.0)):
        kpi = 100 + np.cumsum(rng.normal(0, 2, n + 3 * H))
        y = pattern(n, level, rng) + 0.2 * level * (kpi[:n] - 100) / 10
        frames.append(hourly(uid, "2024-01-01", y))
        kpis.append(hourly(uid, "2024-01-01", kpi).rename(columns={"y": "orders"}))
    return pd.concat(frames, ignore_index=True), pd.concat(kpis, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    df, kpi = kpi_panel()
    model = LightGBM(SPEC, n_estimators=40).fit(df, Covariates(past=kpi))
    return model, df, kpi


def test_past_covariates_are_never_read_after_the_origin(fitted):
    model, df, kpi = fitted
    h = 2 * H + 1  # three chunks: later chunks would read KPIs after the origin if they were kept
    full = model.predict(h, Covariates(past=kpi))
    truncated = model.predict(h, Covariates(past=kpi[kpi.ds <= df.ds.max()]))
    scrambled = kpi.copy()
    future = scrambled.ds > df.ds.max()
    scrambled.loc[future, "orders"] *= 100.0
    pd.testing.assert_frame_equal(full, truncated)
    pd.testing.assert_frame_equal(full, model.predict(h, Covariates(past=scrambled)))
    pd.testing.assert_frame_equal(full, model.predict(h))  # falls back to the KPIs seen in fit
    assert np.isfinite(full[QCOLS].to_numpy()).all()


def test_past_covariates_before_the_origin_do_matter(fitted):
    model, df, kpi = fitted
    base = model.predict(H, Covariates(past=kpi))
    shifted = kpi.copy()
    shifted.loc[shifted.ds > df.ds.max() - pd.Timedelta(hours=30), "orders"] += 50.0
    moved = model.predict(H, Covariates(past=shifted))
    assert not np.allclose(base["p50"], moved["p50"])


def test_future_event_covariate_is_learned_and_must_cover_horizon():
    rng = np.random.default_rng(5)
    n = 24 * 21
    ds = pd.date_range("2024-01-01", periods=n + H, freq="h")
    flag = (rng.random(n + H) < 0.15).astype(float)
    flag[n : n + H] = np.arange(H) % 4 == 0  # events at horizon steps 0, 4, 8, ...
    y = pattern(n, 100.0, rng) + 40.0 * flag[:n]
    df = hourly("a:cpu", "2024-01-01", y)
    events = pd.DataFrame({"unique_id": "a:cpu", "ds": ds, "release": flag})
    model = LightGBM(SPEC, n_estimators=60).fit(df, Covariates(future=events))
    p50 = model.predict(H, Covariates(future=events))["p50"].to_numpy()
    on = flag[n : n + H].astype(bool)
    assert p50[on].mean() > p50[~on].mean() + 20.0
    with pytest.raises(ModelError, match="a:cpu"):
        model.predict(H, Covariates(future=events[events.ds <= ds[n + 5]]))


def test_all_series_predicted_in_one_batch_call(fitted):
    model, df, kpi = fitted
    calls = []
    real = model._model.predict

    def spy(*args, **kwargs):
        calls.append(len(kwargs["series"]))
        return real(*args, **kwargs)

    model._model.predict = spy
    try:
        model.predict(H, Covariates(past=kpi))  # H == output_chunk_length: one chunk
        assert calls == [2]
        calls.clear()
        model.predict(2 * H + 1, Covariates(past=kpi))
        assert calls == [2, 2, 2]
    finally:
        del model._model.predict
