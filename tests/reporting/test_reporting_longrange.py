"""The long-range plan in the workbook and report: Purchase plan sheet after Summary, the chart's XML."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import openpyxl
import pandas as pd
from reporting_bundle import EVIL, EXPECTED, SHEETS, make_bundle, sheet, zip_texts

from capplan.reporting import export_bundle
from capplan.reporting.longrange import chart_frames, purchase_totals

WEEKS = pd.date_range("2026-11-16", periods=20, freq="7D")


def _long_range() -> pd.DataFrame:
    parts = []
    for service, slope in (("api", 0.5), (EVIL, 2.0), ("calm", 0.0)):
        d = 10.0 + slope * np.arange(len(WEEKS))
        parts.append(
            pd.DataFrame({"service": service, "resource": "cpu", "scenario": EXPECTED, "ds": WEEKS,
                          "model": "trend+seasonal (robust log-linear)", "demand": d, "demand_low": d * 0.9,
                          "demand_high": d * 1.1, "unit": "cores", "usable_capacity": 20.0, "instances": 4.0,
                          "max_instances": 8.0, "instances_required": 4.0, "instances_uncapped": 4.0})
        )  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _purchase() -> pd.DataFrame:
    periods = pd.to_datetime(["2026-11-01", "2026-12-01", "2027-01-01"])
    return pd.DataFrame({"scenario": EXPECTED, "period": list(periods) * 2, "service": ["api"] * 3 + [EVIL] * 3,
                         "binding_resource": "cpu", "instances": 4.0, "instances_needed": [4.0, 5, 5, 4, 6, 7],
                         "instances_to_add": [0.0, 1, 0, 0, 2, 1], "max_instances": 8.0,
                         "order_by_date": pd.to_datetime([None, "2026-10-17", None, None, "2026-10-20", "2026-11-18"]),
                         "lead_time_days": 45.0, "monthly_cost_change": [0.0, 730, 730, 0, 1460, 2190]})  # fmt: skip


def test_the_most_urgent_series_are_charted_first():
    frames = chart_frames(_long_range(), EXPECTED)
    assert len(frames) == 2  # "calm" is neither short nor the busiest
    assert frames[0][0].startswith(f"Long range: {EVIL} / cpu") and frames[1][0].startswith(
        "Long range: api / cpu"
    )
    assert len(frames) == 2  # "calm" is neither short nor the busiest
    _, y_title, f = frames[0]
    assert y_title == "cpu (cores)" and f["max_capacity"].tolist() == [40.0] * len(WEEKS)  # 20 / 4 x 8


def test_purchase_totals_per_scenario_and_month():
    t = purchase_totals(_purchase())
    assert t["instances_to_add"].tolist() == [0.0, 3.0, 1.0]
    assert t["monthly_cost_change"].tolist() == [0.0, 2190.0, 2920.0]


def test_purchase_plan_sheet_follows_summary_and_the_long_range_chart_has_a_date_axis(tmp_path):
    bundle = replace(make_bundle(), purchase_plan=_purchase(), long_range=_long_range())
    out = export_bundle(bundle, tmp_path)
    wb = openpyxl.load_workbook(out["xlsx"])
    assert wb.sheetnames == [*SHEETS[:2], "Purchase plan", *SHEETS[2:]]
    header, rows = sheet(wb["Purchase plan"])
    assert header[:5] == ["scenario", "period", "service", "instances_to_add", "instances_needed"]
    assert len(rows) == 6 and rows[4][2] == EVIL  # text stays text
    charts = zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    long_range = [
        x for x in charts.values() if "capacity at max_instances" in x or "dateAx" in x and "date (UTC)" in x
    ]
    assert len(long_range) == 2
    for xml in long_range:
        assert "<c:dateAx>" in xml and "date (UTC)" in xml and "cpu (cores)" in xml
    chart_data = zip_texts(out["xlsx"], r"xl/sharedStrings\.xml")["xl/sharedStrings.xml"]
    for name in ("demand (peak)", "usable capacity", "capacity at max_instances", "demand, high"):
        assert name in chart_data
    html = out["html"].read_text(encoding="utf-8")
    assert 'id="purchase"' in html and "Purchase plan by month" in html
    assert html.count("data:image/png") == make_bundle_pngs(tmp_path) + 2  # two long-range charts


def make_bundle_pngs(tmp_path) -> int:
    out = export_bundle(make_bundle(), tmp_path / "plain", formats=("html",))
    return out["html"].read_text(encoding="utf-8").count("data:image/png")
