import numpy as np
import pandas as pd
import pytest

from capplan.evaluation.champion import choose_champions

COMPLEXITY = {"lightgbm": 3, "ets": 2, "theta": 2}


def _metrics(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["unique_id", "model", "mase"])
    frame["smape"] = np.arange(len(frame), dtype="float64")
    return frame


def _one(frame: pd.DataFrame, **kwargs) -> pd.Series:
    out = choose_champions(frame, COMPLEXITY, **kwargs)
    assert len(out) == 1
    return out.iloc[0]


def test_challenger_that_beats_the_baseline_wins():
    row = _one(_metrics([("a", "seasonal_naive", 1.02), ("a", "lightgbm", 0.71), ("a", "ets", 0.9)]))
    assert row["champion"] == "lightgbm"
    assert row["reason"] == "lightgbm: MASE 0.71 vs seasonal_naive 1.02 (-30%)"
    assert row["mase"] == 0.71 and row["baseline_mase"] == 1.02
    assert row["smape"] == 1.0  # the champion's own metric values


def test_tie_goes_to_the_simpler_model():
    row = _one(_metrics([("a", "seasonal_naive", 1.0), ("a", "lightgbm", 0.700), ("a", "ets", 0.703)]))
    assert row["champion"] == "ets"  # within 0.5% of lightgbm, complexity 2 < 3
    assert "within 0.5% of lightgbm (0.7), chose the simpler" in row["reason"]
    row = _one(_metrics([("a", "seasonal_naive", 1.0), ("a", "lightgbm", 0.700), ("a", "ets", 0.71)]))
    assert row["champion"] == "lightgbm"  # 1.4% apart: not a tie


def test_equal_complexity_tie_goes_to_lower_value():
    row = _one(_metrics([("a", "seasonal_naive", 1.0), ("a", "theta", 0.801), ("a", "ets", 0.8)]))
    assert row["champion"] == "ets"


def test_baseline_kept_when_not_beaten_by_the_margin():
    row = _one(_metrics([("a", "seasonal_naive", 1.0), ("a", "ets", 0.995), ("a", "lightgbm", 1.3)]))
    assert row["champion"] == "seasonal_naive"
    assert row["reason"] == (
        "seasonal_naive kept: best challenger ets MASE 0.995 vs seasonal_naive 1 (-0.5%) "
        "does not beat it by more than 1%"
    )
    assert row["mase"] == 1.0


def test_baseline_kept_when_scores_are_not_finite():
    out = choose_champions(
        _metrics(
            [
                ("c", "seasonal_naive", np.nan),
                ("c", "ets", 0.3),
                ("d", "seasonal_naive", 1.0),
                ("d", "ets", np.nan),
            ]
        ),
        COMPLEXITY,
    ).set_index("unique_id")
    assert out["champion"].tolist() == ["seasonal_naive", "seasonal_naive"]
    assert (
        out.loc["c", "reason"] == "seasonal_naive kept: no finite MASE for seasonal_naive to compare against"
    )
    assert out.loc["d", "reason"] == "seasonal_naive kept: no other model has a finite MASE"


def test_many_series_at_once_and_validation():
    frame = _metrics(
        [("x", "seasonal_naive", 2.0), ("x", "ets", 1.0), ("y", "seasonal_naive", 1.0), ("y", "ets", 1.5)]
    )
    out = choose_champions(frame, COMPLEXITY)
    assert out[["unique_id", "champion"]].values.tolist() == [["x", "ets"], ["y", "seasonal_naive"]]
    with pytest.raises(ValueError, match="prophet"):
        choose_champions(pd.concat([frame, _metrics([("x", "prophet", 0.1)])]), COMPLEXITY)
    with pytest.raises(ValueError, match="one row per"):
        choose_champions(pd.concat([frame, frame]), COMPLEXITY)


def test_preferred_model_wins_unless_clearly_beaten():
    cx = {**COMPLEXITY, "ensemble": 4}
    kept = _metrics([("a", "seasonal_naive", 1.0), ("a", "lightgbm", 0.80), ("a", "ensemble", 0.83)])
    row = choose_champions(kept, cx, prefer=("ensemble", 0.05)).iloc[0]
    assert row["champion"] == "ensemble"  # 0.83 <= 0.80 x 1.05
    assert row["reason"] == (
        "ensemble: MASE 0.83 vs seasonal_naive 1 (-17%); preferred: lightgbm (0.8) does not beat it by more than 5%"
    )
    beaten = _metrics([("a", "seasonal_naive", 1.0), ("a", "lightgbm", 0.70), ("a", "ensemble", 0.80)])
    row = choose_champions(beaten, cx, prefer=("ensemble", 0.05)).iloc[0]
    assert row["champion"] == "lightgbm" and row["reason"] == "lightgbm: MASE 0.7 vs seasonal_naive 1 (-30%)"
    # without the preference the best model wins as before
    assert choose_champions(kept, cx).iloc[0]["champion"] == "lightgbm"
    # a preferred model that does not beat the baseline is not eligible
    weak = _metrics([("a", "seasonal_naive", 1.0), ("a", "lightgbm", 0.97), ("a", "ensemble", 1.0)])
    assert choose_champions(weak, cx, prefer=("ensemble", 0.05)).iloc[0]["champion"] == "lightgbm"
