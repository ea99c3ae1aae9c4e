"""Accuracy per week of forecast vintage, champion changes marked, on hand-built vintages."""

import numpy as np
import pandas as pd
import pytest

from capplan.evaluation.ledger import accuracy_by_week


def _acc() -> pd.DataFrame:
    rows = [
        # forecast_id, run_id, created_at, unique_id, n, mase, coverage
        ("f1", "r1", "2026-11-02 08:00", "a", 10, 1.0, 0.6),  # Monday, week of 11-02
        ("f1", "r1", "2026-11-02 08:00", "b", 30, 2.0, 1.0),
        ("f2", "r1", "2026-11-08 23:00", "a", 20, 0.5, 0.8),  # Sunday: still week of 11-02
        ("f3", "r2", "2026-11-10 08:00", "a", 10, 0.8, np.nan),  # new champions: week of 11-09
        ("f4", "r2", "2026-11-17 08:00", "a", 5, 0.4, 0.8),  # week of 11-16, same run
        ("f5", "r1", "2026-11-24 08:00", "a", 5, 0.6, 0.9),  # a rollback to r1
    ]
    frame = pd.DataFrame(
        rows, columns=["forecast_id", "run_id", "created_at", "unique_id", "n", "mase", "coverage"]
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    frame["coverage_nominal"] = 0.8
    backtest = pd.DataFrame(
        {"unique_id": ["a"], "model": ["m"], "n": [48], "mase": [9.0], "source": ["backtest"]}
    )
    return pd.concat([frame, backtest], ignore_index=True)  # backtest rows (no created_at) are ignored


def test_weekly_accuracy_is_n_weighted_and_marks_champion_changes():
    out = accuracy_by_week(_acc())
    assert out["week"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
        "2026-11-23",
    ]
    assert out["vintages"].tolist() == [2, 1, 1, 1]
    assert out["series"].tolist() == [2, 1, 1, 1]
    assert out["n"].tolist() == [60, 10, 5, 5]
    # week 1: (10*1 + 30*2 + 20*0.5) / 60 = 80/60; coverage (6 + 30 + 16) / 60
    assert out["mase"].tolist() == pytest.approx([80 / 60, 0.8, 0.4, 0.6])
    assert out["coverage"].iloc[0] == pytest.approx(52 / 60)
    assert np.isnan(out["coverage"].iloc[1])  # no coverage measured that week
    assert out["run_id"].tolist() == ["r1", "r2", "r2", "r1"]
    assert out["champion_change"].tolist() == [False, True, False, True]


def test_nothing_published_yet_gives_an_empty_frame_with_the_columns():
    out = accuracy_by_week(pd.DataFrame())
    assert out.empty and "champion_change" in out.columns


def test_a_vintage_published_later_as_of_a_past_date_lands_in_the_week_of_its_origin():
    acc = _acc().iloc[:6].copy()
    acc["cutoff"] = acc["created_at"] - pd.Timedelta(hours=1)
    # f4 was published on 11-17 but forecast from 11-03: the week of 11-02 (with f1, f2)
    acc.loc[acc["forecast_id"] == "f4", "cutoff"] = pd.Timestamp("2026-11-03 07:00")
    out = accuracy_by_week(acc)
    assert out["week"].dt.strftime("%Y-%m-%d").tolist() == ["2026-11-02", "2026-11-09", "2026-11-23"]
    assert out["vintages"].tolist() == [3, 1, 1]
    assert out["run_id"].tolist() == ["r2", "r2", "r1"]  # f4 (r2) is the week's latest publication
