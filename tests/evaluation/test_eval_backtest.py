import logging

import numpy as np
import pandas as pd
import pytest

from capplan.core.errors import ModelError, SeriesError
from capplan.evaluation.backtest import (
    apply_conformal,
    backtest,
    conformal_quantiles,
    horizon_step,
    repair_quantiles,
)
from capplan.evaluation.testing import SumAhead
from capplan.models.base import Covariates


def _frame(lengths: dict[str, int]) -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": np.arange(n) * k}
        )
        for k, (uid, n) in enumerate(lengths.items(), start=1)
    ]
    return pd.concat(parts, ignore_index=True).astype({"y": "float64"})


def _hour(i: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(hours=i)


class _Factory:
    def __init__(self, cls=SumAhead, **kwargs):
        self.cls, self.kwargs, self.made = cls, kwargs, []

    def __call__(self):
        self.made.append(self.cls(**self.kwargs))
        return self.made[-1]


def test_backtest_exact_forecasts_and_one_fit_per_fold():
    df = _frame({"a": 8, "b": 8})  # a: y = t, b: y = 2t
    factory = _Factory()
    bt = backtest(factory, df, h=2, folds=2)
    assert list(bt.columns) == ["unique_id", "model", "cutoff", "ds", "y", "p10", "p50", "p90"]
    assert len(factory.made) == 2  # one global fit per fold, all series at once
    assert [m.fit_rows for m in factory.made] == [8, 12]
    a = bt[bt.unique_id == "a"]
    assert a["cutoff"].tolist() == [_hour(3), _hour(3), _hour(5), _hour(5)]
    assert a["ds"].tolist() == [_hour(4), _hour(5), _hour(6), _hour(7)]
    assert a["p50"].tolist() == [4.0, 5.0, 6.0, 7.0]  # last value + step
    assert a["y"].tolist() == [4.0, 5.0, 6.0, 7.0]
    b = bt[bt.unique_id == "b"]
    assert b["p50"].tolist() == [7.0, 8.0, 11.0, 12.0]  # last 6 (+1,+2), then last 10
    assert b["p10"].tolist() == [3.0, 4.0, 7.0, 8.0]
    assert b["p90"].tolist() == [11.0, 12.0, 15.0, 16.0]
    assert (bt["model"] == "sum_ahead").all()


def test_past_covariates_after_the_cutoff_are_never_visible():
    df = _frame({"a": 10})
    past = df.rename(columns={"y": "kpi"})
    factory = _Factory()
    bt = backtest(factory, df, h=2, folds=3, cov=Covariates(past=past))
    cutoffs = sorted(bt["cutoff"].unique())
    seen = [m.past_max_seen for m in factory.made]
    assert seen == [[c, c] for c in cutoffs]  # fit and predict each saw exactly up to the cutoff


class _PastProbe(SumAhead):
    """Records the latest past-covariate ds per series it was shown."""

    def fit(self, df, cov=None):
        self.per_series = cov.past.groupby("unique_id")["ds"].max()
        return super().fit(df, cov)


def test_look_ahead_guard_with_per_series_cutoffs():
    df = _frame({"a": 10, "b": 7})
    shared = pd.DataFrame(
        {"unique_id": "kpi:orders", "ds": pd.date_range("2024-01-01", periods=10, freq="h"), "kpi": 1.0}
    )
    past = pd.concat([df.rename(columns={"y": "kpi"}), shared], ignore_index=True)
    factory = _Factory(cls=_PastProbe)
    bt = backtest(factory, df, h=2, folds=1, cov=Covariates(past=past))
    seen = factory.made[0].per_series
    cut = bt.groupby("unique_id")["cutoff"].first()
    assert seen["a"] == cut["a"] == _hour(7)
    assert seen["b"] == cut["b"] == _hour(4)
    assert seen["kpi:orders"] == _hour(4)  # shared rows stop at the fold's earliest cutoff


def test_short_series_skipped_and_logged(caplog):
    df = _frame({"long": 10, "short": 4})
    with caplog.at_level(logging.WARNING):
        bt = backtest(_Factory(), df, h=2, folds=2, min_train=3)
    assert "short" in caplog.text and "too short for fold 0" in caplog.text
    assert sorted(bt.groupby("unique_id")["cutoff"].nunique().items()) == [("long", 2)]
    with pytest.raises(SeriesError, match="short"):
        backtest(_Factory(), _frame({"short": 4}), h=2, folds=2, min_train=3)


class _DropsB(SumAhead):
    def predict(self, h, cov=None):
        out = super().predict(h, cov)
        return out[out.unique_id != "b"]


def test_missing_forecast_names_the_series():
    with pytest.raises(ModelError, match="for series b"):
        backtest(_Factory(cls=_DropsB), _frame({"a": 6, "b": 6}), h=2, folds=1)


def test_conformal_offsets_and_application():
    ds = pd.date_range("2024-01-01", periods=2, freq="h")
    bt = pd.DataFrame(
        {
            "unique_id": "a",
            "model": "m",
            "cutoff": np.repeat(pd.to_datetime(["2023-12-01", "2023-12-02", "2023-12-03"]), 2),
            "ds": list(ds) * 3,
            "y": [1.0, 10.0, -2.0, 10.0, 3.0, 10.0],
            "p50": [0.0, 14.0, 0.0, 16.0, 0.0, 12.0],
        }
    )
    cq = conformal_quantiles(bt, quantiles=(0.1, 0.5, 0.9))
    # step 1 |residuals| 1,2,3: level 0.8 'higher' -> 3; step 2: 4,6,2 -> 6
    assert cq["step"].tolist() == [1, 2]
    assert cq["p90"].tolist() == [3.0, 6.0]
    assert cq["p10"].tolist() == [-3.0, -6.0]
    assert cq["p50"].tolist() == [0.0, 0.0]
    fc = pd.DataFrame(
        {
            "unique_id": "a",
            "model": "m",
            "ds": pd.date_range("2024-02-01", periods=3, freq="h"),
            "p50": [100.0, 200.0, 300.0],
        }
    )
    out = apply_conformal(fc, cq, (0.1, 0.5, 0.9))
    assert list(out.columns) == ["unique_id", "model", "ds", "p10", "p50", "p90"]
    assert out["p10"].tolist() == [97.0, 194.0, 294.0]  # step 3 uses the last calibrated step
    assert out["p90"].tolist() == [103.0, 206.0, 306.0]
    with pytest.raises(SeriesError, match="zz"):
        apply_conformal(fc.assign(unique_id="zz"), cq, (0.1, 0.5, 0.9))


def test_repair_quantiles_sorts_and_nan_raises():
    frame = pd.DataFrame({"unique_id": ["a", "b"], "p90": [1.0, 9.0], "p10": [5.0, 2.0], "p50": [3.0, 4.0]})
    out = repair_quantiles(frame, ["p90", "p10", "p50"])
    assert out[["p10", "p50", "p90"]].values.tolist() == [[1.0, 3.0, 5.0], [2.0, 4.0, 9.0]]
    with pytest.raises(SeriesError, match="b"):
        repair_quantiles(frame.assign(p50=[1.0, np.nan]))


def test_horizon_step_counts_per_origin():
    frame = pd.DataFrame(
        {
            "unique_id": ["a"] * 3 + ["b"],
            "cutoff": [1, 1, 2, 1],
            "ds": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-03", "2024-01-05"]),
        }
    )
    assert horizon_step(frame).tolist() == [2, 1, 1, 1]
