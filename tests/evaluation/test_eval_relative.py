"""Relative scores (BOOM / GIFT-Eval style), the quantile CRPS and the per-series coverage error,
pinned on hand-built numbers."""

import math

import numpy as np
import pandas as pd
import pytest

from capplan.evaluation.metrics import coverage_errors, crps, geometric_mean_ratio, relative_scores
from capplan.evaluation.summary import champion_mix, leaderboard_of


def test_geometric_mean_ratio_by_hand_and_its_rule_for_bad_denominators():
    # ratios 0.5 and 2 -> geometric mean 1; the 0, NaN and inf baselines and the NaN value are left out
    value, used = geometric_mean_ratio(
        [1.0, 4.0, 3.0, 5.0, np.nan, 2.0], [2.0, 2.0, 0.0, np.nan, 1.0, np.inf]
    )
    assert (value, used) == (pytest.approx(1.0), 2)
    # ratios 0.25 and 1 -> sqrt(0.25) = 0.5
    assert geometric_mean_ratio([1.0, 3.0], [4.0, 3.0])[0] == pytest.approx(0.5)
    # a perfect series (ratio 0) is clipped to 1e-3, so the mean is sqrt(1e-3 * 1), not 0
    assert geometric_mean_ratio([0.0, 2.0], [1.0, 2.0])[0] == pytest.approx(math.sqrt(1e-3))
    assert math.isnan(geometric_mean_ratio([1.0], [0.0])[0])


def _metrics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b", "c", "c"],
            "model": ["seasonal_naive", "lightgbm"] * 3,
            "mase": [2.0, 1.0, 1.0, 0.5, 0.0, 0.3],  # c: baseline 0 -> left out
            "crps": [4.0, 1.0, 1.0, 1.0, 2.0, 2.0],
            "coverage_p10_p90": [0.9, 0.6, 0.7, 0.8, 0.8, 1.0],
            "coverage_p95": [1.0, 0.9, 0.95, 0.95, 0.85, 1.0],
        }
    )


def test_relative_scores_per_model():
    rel = relative_scores(_metrics(), "mase").set_index("model")
    assert rel.loc["lightgbm", "rel_mase"] == pytest.approx(0.5)  # ratios 0.5, 0.5
    assert rel.loc["lightgbm", "rel_mase_series"] == 2
    assert rel.loc["seasonal_naive", "rel_mase"] == pytest.approx(1.0)
    crps_rel = relative_scores(_metrics(), "crps").set_index("model")
    assert crps_rel.loc["lightgbm", "rel_crps"] == pytest.approx((0.25 * 1 * 1) ** (1 / 3))


def test_coverage_error_is_the_mean_over_series_of_the_absolute_gap():
    err = coverage_errors(_metrics()).set_index("model")
    # lightgbm p10-p90: |0.6-0.8|, 0, |1.0-0.8| -> 0.4/3; p95: 0.05, 0, 0.05 -> 0.1/3
    assert err.loc["lightgbm", "coverage_error_p10_p90"] == pytest.approx(0.4 / 3)
    assert err.loc["lightgbm", "coverage_error_p95"] == pytest.approx(0.1 / 3)
    assert err.loc["seasonal_naive", "coverage_error_p10_p90"] == pytest.approx(0.2 / 3)


def test_crps_is_twice_the_mean_pinball():
    frame = pd.DataFrame(
        {
            "unique_id": "a",
            "model": "m",
            "y": [10.0, 0.0],
            "p10": [8.0, 1.0],
            "p50": [10.0, 2.0],
            "p90": [9.0, 3.0],
        }
    )
    # row 1: pinball .1*2=0.2, 0, .9*1=0.9 -> 1.1; row 2: .9*1, .5*2, .1*3 -> 0.9+1.0+0.3=2.2
    # crps per row 2*sum/3: 2.2/3, 4.4/3 -> mean 3.3/3 = 1.1
    assert crps([0.1, 0.5, 0.9])(frame).iloc[0] == pytest.approx(1.1)


def test_leaderboard_and_champion_mix_report_relative_scores_and_coverage_error():
    board = leaderboard_of(_metrics()).set_index("model")
    assert board.loc["lightgbm", "rel_mase"] == pytest.approx(0.5)
    assert board.loc["lightgbm", "coverage_error_p10_p90"] == pytest.approx(0.4 / 3)
    champions = pd.DataFrame(
        {"unique_id": ["a", "b", "c"], "champion": ["lightgbm", "seasonal_naive", "lightgbm"]}
    )
    mix = champion_mix(champions, _metrics())
    # series a: lightgbm 1.0 / 2.0; b: 1; c: baseline 0, left out -> sqrt(0.5)
    assert mix["rel_mase"] == pytest.approx(math.sqrt(0.5))
    assert mix["rel_crps"] == pytest.approx((0.25 * 1 * 1) ** (1 / 3))
    assert mix["champion_mase"] == pytest.approx((1.0 + 1.0 + 0.3) / 3)
    assert mix["champion_coverage_p10_p90"] == pytest.approx((0.6 + 0.7 + 1.0) / 3)
    assert mix["champion_coverage_error_p10_p90"] == pytest.approx((0.2 + 0.1 + 0.2) / 3)


def test_plot_view_puts_the_worst_series_first_with_the_baseline_and_units_fall_back_to_the_metric():
    from capplan.evaluation.summary import plot_view, series_units

    bt = pd.DataFrame(
        {
            "unique_id": ["a", "b", "a", "b", "c"],
            "model": ["lightgbm", "lightgbm", "seasonal_naive", "seasonal_naive", "theta"],
            "ds": pd.to_datetime(["2025-01-01"] * 5),
        }
    )
    view, scores = plot_view("lightgbm", bt, _metrics())
    assert view["unique_id"].tolist()[:2] == ["a", "a"]  # a: MASE 1.0 is worse than b's 0.5
    assert set(view["model"]) == {"lightgbm", "seasonal_naive"}
    assert scores == {"a": 1.0, "b": 0.5, "c": 0.3}
    series = pd.DataFrame({"unique_id": ["a", "b"], "metric": ["cpu", "rps"], "unit": ["cores", None]})
    assert series_units(series) == {"a": "cores", "b": "rps"}


def test_version_description_names_window_mix_and_accuracy():
    from capplan.evaluation.summary import version_description

    champions = pd.DataFrame(
        {"unique_id": ["a", "b", "c"], "champion": ["lightgbm", "seasonal_naive", "lightgbm"]}
    )
    window = (pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-30 23:00"))
    text = version_description(window, champions, _metrics())
    assert text.startswith(
        "Champions of 3 series trained on data 2026-10-01 00:00 to 2026-11-30 23:00 (latest)."
    )
    assert "Champion mix: lightgbm 2, seasonal_naive 1." in text
    assert "MASE 0.767" in text and f"rel MASE {math.sqrt(0.5):.3f}" in text
    assert "p10-p90 covered 77%" in text
