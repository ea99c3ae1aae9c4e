import math

import numpy as np
import pandas as pd
import pytest

from capplan.evaluation.metrics import (
    bias,
    coverage,
    default_metrics,
    evaluate,
    mae,
    mase,
    msis,
    pinball,
    rmsse,
    score,
    seasonal_scale,
    smape,
)

BY = ["unique_id", "model"]


def _m4_train() -> pd.DataFrame:
    """Two hourly days; day 2 = day 1 + 2, so every seasonal (24) difference is exactly 2."""
    day = np.arange(24, dtype="float64") * 3.0
    ds = pd.date_range("2024-01-01", periods=48, freq="h")
    return pd.DataFrame({"unique_id": "svc:cpu", "ds": ds, "y": np.r_[day, day + 2.0]})


def _m4_forecast() -> pd.DataFrame:
    ds = pd.date_range("2024-01-03", periods=3, freq="h")
    return pd.DataFrame(
        {
            "unique_id": "svc:cpu",
            "model": "m",
            "cutoff": pd.Timestamp("2024-01-02 23:00"),
            "ds": ds,
            "y": [50.0, 60.0, 40.0],
            "p2.5": [45.0, 55.0, 30.0],
            "p50": [40.0, 60.0, 50.0],
            "p97.5": [55.0, 65.0, 35.0],
        }
    )


def test_m4_style_example_by_hand():
    scales = seasonal_scale(_m4_train(), season=24)
    assert scales[["scale_mae", "scale_mse"]].iloc[0].tolist() == [2.0, 4.0]
    frame = _m4_forecast().assign(scale_mae=2.0, scale_mse=4.0)
    # sMAPE: 200*10/90, 0, 200*10/90 -> mean 4000/270
    assert smape(frame, BY).iloc[0] == pytest.approx(4000 / 270)
    # MASE: mean |e| = 20/3, scale 2
    assert mase(frame, BY).iloc[0] == pytest.approx(10 / 3)
    assert mae(frame, BY).iloc[0] == pytest.approx(20 / 3)
    # RMSSE: sqrt(mean(100, 0, 100) / 4)
    assert rmsse(frame, BY).iloc[0] == pytest.approx(math.sqrt(50 / 3))
    # MSIS(0.05): widths 10, 10, 5; row 3 above hi by 5 -> 5 + 40*5 = 205; mean 75; /2
    assert msis(0.05)(frame, BY).iloc[0] == pytest.approx(37.5)
    assert coverage(0.025, 0.975)(frame, BY).iloc[0] == pytest.approx(2 / 3)


def test_evaluate_matches_hand_values_and_names():
    out = evaluate(_m4_forecast(), _m4_train(), season=24)
    row = out.iloc[0]
    assert row["n"] == 3
    assert row["mase"] == pytest.approx(10 / 3)
    assert row["msis_p2.5_p97.5"] == pytest.approx(37.5)
    assert row["coverage_p2.5_p97.5"] == pytest.approx(2 / 3)
    assert row["smape"] == pytest.approx(4000 / 270)


def test_pinball_bias_and_smape_zero():
    frame = pd.DataFrame(
        {
            "unique_id": "a",
            "model": "m",
            "y": [10.0, 20.0, 0.0],
            "p50": [12.0, 24.0, 0.0],
            "p90": [8.0, 22.0, 1.0],
        }
    )
    # pinball 0.9: y-f = 2 -> 1.8; -2 -> 0.2; -1 -> 0.1
    assert pinball(0.9)(frame, BY).iloc[0] == pytest.approx((1.8 + 0.2 + 0.1) / 3)
    assert pinball(0.9).__name__ == "pinball_p90"
    # bias: mean(f - y) = 2, mean |y| = 10
    assert bias(frame, BY).iloc[0] == pytest.approx(0.2)
    # smape: 200*2/22, 200*4/44, 0 (both zero)
    assert smape(frame, BY).iloc[0] == pytest.approx((400 / 22 + 800 / 44 + 0) / 3)
    zeros = frame.assign(y=0.0, p50=[1.0, -1.0, 0.0])
    assert np.isnan(bias(zeros, BY).iloc[0])


