"""Fitted models survive pickling (the MLflow registry stores fitted champions by pickling)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from capplan.models import ModelSpec, build_model


@pytest.fixture(scope="module")
def frame():
    ds = pd.date_range("2025-01-01", periods=24 * 21, freq="h")
    t = np.arange(len(ds))
    return pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": ds, "y": 10 + k + 3 * np.sin(t * 2 * np.pi / 24) + 0.01 * t})
            for k, u in enumerate("ab")
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize("name", ["seasonal_naive", "seasonal_profile", "theta", "lightgbm", "nhits"])
def test_pickled_fitted_model_predicts_the_same(frame, name):
    model = build_model(name, ModelSpec("h", 24, seasonalities=(168,), epochs=1)).fit(frame)
    before = model.predict(30)
    after = pickle.loads(pickle.dumps(model)).predict(30)
    pd.testing.assert_frame_equal(before, after)
