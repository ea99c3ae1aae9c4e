"""The backtest figure MLflow logs per model: legend, fold cutoffs, units, date axis, worst first."""

from __future__ import annotations

import pandas as pd

from capplan.reporting.plots import draw_backtest


def _backtest() -> pd.DataFrame:
    parts = []
    for uid in ("web:cpu", "db:memory", "api:rps"):
        for cutoff in pd.to_datetime(["2025-01-01 05:00", "2025-01-01 09:00", "2025-01-01 13:00"]):
            ds = pd.date_range(cutoff + pd.Timedelta(hours=1), periods=4, freq="h")
            for model, shift in (("lightgbm", 0.0), ("seasonal_naive", 0.3)):
                parts.append(
                    pd.DataFrame(
                        {
                            "unique_id": uid,
                            "model": model,
                            "cutoff": cutoff,
                            "ds": ds,
                            "y": 1.0,
                            "p10": 0.5 + shift,
                            "p50": 1.0 + shift,
                            "p90": 1.5 + shift,
                        }
                    )  # fmt: skip
                )
    return pd.concat(parts, ignore_index=True)


def test_panels_have_a_legend_cutoffs_units_and_a_date_axis():
    units = {"db:memory": "GiB", "api:rps": "requests/s"}
    fig = draw_backtest(_backtest(), "lightgbm", n_series=2, units=units, scores={"web:cpu": 1.25})
    axes = fig.axes
    assert len(axes) == 2  # the first two series in the frame's order (the caller sorts worst first)
    first, second = axes
    labels = first.get_legend_handles_labels()[1]
    assert labels == [
        "actual",
        "lightgbm p50",
        "lightgbm p10–p90 interval",
        "seasonal_naive p50",
        "fold cutoff",
    ]
    assert [t.get_text() for t in first.get_legend().get_texts()] == labels
    cutoffs = [line for line in first.get_lines() if line.get_gid() == "cutoff"]
    assert len(cutoffs) == 3  # one vertical line per fold
    assert [t.get_text() for t in first.texts] == ["fold 1", "fold 2", "fold 3"]
    assert first.get_ylabel() == "value"  # web:cpu has no unit given
    assert second.get_ylabel() == "GiB"
    assert first.get_xlabel() == "time (UTC)"
    assert first.get_title(loc="left") == "lightgbm: web:cpu (backtest MASE 1.25)"
    assert second.get_title(loc="left") == "lightgbm: db:memory"
    fig.canvas.draw()
    ticks = [t.get_text() for t in first.get_xticklabels() if t.get_text()]
    assert any(":" in t for t in ticks)  # dates with hours, not raw numbers


def test_a_frame_without_a_model_column_is_the_one_model():
    bt = _backtest()
    bt = bt[bt["model"] == "lightgbm"].drop(columns="model")
    fig = draw_backtest(bt, "theta", n_series=1)
    assert fig.axes[0].get_legend_handles_labels()[1] == [
        "actual",
        "theta p50",
        "theta p10–p90 interval",
        "fold cutoff",
    ]
