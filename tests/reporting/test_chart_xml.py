"""The workbook's chart XML, parsed: date axes for time, a title on every axis, the fans' demand,
usable capacity, required capacity and max_instances cap series and "now" marker, and the cost
chart's "now" and partial-month labels. No spreadsheet program needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pandas as pd
from reporting_bundle import PERIODS, make_bundle, zip_texts

from capplan.reporting import export_bundle

NS = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
      "a": "http://schemas.openxmlformats.org/drawingml/2006/main"}  # fmt: skip
AXES = ("c:catAx", "c:valAx", "c:dateAx", "c:serAx")


def _charts(tmp_path, bundle=None) -> list[ET.Element]:
    out = export_bundle(bundle or make_bundle(), tmp_path, formats=("xlsx",))
    texts = zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    assert texts
    return [ET.fromstring(x) for x in texts.values()]


def _series_names(chart: ET.Element) -> list[str]:
    return [v.text for v in chart.findall(".//c:ser/c:tx//c:v", NS)]


def _axis_title(axis: ET.Element) -> str:
    title = axis.find("c:title", NS)
    assert title is not None, f"{axis.tag} has no title"
    return "".join(t.text or "" for t in title.iter(f"{{{NS['a']}}}t"))


def test_every_axis_has_a_title_and_time_runs_on_a_date_axis(tmp_path):
    charts = _charts(tmp_path)
    assert len(charts) == 4  # cost + three fans
    for chart in charts:
        axes = [ax for name in AXES for ax in chart.findall(f".//c:plotArea/{name}", NS)]
        assert len(axes) == 2
        assert all(_axis_title(ax).strip() for ax in axes)
        assert chart.find(".//c:plotArea/c:dateAx", NS) is not None  # every chart here is over time
        assert chart.find(".//c:plotArea/c:catAx", NS) is None
    titles = {_axis_title(ax) for chart in charts for ax in chart.findall(".//c:plotArea/c:valAx", NS)}
    assert "monthly cost ($, 730 h at the month's peak)" in titles
    assert "cpu" in titles or any(t.startswith("cpu") for t in titles)


def test_fans_draw_demand_capacity_lines_and_now(tmp_path):
    fans = [c for c in _charts(tmp_path) if c.find(".//c:lineChart", NS) is not None]
    assert len(fans) == 3
    for fan in fans:
        names = _series_names(fan)
        assert "planned demand (expected scenario)" in names
        assert {"usable capacity", "required capacity", "max_instances cap", "now"} <= set(names)
        now = fan.findall(".//c:ser", NS)[names.index("now")]
        bar = now.find("c:errBars", NS)  # the marker's error bar is the vertical "now" line
        assert bar.find("c:errBarType", NS).get("val") == "minus"
        assert bar.find("c:val", NS).get("val") == "100"


def test_cost_chart_labels_now_and_partial_months(tmp_path):
    totals = pd.DataFrame(
        {
            "scenario": ["expected", "peak", "expected", "peak"],
            "period": [PERIODS[0], PERIODS[0], PERIODS[1], PERIODS[1]],
            "monthly_cost": [100.0, 120.0, 300.0, 360.0],
            "days_planned": [12, 12, 3, 3],  # January from the 20th, February's first 3 days
        }
    )
    charts = _charts(tmp_path, replace(make_bundle(), totals=totals))
    cost = next(c for c in charts if c.find(".//c:barChart", NS) is not None)
    labels = {
        int(lbl.find("c:idx", NS).get("val")): "".join(t.text for t in lbl.iter(f"{{{NS['a']}}}t"))
        for lbl in cost.findall(".//c:ser/c:dLbls/c:dLbl", NS)
        if lbl.find("c:delete", NS) is None
    }
    assert labels == {0: "now · 12 of 31 days", 1: "3 of 28 days"}
    assert _series_names(cost) == ["expected", "peak"]
    date_axis = cost.find(".//c:plotArea/c:dateAx", NS)
    assert date_axis.find("c:majorTimeUnit", NS).get("val") == "months"


def test_planned_capacity_is_demand_plus_headroom_and_the_cap_per_instance():
    from capplan.reporting.fans import CAP, REQUIRED, planned_capacity

    ds = pd.to_datetime(["2026-03-01", "2026-03-02"])
    plan = pd.DataFrame(
        {
            "service": "web", "resource": "cpu", "scenario": ["expected", "expected", "peak", "peak"],
            "ds": [*ds, *ds], "demand": [10.0, 20.0, 99.0, 99.0], "usable_capacity": 14.0,
            "instances": [4.0, 0.0, 4.0, 4.0], "max_instances": 8.0,
        }
    )  # fmt: skip
    fc = pd.DataFrame(
        {"service": "web", "resource": ["cpu", "cpu", "cpu", "memory"],
         "ds": pd.to_datetime(["2026-03-01 05:00", "2026-03-02 01:00", "2026-03-05 00:00", "2026-03-01 00:00"])}
    )  # fmt: skip
    out = planned_capacity(fc, plan, "expected", headroom=0.25)
    # required: demand x 1.25; cap: 14 / 4 = 3.5 per instance x 8; no instances on the 2nd: unknown;
    # after the plan's last period, or for a resource it does not plan: unknown
    assert out[REQUIRED][:2].tolist() == [12.5, 25.0] and all(pd.isna(out[REQUIRED][2:]))
    assert out[CAP][0] == 28.0 and all(pd.isna(out[CAP][1:]))
