"""The workbook read back with openpyxl: sheets, values, formats, native charts, no formulas."""

from __future__ import annotations

import re
from dataclasses import replace

import openpyxl
import pandas as pd
import pytest
from reporting_bundle import (
    EVIL,
    PERIODS,
    SCENARIOS,
    SCRIPT,
    SHEETS,
    expected_cell,
    make_bundle,
    sheet,
    zip_texts,
)

from capplan.core.errors import CapplanError
from capplan.reporting import export_bundle, write_xlsx
from capplan.reporting.specs import OPTIONAL, TABLES, present

# ---------------------------------------------------------------------------------------------
# Files and workbook structure
# ---------------------------------------------------------------------------------------------


def test_export_writes_every_format(exported, tmp_path):
    _, out = exported
    assert out["xlsx"].name == "capplan_plan.xlsx" and out["xlsx"].stat().st_size > 0
    assert out["html"].name == "capplan_report.html"
    names = sorted(p.name for p in out["csv"])
    assert names == sorted(f"{s.field}.csv" for s in TABLES if present(make_bundle(), s.field))
    assert "totals.csv" not in names  # totals feed the charts; they are not a table of their own
    assert all(p.parent.name == "csv" for p in out["csv"])
    only_csv = export_bundle(make_bundle(), tmp_path, formats=("csv",))
    assert set(only_csv) == {"csv"} and not (tmp_path / "capplan_plan.xlsx").exists()


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(CapplanError, match="pdf"):
        export_bundle(make_bundle(), tmp_path, formats=("xlsx", "pdf"))


