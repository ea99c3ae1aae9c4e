"""Training says how long it will take before it starts and where it is while it runs."""

import numpy as np
import pandas as pd
import pytest

from capplan.evaluation.engine import TrainParams, backtest_one, estimate_line, estimate_seconds
from capplan.models import ModelSpec


def test_estimate_is_per_model_fits_times_series_times_rate():
    est = estimate_seconds(("theta", "lightgbm", "ensemble"), n_series=100, folds=3)
    # seasonal naive always runs; the ensemble has no fits of its own; 4 fits = 3 folds + final
    assert est == pytest.approx({"seasonal_naive": 0.8, "theta": 1.2, "lightgbm": 8.0})
    line = estimate_line(("theta", "lightgbm", "nhits"), 414, 3)
    assert line.startswith(
        "estimate: ~48 min for 4 models on 414 series x 3 folds + final fits (nhits ~47 min"
    )


def test_backtest_reports_each_fold():
    ds = pd.date_range("2025-01-01", periods=24 * 6, freq="h")
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": ds, "y": np.arange(len(ds), dtype=float) % 24 + k})
            for k, u in enumerate("ab")
        ]
    )
    said = []
    params = TrainParams(("seasonal_naive",), horizon=24, folds=3, progress=said.append)
    spec = ModelSpec(freq="h", season_length=24, quantiles=(0.1, 0.5, 0.9))
    bt, seconds = backtest_one("seasonal_naive", df, spec, params, None)
    assert bt["cutoff"].nunique() == 3 and seconds >= 0
    assert [s.split(",")[0] for s in said] == [
        f"  backtesting seasonal_naive: fold {k}/3 done" for k in (1, 2, 3)
    ]
    assert all(", 2 series, ~" in s for s in said[:2]) and said[2].endswith(" in all")
