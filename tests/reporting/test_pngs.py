"""PNG charts next to the workbook: written with the workbook, valid PNGs, units on every axis,
a "now" line, uplift (event) labels, the cost chart's "now" and partial months."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from reporting_bundle import PERIODS, make_bundle

from capplan.reporting import export_bundle
from capplan.reporting.fans import Fan
from capplan.reporting.plots import runway_figure
from capplan.reporting.pngs import cost_figure, fan_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_pngs_are_written_next_to_the_workbook(exported):
    _, out = exported
    names = sorted(p.name for p in out["png"])
    assert names == ["capplan_cost.png", "capplan_fan_1.png", "capplan_fan_2.png", "capplan_fan_3.png",
                     "capplan_runway.png"]  # fmt: skip
    for path in out["png"]:
        assert path.parent == out["xlsx"].parent
        body = path.read_bytes()
        assert body.startswith(PNG_SIGNATURE) and len(body) > 5_000


def test_an_export_with_fewer_fans_leaves_no_stale_fan(tmp_path):
    export_bundle(make_bundle(), tmp_path, formats=("xlsx",))
    out = export_bundle(make_bundle(), tmp_path, formats=("xlsx",), max_charts=1)
    assert sorted(p.name for p in tmp_path.glob("capplan_fan_*.png")) == ["capplan_fan_1.png"]
    assert len(out["png"]) == 3
    assert "png" not in export_bundle(make_bundle(), tmp_path / "csv_only", formats=("csv",))


def _fan() -> Fan:
    ts = pd.date_range("2026-03-01", periods=96, freq="h")
    mid = pd.Series(np.r_[np.full(48, np.nan), np.full(24, 10.0), np.full(24, 12.0)])
    planned = mid * np.where(ts.hour == 12, 2.0, 1.0)  # an event at noon each forecast day: x2 its peak
    frame = pd.DataFrame(
        {"ts": ts, "actual": np.r_[np.full(48, 9.0), np.full(48, np.nan)], "p10": mid - 1, "p50": mid,
         "p90": mid + 1, "capacity": 14.0, "planned_demand": planned, "required_capacity": 16.0,
         "max_instances_capacity": 20.0}
    )  # fmt: skip
    return Fan("web", "rps", "web · rps", frame, "p10", "p50", "p90", "capacity", "actual",
               "planned_demand", "req/s", "required_capacity", "max_instances_capacity")  # fmt: skip


def test_fan_figure_has_units_date_axis_now_and_event_labels():
    fig = fan_figure(_fan())
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (UTC)" and ax.get_ylabel() == "rps (req/s)"
    assert "Date" in type(ax.xaxis.get_major_formatter()).__name__  # a date axis
    texts = _texts(fig)
    assert "now" in texts and texts.count("uplift ×2.0") == 2  # the two forecast days' events
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    for line in (
        "planned demand (expected scenario)",
        "usable capacity",
        "required capacity",
        "max_instances cap",
    ):
        assert line in legend
    assert not any(t.strip().lower() in ("nan", "inf") for t in texts)


def test_cost_and_runway_figures_have_units_now_and_partial_months():
    totals = pd.DataFrame(
        {"scenario": ["expected", "peak"] * 2, "period": [PERIODS[0]] * 2 + [PERIODS[1]] * 2,
         "monthly_cost": [100.0, 120.0, 300.0, 360.0], "days_planned": [12, 12, 3, 3]}
    )  # fmt: skip
    fig = cost_figure(totals)
    ax = fig.axes[0]
    assert ax.get_ylabel() == r"monthly cost (\$/month)" and ax.get_xlabel() == "month"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["2025-01\nnow (12 of 31 days)", "2025-02\n(3 of 28 days)"]
    runway = replace(make_bundle()).runway
    ax = runway_figure(runway[runway["scenario"] == "expected"], title="t").axes[0]
    assert "days" in ax.get_xlabel() and "now" in ax.get_xlabel() and ax.get_ylabel() == "service / resource"
