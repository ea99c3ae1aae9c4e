"""``lightgbm_log``: strictly positive series are modelled as log(y), others stay linear."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.models import ModelSpec
from capplan.models.gbm import LightGBMLog


def test_positive_growth_keeps_growing_and_a_series_with_zeros_stays_linear():
    ds = pd.date_range("2025-01-01", periods=24 * 21, freq="h")
    t = np.arange(len(ds))
    daily = 1 + 0.5 * np.sin(2 * np.pi * t / 24)
    grow = 50 * np.exp(0.002 * t) * daily  # multiplicative: the daily swing grows with the level
    zeros = np.where(t % 24 < 3, 0.0, 10 * daily)
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": "grow", "ds": ds, "y": grow}),
            pd.DataFrame({"unique_id": "zeros", "ds": ds, "y": zeros}),
        ]
    )
    spec = ModelSpec(freq="h", season_length=24, quantiles=(0.1, 0.5, 0.9), seed=1)
    model = LightGBMLog(spec, n_estimators=30).fit(df)
    assert model._log == {"grow"}  # the series with zeros cannot be logged
    fc = model.predict(48)
    g = fc[fc["unique_id"] == "grow"]
    assert (g["p10"] <= g["p50"]).all() and (g["p50"] <= g["p90"]).all() and (g["p10"] > 0).all()
    last_day = grow[-24:].mean()
    assert g["p50"].iloc[24:].mean() > last_day  # the trend (a growth rate in log space) goes on
    assert np.isfinite(fc[["p10", "p50", "p90"]].to_numpy()).all()


def test_a_lightgbm_pickled_before_the_log_target_still_predicts():
    import pickle

    from capplan.models.gbm import LightGBM

    ds = pd.date_range("2025-01-01", periods=24 * 14, freq="h")
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": 5 + np.sin(np.arange(len(ds)) / 4)})
    model = LightGBM(ModelSpec(freq="h", season_length=24, quantiles=(0.1, 0.5, 0.9)), n_estimators=10).fit(
        df
    )
    del model.__dict__["_log"]  # what a champion registered by an older capplan looks like
    assert pickle.loads(pickle.dumps(model)).predict(24)["p50"].notna().all()
