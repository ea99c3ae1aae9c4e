"""``lightgbm`` learns the seasonal difference: a forecast is the last season plus what changed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.contracts import ModelSpec
from capplan.models.gbm import LightGBM, LightGBMQuantile


def _frame(slopes: dict[str, float], days: int = 30, extra: int = 0) -> pd.DataFrame:
    n = days * 24 + extra
    t = np.arange(n)
    ds = pd.date_range("2026-01-01", periods=n, freq="h")
    parts = [
        pd.DataFrame({"unique_id": uid, "ds": ds, "y": 100 + 20 * np.sin(2 * np.pi * t / 24) + slope * t})
        for uid, slope in slopes.items()
    ]
    return pd.concat(parts, ignore_index=True)


def test_growth_and_season_continue_exactly():
    # Every seasonal difference is the same (24 x slope): the trees learn a constant, so the
    # forecast is the true continuation, growth included, 48 steps ahead.
    slopes = {"a": 0.05, "b": 0.05}
    full = _frame(slopes, extra=48)
    train = full.groupby("unique_id").head(30 * 24)
    fc = LightGBM(ModelSpec(freq="h", season_length=24), n_estimators=20).fit(train).predict(48)
    truth = full.groupby("unique_id").tail(48).reset_index(drop=True)
    np.testing.assert_allclose(fc["p50"].to_numpy(), truth["y"].to_numpy(), rtol=1e-9)


def test_differencing_is_what_lets_the_trees_extrapolate():
    # Without differencing and without detrending, trees cannot go above the training range.
    slopes = {"a": 0.2, "b": 0.2}
    train = _frame(slopes)
    spec = ModelSpec(freq="h", season_length=24)
    flat = LightGBM(spec, n_estimators=20)
    flat.difference = False
    top = train["y"].max()
    assert flat.fit(train).predict(48)["p50"].max() <= top + 1e-9
    assert LightGBM(spec, n_estimators=20).fit(train).predict(48)["p50"].max() > top + 5


def test_quantile_flavour_keeps_its_own_levels_and_no_differencing():
    model = LightGBMQuantile(ModelSpec(freq="h", season_length=24), n_estimators=5)
    assert model.difference is False and model.point_only is False and model.native_intervals is True
    fc = model.fit(_frame({"a": 0.0, "b": 0.1})).predict(24)
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()


def test_a_lightgbm_pickled_by_an_older_capplan_asks_for_a_retrain():
    import pickle

    import pytest

    from capplan.core.errors import ModelError

    model = LightGBM(ModelSpec(freq="h", season_length=24), n_estimators=5).fit(_frame({"a": 0.1, "b": 0.0}))
    del model.__dict__["_fitted"]  # a quantile model with Darts' encoders, pickled before this change
    with pytest.raises(ModelError, match="fitted by an older capplan.*retrain"):
        pickle.loads(pickle.dumps(model)).predict(24)


def test_lightgbm_threads_follow_the_rows_it_fits_on(monkeypatch):
    """One thread on small fits; from ``THREADS_FROM_ROWS`` training rows, the process's cores
    (``OMP_NUM_THREADS`` in a worker); an explicit ``n_jobs`` wins."""
    from capplan.core.batches import THREADS_FROM_ROWS
    from capplan.models._common import History

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    model = LightGBM(ModelSpec(freq="h", season_length=24))
    ds = pd.date_range("2026-01-01", periods=2000, freq="h")

    def threads_for(n_series: int) -> int:
        model._eligible = [History(f"s{i}", ds, np.ones(2000)) for i in range(n_series)]
        model.min_length, model.max_samples_per_ts = 100, 720
        return model._threads()

    per_series = 720  # max_samples_per_ts caps each series' rows
    assert threads_for(THREADS_FROM_ROWS // per_series - 1) == 1
    assert threads_for(THREADS_FROM_ROWS // per_series + 1) == 2
    model.n_jobs = 1
    assert threads_for(1000) == 1
    model.n_jobs, model.params["n_jobs"] = None, 3  # a model pickled before: n_jobs in its params
    model.lags, model.past_lags = [-24, -1], [-1]
    assert model._threads() == 3 and model._make_model() is not None  # n_jobs passed once
