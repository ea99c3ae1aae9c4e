import numpy as np
import pandas as pd
import pytest

from capplan.evaluation.ledger import flag_degradation, score_forecasts

DAY = pd.Timedelta(days=1)


def _published(p50s: dict[str, float], model: str = "ets") -> pd.DataFrame:
    """One vintage per run, created daily, two daily steps each, interval p10..p90 = p50 -/+ 10."""
    parts = []
    for i, (run, p50) in enumerate(p50s.items()):
        cut = pd.Timestamp("2024-01-01") + i * DAY
        parts.append(
            pd.DataFrame(
                {
                    "run_id": run,
                    "created_at": cut,
                    "cutoff": cut,
                    "unique_id": "a",
                    "model": model,
                    "ds": [cut + DAY, cut + 2 * DAY],
                    "p10": p50 - 10.0,
                    "p50": p50,
                    "p90": p50 + 10.0,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


ACTUALS = pd.DataFrame(
    {"unique_id": "a", "ds": pd.date_range("2024-01-02", periods=4, freq="D"), "y": [11.0, 12.0, 11.0, 12.0]}
)
SCALE = pd.DataFrame({"unique_id": ["a"], "scale_mae": [2.0]})


def test_score_forecasts_by_vintage_by_hand():
    acc = score_forecasts(_published({"r1": 10.0, "r2": 10.0, "r3": 14.0}), ACTUALS, SCALE)
    assert acc["run_id"].tolist() == ["r1", "r2", "r3"]
    assert acc["n"].tolist() == [2, 2, 2]
    # r1: y 11, 12 vs 10 -> |e| 1, 2; r3: y 11, 12 vs 14 -> 3, 2
    assert acc["mae"].tolist() == [1.5, 1.5, 2.5]
    assert acc["mase"].tolist() == [0.75, 0.75, 1.25]
    assert acc.loc[0, "smape"] == pytest.approx((200 / 21 + 400 / 22) / 2)
    # r1 pinball: p10 (0): 0.1*11, 0.1*12; p50: 0.5*1, 0.5*2; p90 (20): 0.1*9, 0.1*8
    assert acc.loc[0, "pinball"] == pytest.approx(((1.1 + 1.2) / 2 + 0.75 + (0.9 + 0.8) / 2) / 3)
    assert acc["coverage"].tolist() == [1.0, 1.0, 1.0]
    assert acc.loc[0, "coverage_nominal"] == pytest.approx(0.8)


def test_steps_count_published_rows_and_missing_actuals_are_not_scored():
    acc = score_forecasts(_published({"r1": 10.0}), ACTUALS.iloc[1:], SCALE, horizon_buckets=[(1, 1), (2, 2)])
    assert acc["horizon"].tolist() == ["2-2"]  # step 1's actual is missing; step 2 stays step 2
    assert acc["n"].tolist() == [1]
    assert acc["mae"].tolist() == [2.0]


def test_degradation_against_earlier_vintages():
    acc = score_forecasts(_published({"r1": 10.0, "r2": 10.0, "r3": 14.0}), ACTUALS, SCALE)
    flag = flag_degradation(acc, threshold=0.25).iloc[0]
    assert flag["run_id"] == "r3"
    assert flag["reference"] == 0.75 and flag["change"] == pytest.approx(2 / 3)
    assert bool(flag["degraded"])
    assert flag["recommendation"].startswith("retrain recommended: MASE 1.25 vs 0.75")
    calm = flag_degradation(acc, threshold=1.0).iloc[0]
    assert not calm["degraded"] and calm["recommendation"].startswith("ok:")


def test_degradation_against_backtest_reference_and_pooled_buckets():
    acc = score_forecasts(
        _published({"r1": 10.0, "r2": 14.0}), ACTUALS, SCALE, horizon_buckets=[(1, 1), (2, 2)]
    )
    ref = pd.DataFrame({"unique_id": ["a"], "mase": [1.0]})
    flag = flag_degradation(acc, threshold=0.2, reference=ref).iloc[0]
    assert flag["mase"] == pytest.approx(1.25)  # buckets pooled: (1.5 + 1.0) / 2
    assert flag["change"] == pytest.approx(0.25) and bool(flag["degraded"])
    assert "backtest" in flag["recommendation"]


def test_single_vintage_has_no_reference():
    acc = score_forecasts(_published({"r1": 10.0}), ACTUALS, SCALE)
    flag = flag_degradation(acc, threshold=0.25).iloc[0]
    assert np.isnan(flag["reference"]) and not flag["degraded"]
    assert flag["recommendation"].startswith("no reference")


def test_several_models_per_vintage_need_model_in_by():
    two = pd.concat(
        [_published({"r1": 10.0, "r2": 14.0}), _published({"r1": 10.0, "r2": 10.0}, model="theta")]
    )
    acc = score_forecasts(two, ACTUALS, SCALE)
    with pytest.raises(ValueError, match="model"):
        flag_degradation(acc)
    out = flag_degradation(acc, threshold=0.25, by=("unique_id", "model")).set_index("model")
    assert out["degraded"].to_dict() == {"ets": True, "theta": False}