def test_sheets_headers_frozen_and_filtered(workbook):
    assert workbook.sheetnames == SHEETS
    header, _ = sheet(workbook["Scenarios"])
    assert header == [
        "service",
        "resource",
        "scenario",
        "period",
        "demand_peak",
        "unit",
        "usable_capacity",
        "instances",
        "instances_required",
        "instances_uncapped",
        "capped",
        "monthly_cost",
        "notes_extra",
    ]
    assert sheet(workbook["Right-sizing"])[0] == [
        "service",
        "instances",
        "instances_recommended",
        "binding_resource",
        "over_provisioned",
        "monthly_saving",
    ]
    assert sheet(workbook["Frontier"])[0] == ["quantile", "monthly_cost", "instances_required"]
    assert sheet(workbook["Forecasts"])[0][:4] == ["service", "metric", "ts", "model"]
    for name in SHEETS[:-1]:
        ws = workbook[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:"), name


def test_runway_sheet_uses_its_own_column_order(workbook):
    header, _ = sheet(workbook["Runway"])
    assert header == [
        "service",
        "resource",
        "scenario",
        "status",
        "crossing",
        "crossing_earliest",
        "crossing_latest",
        "days_left",
        "days_left_min",
        "days_left_max",
        "horizon_days",  # not a known column: kept, after the known ones
    ]


@pytest.mark.parametrize(
    ("field", "sheet_name"),
    [
        (s.field, s.sheet)
        for s in TABLES
        if s.sheet and s.field != "summary" and s.field not in OPTIONAL  # optional: absent from make_bundle
    ],
)
def test_sheet_values_equal_bundle(exported, workbook, field, sheet_name):
    bundle, _ = exported
    frame = getattr(bundle, field)
    header, rows = sheet(workbook[sheet_name])
    assert sorted(header) == sorted(frame.columns)
    assert len(rows) == len(frame)
    for i, row in enumerate(rows):
        for column, got in zip(header, row, strict=True):
            assert got == expected_cell(frame[column].iloc[i], column), (sheet_name, i, column)


def test_summary_values_and_per_row_formats(workbook):
    ws = workbook["Summary"]
    header, rows = sheet(ws)
    assert header[:3] == ["metric", "value", "note"]
    assert [r[1] for r in rows] == [2, 12345, pytest.approx(0.42), "lgbm"]
    assert [ws.cell(row=r, column=2).number_format for r in (2, 3, 4)] == ["#,##0", "$#,##0", "0.0%"]


def test_number_formats(workbook):
    def fmt(sheet_name: str, column: str) -> str:
        ws = workbook[sheet_name]
        j = [c.value for c in ws[1]].index(column) + 1
        return ws.cell(row=2, column=j).number_format

    assert fmt("Scenarios", "monthly_cost") == "$#,##0"
    assert fmt("Scenarios", "period") == "yyyy-mm-dd"
    assert fmt("Scenarios", "demand_peak") == "0.00"
    assert fmt("Scenarios", "instances_required") == "#,##0"
    assert fmt("Scenarios", "instances_uncapped") == "#,##0"
    assert fmt("Runway", "crossing") == "yyyy-mm-dd hh:mm"  # 5.5 days -> not midnight
    assert fmt("Bottlenecks", "utilization_gap") == "0.0%"
    assert fmt("Accuracy", "coverage_p10_p90") == "0.0%"
    assert fmt("Accuracy", "mase") == "0.00"
    assert fmt("Forecasts", "ts") == "yyyy-mm-dd hh:mm"
    assert fmt("Right-sizing", "monthly_saving") == "$#,##0"
    assert fmt("Right-sizing", "instances_recommended") == "#,##0"
    assert fmt("Frontier", "instances_required") == "#,##0"


def test_column_widths_follow_content(workbook):
    ws = workbook["Alerts"]
    message = ws.column_dimensions["H"].width
    severity = ws.column_dimensions["A"].width
    assert message >= len("runs out in 20.0 days") and severity >= len("critical")
    assert ws.column_dimensions["B"].width >= len(EVIL)


def test_alert_severity_is_highlighted(workbook):
    flat = [
        (str(cf.sqref), formula)
        for cf in workbook["Alerts"].conditional_formatting
        for rule in cf.rules
        for formula in rule.formula
    ]
    assert ("A2:A4", '"critical"') in flat and ("A2:A4", '"warning"') in flat


def test_optional_sheets_only_when_given(tmp_path):
    scores = pd.DataFrame(
        {
            "service": ["api", "api"],
            "policy": ["reactive", "hybrid"],
            "winner": [False, True],
            "binding_resource": ["cpu", "cpu"],
            "under_provisioned_minutes": [120.0, 0.0],
            "peak_shortfall": [2.5, 0.0],
            "instance_hours": [100.0, 90.0],
            "cost": [50.0, 45.0],
            "mean_utilization": [0.55, 0.6],
            "scaling_actions": [30, 12],
            "steps": [168, 168],
        }
    )
    bundle = replace(
        make_bundle(),
        autoscaling=scores,
        schedule=pd.DataFrame(
            {
                "service": ["api"],
                "ds": PERIODS[:1],
                "instances_recommended": [4],
                "binding_resource": ["cpu"],
                "capped": [False],
            }
        ),
    )
    path = write_xlsx(bundle, tmp_path / "sub" / "plan.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [*SHEETS[:-1], "Scaling", "ChartData"]
    header, rows = sheet(wb["Scaling"])
    # the policies' scores side by side, one row each; a blank column; the 48-hour schedule
    n = len(scores.columns)
    assert header[:n] == list(scores.columns) and header[n] is None
    assert header[n + 1 :] == ["service", "ds", "instances_recommended", "binding_resource", "capped"]
    assert rows[1][:5] == ["api", "hybrid", True, "cpu", 0]
    assert rows[0][n + 1 :] == ["api", PERIODS[0].to_pydatetime(), 4, "cpu", False]
    assert rows[1][n + 1 :] == [None] * 5
    # a schedule without a replay (no service has a season of history yet) still gets the sheet
    only = write_xlsx(replace(bundle, autoscaling=None), tmp_path / "only.xlsx")
    header, rows = sheet(openpyxl.load_workbook(only)["Scaling"])
    assert rows[0][0] == "no rows" and rows[0][-5:] == ["api", PERIODS[0].to_pydatetime(), 4, "cpu", False]


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


def test_native_charts_reference_chart_data(exported):
    _, out = exported
    charts = zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    assert len(charts) == 1 + 3  # cost by scenario + a fan per service (3 services)
    kinds = sorted("barChart" if "<c:barChart>" in x else "lineChart" for x in charts.values())
    assert kinds == ["barChart", "lineChart", "lineChart", "lineChart"]
    for xml in charts.values():
        refs = re.findall(r"<c:f>(.*?)</c:f>", xml)
        assert refs and all(re.fullmatch(r"ChartData!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", f) for f in refs)
    # titles are references to the cell holding the name (the cached text is data, not a formula)
    assert any(f"<c:v>{EVIL} · cpu</c:v>" in xml for xml in charts.values())
    fan = next(x for x in charts.values() if "<c:lineChart>" in x)
    # actual, p10, p50, p90, usable capacity, planned demand, required capacity, max_instances cap, now
    assert fan.count("<c:ser>") == 9
    # the charts sit on Summary (sheet2, after Actions) through its drawing
    rels = zip_texts(out["xlsx"], r"xl/worksheets/_rels/sheet2\.xml\.rels")
    assert any("drawing" in x for x in rels.values())
    drawing = zip_texts(out["xlsx"], r"xl/drawings/_rels/drawing1\.xml\.rels")
    assert sum(x.count("charts/chart") for x in drawing.values()) == 4


def test_chart_data_holds_cost_pivot_and_fans_in_runway_order(workbook):
    values = [r for r in workbook["ChartData"].iter_rows(values_only=True)]
    titles = [r[0] for r in values if isinstance(r[0], str)]
    # fans in runway order (expected scenario): EVIL (0 days), SCRIPT (20), api (40)
    assert [t for t in titles if " · " in t] == [f"{EVIL} · cpu", f"{SCRIPT} · cpu", "api · cpu"]
    start = next(i for i, r in enumerate(values) if r[0] == "period")
    assert list(values[start][:4]) == ["period", *SCENARIOS]
    jan = values[start + 1]
    # expected, January: max over resources per service of required instances: api max(4, 5),
    # SCRIPT max(6, 2), EVIL max(3, 4) -> 15 instances at 730 a month each
    assert jan[0] == PERIODS[0].to_pydatetime() and jan[2] == pytest.approx(15 * 730.0)


def test_cost_chart_draws_the_totals_as_given_in_their_scenario_order(tmp_path):
    totals = pd.DataFrame(
        {
            "scenario": ["high", "low", "high", "low"],
            "period": [PERIODS[0], PERIODS[0], PERIODS[1], PERIODS[1]],
            "monthly_cost": [111.0, 22.0, 333.0, 44.0],
            "instances_required": [3, 1, 5, 2],
            "instances": [2, 2, 2, 2],
            "days_planned": [31, 31, 3, 3],
        }
    )
    out = export_bundle(replace(make_bundle(), totals=totals), tmp_path, formats=("xlsx",))
    values = list(openpyxl.load_workbook(out["xlsx"])["ChartData"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(values) if r[0] == "period")
    assert list(values[start][:3]) == ["period", "high", "low"]
    assert [list(values[start + k][1:3]) for k in (1, 2)] == [[111.0, 22.0], [333.0, 44.0]]


def test_no_totals_no_cost_chart(tmp_path):
    out = export_bundle(replace(make_bundle(), totals=None), tmp_path, formats=("xlsx",))
    charts = zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    assert len(charts) == 3 and all("<c:lineChart>" in x for x in charts.values())


def test_fans_follow_the_bundles_expected_scenario(tmp_path):
    bundle = make_bundle()
    # in "conservative": api 1 day, SCRIPT 20, EVIL 100 (in "expected" EVIL comes first)
    runway = bundle.runway.copy()
    conservative = runway["scenario"] == "conservative"
    runway.loc[conservative & (runway["service"] == "api") & (runway["resource"] == "cpu"), "days_left"] = 1.0
    runway.loc[conservative & (runway["service"] == EVIL), "days_left"] = 100.0
    bundle = replace(bundle, runway=runway, expected_scenario="conservative")
    out = export_bundle(bundle, tmp_path, formats=("xlsx",))
    values = list(openpyxl.load_workbook(out["xlsx"])["ChartData"].iter_rows(values_only=True))
    fans = [r[0] for r in values if isinstance(r[0], str) and " · " in r[0]]
    assert fans == ["api · cpu", f"{SCRIPT} · cpu", f"{EVIL} · cpu"]


def test_max_charts_limits_fans(tmp_path):
    out = export_bundle(make_bundle(), tmp_path, formats=("xlsx",), max_charts=1)
    assert len(zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")) == 2


# ---------------------------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------------------------


def test_malicious_names_stay_text_in_xlsx(exported, workbook):
    ws = workbook["Scenarios"]
    cells = [row[0] for row in ws.iter_rows(min_row=2)]
    evil = [c for c in cells if c.value == EVIL]
    assert len(evil) == 12 and all(c.data_type == "s" for c in evil)
    alerts = workbook["Alerts"]
    assert alerts["H4"].value == "+MASE 1.25" and alerts["H4"].data_type == "s"
    assert workbook["Assumptions"]["B3"].value == "@lgbm"
    sheets = zip_texts(exported[1]["xlsx"], r"xl/worksheets/sheet\d+\.xml")
    assert sheets and all("<f>" not in x and "<f " not in x for x in sheets.values())
    assert not zip_texts(
        exported[1]["xlsx"], r"xl/worksheets/_rels/sheet([13-9]|\d\d+)\.xml\.rels"
    )  # no links


def _anchors(xlsx) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """Each chart's (from, to) as (col, col offset, row, row offset) from the drawing XML."""
    out = []
    for xml in zip_texts(xlsx, r"xl/drawings/drawing\d+\.xml").values():
        for frm, to in re.findall(r"<xdr:from>(.*?)</xdr:from>\s*<xdr:to>(.*?)</xdr:to>", xml, re.S):

            def pos(x):
                return tuple(int(re.search(f"<xdr:{t}>(\\d+)</xdr:{t}>", x).group(1))
                             for t in ("col", "colOff", "row", "rowOff"))  # fmt: skip

            out.append((pos(frm), pos(to)))
    return out


def test_workbook_says_what_to_do_first_charts_apart_chart_data_hidden(exported):
    _, out = exported
    wb = openpyxl.load_workbook(out["xlsx"])
    assert wb.sheetnames[:2] == ["Actions", "Summary"]
    header, rows = sheet(wb["Actions"])
    assert header[:4] == ["rank", "service", "action", "by_date"]
    by, count = header.index("by_date"), header.index("instances_recommended")
    assert rows and all(r[by] is not None and r[count] is not None for r in rows)
    assert all(hasattr(r[by], "year") and isinstance(r[count], (int, float)) for r in rows)
    assert wb["ChartData"].sheet_state == "hidden"
    for name in ("Actions", "Summary", "Runway"):
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
        tall = (None, 1) if name == "Summary" else (0,)  # the Summary on one page, others one page wide
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight in tall  # 1: the default
    # nothing a person reads shows inf or nan
    for ws in wb.worksheets:
        if ws.sheet_state == "hidden":
            continue
        for row in ws.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and v.strip().lower() in ("inf", "-inf", "nan") for v in row), (
                ws.title
            )
    # charts do not overlap: each pair is apart horizontally or vertically
    boxes = _anchors(out["xlsx"])
    assert len(boxes) >= 3
    for i, (a_from, a_to) in enumerate(boxes):
        for b_from, b_to in boxes[i + 1 :]:
            h = a_to[:2] <= b_from[:2] or b_to[:2] <= a_from[:2]
            v = a_to[2:] <= b_from[2:] or b_to[2:] <= a_from[2:]
            assert h or v, (a_from, a_to, b_from, b_to)
    # axis titles with units
    charts = "".join(zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml").values())
    assert "monthly cost ($" in charts and "day (UTC" in charts