def test_scale_uses_only_data_up_to_each_cutoff():
    ds = pd.date_range("2024-01-01", periods=6, freq="D")
    train = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [0.0, 1.0, 2.0, 3.0, 6.0, 9.0]})
    cutoffs = pd.DataFrame({"unique_id": "a", "cutoff": [ds[3], ds[5]]})
    s = seasonal_scale(train, season=1, cutoffs=cutoffs)
    # diffs up to ds[3]: 1,1,1 -> 1; up to ds[5]: 1,1,1,3,3 -> 9/5
    assert s["scale_mae"].tolist() == pytest.approx([1.0, 9 / 5])
    assert s["scale_mse"].tolist() == pytest.approx([1.0, 21 / 5])


def test_evaluate_scales_each_fold_by_its_own_cutoff():
    ds = pd.date_range("2024-01-01", periods=6, freq="D")
    train = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [0.0, 1.0, 2.0, 3.0, 6.0, 9.0]})
    bt = pd.DataFrame(
        {
            "unique_id": "a",
            "model": "m",
            "cutoff": [ds[3], ds[4]],
            "ds": [ds[4], ds[5]],
            "y": [6.0, 9.0],
            "p50": [4.0, 6.0],
        }
    )
    out = evaluate(bt, train, metrics=[mase], season=1)
    # fold 1: |e| 2 / scale 1 (diffs 1,1,1); fold 2: |e| 3 / scale 6/4 (diffs 1,1,1,3)
    assert out["mase"].iloc[0] == pytest.approx((2.0 + 3.0 / 1.5) / 2)


def test_constant_season_falls_back_to_lag1_and_constant_series_is_nan():
    ds = pd.date_range("2024-01-01", periods=6, freq="h")
    train = pd.DataFrame(
        {"unique_id": ["a"] * 6 + ["b"] * 6, "ds": list(ds) * 2, "y": [1.0, 3.0] * 3 + [5.0] * 6}
    )
    s = seasonal_scale(train, season=2).set_index("unique_id")
    assert s.loc["a", "scale_mae"] == 2.0  # season-2 diffs are all 0 -> lag-1 diffs |±2|
    assert np.isnan(s.loc["b", "scale_mae"])
    bt = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "model": "m",
            "cutoff": ds[-1],
            "ds": ds[-1] + pd.Timedelta(hours=1),
            "y": [1.0, 5.0],
            "p50": [2.0, 5.0],
        }
    )
    out = evaluate(bt, train, metrics=[mase, mae], season=2).set_index("unique_id")
    assert out.loc["a", "mase"] == 0.5
    assert np.isnan(out.loc["b", "mase"]) and out.loc["b", "mae"] == 0.0


def test_nan_in_a_group_is_not_skipped():
    frame = pd.DataFrame(
        {"unique_id": "a", "model": "m", "y": [1.0, 1.0], "p50": [2.0, 3.0], "scale_mae": [1.0, np.nan]}
    )
    assert np.isnan(mase(frame, BY).iloc[0])


def test_horizon_buckets_and_default_metrics():
    ds = pd.date_range("2024-01-01", periods=4, freq="h")
    train = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [0.0, 1.0, 2.0, 3.0]})
    bt = pd.DataFrame(
        {
            "unique_id": "a",
            "model": "m",
            "cutoff": ds[-1],
            "ds": pd.date_range(ds[-1], periods=5, freq="h")[1:],
            "y": [4.0, 5.0, 6.0, 7.0],
            "p10": 0.0,
            "p50": [4.0, 5.0, 8.0, 10.0],
            "p90": 100.0,
        }
    )
    out = evaluate(bt, train, season=1, horizon_buckets=[(1, 2), (3, 4)])
    assert out["horizon"].tolist() == ["1-2", "3-4"]
    assert out["n"].tolist() == [2, 2]
    assert out["mae"].tolist() == [0.0, 2.5]
    names = [m.__name__ for m in default_metrics([0.1, 0.5, 0.9, 0.95])]
    assert names == [
        "mae",
        "mase",
        "rmsse",
        "smape",
        "bias",
        "pinball_p10",
        "pinball_p50",
        "pinball_p90",
        "pinball_p95",
        "crps",
        "coverage_p10_p90",
        "coverage_p95",  # the one-sided interval of an upper quantile without a partner
        "msis_p10_p90",
    ]
    assert {"coverage_p10_p90", "msis_p10_p90"} <= set(out.columns)


def test_missing_scale_column_is_named():
    frame = pd.DataFrame({"unique_id": "a", "model": "m", "y": [1.0], "p50": [1.0]})
    with pytest.raises(KeyError, match="scale_mae"):
        score(frame, [mase])
