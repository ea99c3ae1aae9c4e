"""Exports: workbook read back with openpyxl, CSV injection, self-contained escaped HTML."""

from __future__ import annotations

import base64
import csv
import html
import math
import re
import subprocess
import sys
import zipfile
from itertools import product
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from capplan.pipelines import plots
from capplan.pipelines.export import (
    NO_ROWS,
    TABLES,
    PlanBundle,
    constrained,
    export_bundle,
    fan_columns,
    neutralise_csv,
    scenario_totals,
)

EVIL = '=HYPERLINK("http://x","y")'
SCRIPT = "<script>alert(1)</script>"
SERVICES = ("api", SCRIPT, EVIL)
RESOURCES = ("cpu", "memory")
SCENARIOS = ("conservative", "expected", "aggressive")
PERIODS = pd.to_datetime(["2025-01-01", "2025-02-01"])
SHEETS = [
    "Summary",
    "Scenarios",
    "Runway",
    "Bottlenecks",
    "Right-sizing",
    "Frontier",
    "Forecasts",
    "Accuracy",
    "Alerts",
    "Assumptions",
    "ChartData",
]
# days left in the expected scenario: EVIL shortest, then SCRIPT, then api (memory never short)
DAYS = {("api", "cpu"): 40.0, ("api", "memory"): math.inf, (SCRIPT, "cpu"): 20.0, (SCRIPT, "memory"): 90.0}
DAYS |= {(EVIL, "cpu"): 0.0, (EVIL, "memory"): 5.5}


def _plan() -> pd.DataFrame:
    rows = []
    for i, (svc, res, scen, period) in enumerate(product(SERVICES, RESOURCES, SCENARIOS, PERIODS)):
        req = 2 + i % 5
        rows.append(
            {
                "service": svc,
                "resource": res,
                "scenario": scen,
                "period": period,
                "demand_peak": 10.25 + i,
                "unit": "cores" if res == "cpu" else "GiB",
                "usable_capacity": 32.0,
                "instances": 3,
                "required_instances": req,
                "capped": i % 7 == 0,
                "monthly_cost": 730.0 * req,
                "notes_extra": f"row {i}",  # a column the exporter does not know
            }
        )
    return pd.DataFrame(rows)


def _runway() -> pd.DataFrame:
    rows = []
    as_of = pd.Timestamp("2025-01-01")
    for (svc, res), scen in product(DAYS, SCENARIOS):
        days = DAYS[(svc, res)] * (0.5 if scen == "aggressive" else 1.0)
        crossing = pd.NaT if math.isinf(days) else as_of + pd.Timedelta(days=days)
        status = (
            "already_short" if days == 0 else ("not_within_horizon" if math.isinf(days) else "within_horizon")
        )
        rows.append(
            {
                "service": svc,
                "resource": res,
                "scenario": scen,
                "status": status,
                "crossing": crossing,
                "crossing_earliest": crossing - pd.Timedelta(days=min(days, 2))
                if pd.notna(crossing)
                else pd.NaT,
                "crossing_latest": crossing + pd.Timedelta(days=3) if pd.notna(crossing) else pd.NaT,
                "days_left": days,
                "days_left_min": max(days - 2, 0.0),
                "days_left_max": days + 3,
                "horizon_days": 120.0,
            }
        )
    return pd.DataFrame(rows)


def _forecasts() -> pd.DataFrame:
    ts = pd.date_range("2025-01-01", periods=6, freq="h")
    rows = []
    for svc, metric in product(SERVICES, RESOURCES):
        for k, t in enumerate(ts):
            mid = 10.0 + k
            rows.append(
                {
                    "service": svc,
                    "metric": metric,
                    "ts": t,
                    "model": "lgbm",
                    "p10": mid - 1.5,
                    "p50": mid,
                    "p90": mid + 1.5,
                    "p99": mid + 3.0,
                    "capacity": 14.0,
                    "region": "eu",
                }
            )
    return pd.DataFrame(rows)


def _history() -> pd.DataFrame:
    ts = pd.date_range("2024-12-31 20:00", periods=4, freq="h")
    return pd.DataFrame(
        [
            {"service": s, "metric": m, "ts": t, "y": 9.0 + j}
            for s, m in product(SERVICES, RESOURCES)
            for j, t in enumerate(ts)
        ]
    )


def make_bundle() -> PlanBundle:
    return PlanBundle(
        summary=pd.DataFrame(
            {
                "metric": [
                    "services short within 30 days",
                    "monthly cost expected",
                    "mean utilization",
                    "champion",
                ],
                "value": [2, 12345.0, 0.42, "lgbm"],
                "note": ["expected scenario", "", "", SCRIPT],
            }
        ),
        plan=_plan(),
        runway=_runway(),
        bottlenecks=pd.DataFrame(
            {
                "service": ["api", "api", EVIL],
                "scenario": ["expected"] * 3,
                "resource": ["cpu", "memory", "cpu"],
                "rank": [1, 2, 1],
                "binding": [True, False, True],
                "basis": ["runway", "runway", "runway"],
                "lag_days": [0.0, 12.5, 0.0],
                "utilization_gap": [0.0, -0.035, 0.125],
            }
        ),
        rightsizing=pd.DataFrame(
            {
                "service": ["api", EVIL],
                "current_instances": [6, 3],
                "recommended_instances": [4, 3],
                "limiting_resource": ["cpu", "memory"],
                "over_provisioned": [True, False],
                "monthly_saving": [1460.0, 0.0],
            }
        ),
        forecasts=_forecasts(),
        accuracy=pd.DataFrame(
            {
                "service": ["api", EVIL],
                "metric": ["cpu", "cpu"],
                "model": ["lgbm", "lgbm"],
                "mase": [0.8123, 1.25],
                "smape": [12.5, 30.0],
                "coverage_p10_p90": [0.78, 0.91],
            }
        ),
        alerts=pd.DataFrame(
            {
                "severity": ["critical", "warning", "info"],
                "service": [EVIL, SCRIPT, "api"],
                "resource": ["cpu", "cpu", "cpu"],
                "scenario": ["expected", "expected", "all"],
                "kind": ["runway_short", "runway_short", "low_confidence"],
                "message": ["already short", "runs out in 20.0 days", "+MASE 1.25"],
            }
        ),
        frontier=pd.DataFrame(
            {"quantile": [0.5, 0.9], "monthly_cost": [8760.0, 10220.0], "instances": [12, 14]}
        ),
        assumptions=pd.DataFrame({"key": ["headroom", "champion api:cpu"], "value": ["0.1", "@lgbm"]}),
        history=_history(),
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[PlanBundle, dict]:
    bundle = make_bundle()
    out = export_bundle(bundle, tmp_path_factory.mktemp("export"))
    return bundle, out


@pytest.fixture(scope="module")
def workbook(exported):
    return openpyxl.load_workbook(exported[1]["xlsx"])


def _sheet(ws) -> tuple[list, list[list]]:
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def _expected_cell(value, column: str):
    """What openpyxl should read back for a bundle value."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "beyond horizon" if column.startswith("days_left") else str(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.number)):
        return pytest.approx(float(value))
    return value


# ---------------------------------------------------------------------------------------------
# Files and workbook structure
# ---------------------------------------------------------------------------------------------


def test_export_writes_every_format(exported, tmp_path):
    _, out = exported
    assert out["xlsx"].name == "capplan_plan.xlsx" and out["xlsx"].stat().st_size > 0
    assert out["html"].name == "capplan_report.html"
    names = sorted(p.name for p in out["csv"])
    assert names == sorted(f"{s.field}.csv" for s in TABLES if s.field not in ("autoscaling", "schedule"))
    assert all(p.parent.name == "csv" for p in out["csv"])
    only_csv = export_bundle(make_bundle(), tmp_path, formats=("csv",))
    assert set(only_csv) == {"csv"} and not (tmp_path / "capplan_plan.xlsx").exists()


def test_unknown_format_is_refused(tmp_path):
    from capplan.core.errors import CapplanError

    with pytest.raises(CapplanError, match="pdf"):
        export_bundle(make_bundle(), tmp_path, formats=("xlsx", "pdf"))


def test_sheets_headers_frozen_and_filtered(workbook):
    assert workbook.sheetnames == SHEETS
    header, _ = _sheet(workbook["Scenarios"])
    assert header == [
        "service",
        "resource",
        "scenario",
        "period",
        "demand_peak",
        "unit",
        "usable_capacity",
        "instances",
        "required_instances",
        "capped",
        "monthly_cost",
        "notes_extra",
    ]
    assert _sheet(workbook["Forecasts"])[0][:4] == ["service", "metric", "ts", "model"]
    for name in SHEETS[:-1]:
        ws = workbook[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:"), name


@pytest.mark.parametrize(
    ("field", "sheet"),
    [(s.field, s.sheet) for s in TABLES if s.sheet and s.field not in ("summary", "autoscaling", "schedule")],
)
def test_sheet_values_equal_bundle(exported, workbook, field, sheet):
    bundle, _ = exported
    frame = getattr(bundle, field)
    header, rows = _sheet(workbook[sheet])
    assert sorted(header) == sorted(frame.columns)
    assert len(rows) == len(frame)
    for i, row in enumerate(rows):
        for column, got in zip(header, row, strict=True):
            assert got == _expected_cell(frame[column].iloc[i], column), (sheet, i, column)


def test_summary_values_and_per_row_formats(workbook):
    ws = workbook["Summary"]
    header, rows = _sheet(ws)
    assert header[:3] == ["metric", "value", "note"]
    assert [r[1] for r in rows] == [2, 12345, pytest.approx(0.42), "lgbm"]
    assert [ws.cell(row=r, column=2).number_format for r in (2, 3, 4)] == ["#,##0", "$#,##0", "0.0%"]


def test_number_formats(workbook):
    def fmt(sheet: str, column: str) -> str:
        ws = workbook[sheet]
        j = [c.value for c in ws[1]].index(column) + 1
        return ws.cell(row=2, column=j).number_format

    assert fmt("Scenarios", "monthly_cost") == "$#,##0"
    assert fmt("Scenarios", "period") == "yyyy-mm-dd"
    assert fmt("Scenarios", "demand_peak") == "0.00"
    assert fmt("Scenarios", "required_instances") == "#,##0"
    assert fmt("Runway", "crossing") == "yyyy-mm-dd hh:mm"  # 5.5 days -> not midnight
    assert fmt("Bottlenecks", "utilization_gap") == "0.0%"
    assert fmt("Accuracy", "coverage_p10_p90") == "0.0%"
    assert fmt("Accuracy", "mase") == "0.00"
    assert fmt("Forecasts", "ts") == "yyyy-mm-dd hh:mm"
    assert fmt("Right-sizing", "monthly_saving") == "$#,##0"


def test_column_widths_follow_content(workbook):
    ws = workbook["Alerts"]
    message = ws.column_dimensions["F"].width
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


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


def _zip_texts(path: Path, pattern: str) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if re.fullmatch(pattern, n)}


def test_native_charts_reference_chart_data(exported, workbook):
    _, out = exported
    charts = _zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    assert len(charts) == 1 + 3  # cost by scenario + a fan per service (3 services)
    kinds = sorted("barChart" if "<c:barChart>" in x else "lineChart" for x in charts.values())
    assert kinds == ["barChart", "lineChart", "lineChart", "lineChart"]
    for xml in charts.values():
        refs = re.findall(r"<c:f>(.*?)</c:f>", xml)
        assert refs and all(re.fullmatch(r"ChartData!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", f) for f in refs)
    # titles are references to the cell holding the name (the cached text is data, not a formula)
    assert any(f"<c:v>{EVIL} · cpu</c:v>" in xml for xml in charts.values())
    fan = next(x for x in charts.values() if "<c:lineChart>" in x)
    assert fan.count("<c:ser>") == 5  # actual, p10, p50, p90, capacity
    # the charts sit on Summary (sheet1) through its drawing
    rels = _zip_texts(out["xlsx"], r"xl/worksheets/_rels/sheet1\.xml\.rels")
    assert any("drawing" in x for x in rels.values())
    drawing = _zip_texts(out["xlsx"], r"xl/drawings/_rels/drawing1\.xml\.rels")
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


def test_max_charts_limits_fans(tmp_path):
    out = export_bundle(make_bundle(), tmp_path, formats=("xlsx",), max_charts=1)
    assert len(_zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")) == 2


# ---------------------------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------------------------


def test_malicious_names_stay_text_in_xlsx(exported, workbook):
    ws = workbook["Scenarios"]
    cells = [row[0] for row in ws.iter_rows(min_row=2)]
    evil = [c for c in cells if c.value == EVIL]
    assert len(evil) == 12 and all(c.data_type == "s" for c in evil)
    alerts = workbook["Alerts"]
    assert alerts["F4"].value == "+MASE 1.25" and alerts["F4"].data_type == "s"
    assert workbook["Assumptions"]["B3"].value == "@lgbm"
    sheets = _zip_texts(exported[1]["xlsx"], r"xl/worksheets/sheet\d+\.xml")
    assert sheets and all("<f>" not in x and "<f " not in x for x in sheets.values())
    assert not _zip_texts(
        exported[1]["xlsx"], r"xl/worksheets/_rels/sheet[2-9]\d*\.xml\.rels"
    )  # no hyperlinks


def test_csv_neutralises_formula_cells_and_keeps_numbers(exported):
    _, out = exported
    folder = out["csv"][0].parent
    with open(folder / "plan.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    services = {r["service"] for r in rows}
    assert services == {"api", SCRIPT, "'" + EVIL}
    with open(folder / "bottlenecks.csv", newline="", encoding="utf-8") as fh:
        gaps = [r["utilization_gap"] for r in csv.DictReader(fh)]
    assert gaps == ["0.0", "-0.035", "0.125"]
    with open(folder / "alerts.csv", newline="", encoding="utf-8") as fh:
        messages = [r["message"] for r in csv.DictReader(fh)]
    assert messages == ["already short", "runs out in 20.0 days", "'+MASE 1.25"]
    back = pd.read_csv(folder / "plan.csv")
    assert back["monthly_cost"].tolist() == _plan()["monthly_cost"].tolist()
    assert pd.to_datetime(back["period"]).tolist() == _plan()["period"].tolist()


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-3.5", "'-3.5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
        (-3.5, -3.5),
        (None, None),
    ],
)
def test_neutralise_csv(value, want):
    assert neutralise_csv(value) == want


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def test_html_is_self_contained_and_escaped(exported):
    text = exported[1]["html"].read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3 + 1 + 2  # fans, runway, cost + instances per scenario
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    assert not re.search(r'(src|href)="(https?:)?//', text) and "<link" not in text
    assert html.escape(EVIL) in text
    assert "$12,345" in text and "42.0%" in text and "beyond horizon" in text


# ---------------------------------------------------------------------------------------------
# Empty and partial tables
# ---------------------------------------------------------------------------------------------


def test_empty_tables_give_headers_and_note(tmp_path):
    bundle = PlanBundle(
        summary=pd.DataFrame(columns=["metric", "value", "note"]),
        plan=pd.DataFrame(),
        runway=pd.DataFrame(),
        bottlenecks=pd.DataFrame(),
        rightsizing=pd.DataFrame(),
        forecasts=pd.DataFrame(),
        accuracy=pd.DataFrame(),
        alerts=pd.DataFrame(columns=["severity", "service", "resource", "scenario", "kind", "message"]),
        frontier=pd.DataFrame(),
        assumptions=pd.DataFrame(),
    )
    out = export_bundle(bundle, tmp_path)
    wb = openpyxl.load_workbook(out["xlsx"])
    assert wb.sheetnames == SHEETS
    for spec in TABLES:
        if spec.sheet and spec.field not in ("autoscaling", "schedule"):  # optional: absent when None
            header, rows = _sheet(wb[spec.sheet])
            assert header == list(spec.columns), spec.sheet
            assert rows[0][0] == NO_ROWS
    assert not _zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    assert "history.csv" not in {p.name for p in out["csv"]}
    assert (tmp_path / "csv" / "plan.csv").read_text().strip() == ",".join(TABLES[1].columns)
    text = out["html"].read_text(encoding="utf-8")
    assert text.count(NO_ROWS) >= 9 and "data:image/png" not in text


def test_missing_optional_columns_are_skipped(tmp_path):
    bundle = make_bundle()
    bundle.plan = bundle.plan.drop(columns=["capped", "unit", "monthly_cost"])
    bundle.forecasts = bundle.forecasts.drop(columns=["capacity", "p99", "model"])
    bundle.runway = bundle.runway.drop(columns=["days_left_min", "days_left_max", "horizon_days"])
    bundle.history = None
    out = export_bundle(bundle, tmp_path)
    wb = openpyxl.load_workbook(out["xlsx"])
    assert "capped" not in _sheet(wb["Scenarios"])[0]
    charts = _zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    assert len(charts) == 3 and all(x.count("<c:ser>") == 3 for x in charts.values())  # p10, p50, p90
    assert out["html"].read_text(encoding="utf-8").count("data:image/png") == 3 + 1 + 1


# ---------------------------------------------------------------------------------------------
# Derived frames and figures
# ---------------------------------------------------------------------------------------------


def test_scenario_totals_count_each_service_once_per_period():
    plan = pd.DataFrame(
        {
            "service": ["a", "a", "b", "a", "a", "b"],
            "resource": ["cpu", "memory", "cpu"] * 2,
            "scenario": ["expected"] * 3 + ["aggressive"] * 3,
            "period": pd.to_datetime(["2025-01-01"] * 6),
            "instances": [3, 3, 2, 3, 3, 2],
            "required_instances": [4, 6, 2, 5, 7, 3],
            "monthly_cost": [400.0, 600.0, 200.0, 500.0, 700.0, 300.0],
        }
    )
    got = scenario_totals(plan).set_index("scenario")
    assert list(got.index) == ["expected", "aggressive"]
    assert got.loc["expected", "monthly_cost"] == 800.0  # max(400, 600) + 200
    assert got.loc["aggressive", "required_instances"] == 10  # max(5, 7) + 3
    assert got.loc["expected", "instances"] == 5
    assert scenario_totals(plan.drop(columns="period")).empty


def test_constrained_orders_by_expected_runway():
    runway = _runway()
    assert constrained(runway, _forecasts(), 2) == [(EVIL, "cpu"), (SCRIPT, "cpu")]
    assert constrained(pd.DataFrame(), _forecasts(), 2) == [("api", None), (SCRIPT, None)]


@pytest.mark.parametrize(
    ("cols", "want"),
    [
        (["p10", "p50", "p90", "p99"], ("p10", "p50", "p90")),
        (["p5", "p50", "p95", "capacity"], ("p5", "p50", "p95")),
        (["p2.5", "p40", "p97.5"], ("p2.5", "p40", "p97.5")),
        (["ts", "y"], None),
    ],
)
def test_fan_columns(cols, want):
    assert fan_columns(cols) == want


def test_plots_return_png_and_show_names_literally():
    assert plots.plain("cost $5 $x") == r"cost \$5 \$x" and plots.plain("_hidden") == " _hidden"
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2025-01-01", periods=4, freq="D"),
            "p10": [1.0] * 4,
            "p50": [2.0] * 4,
            "p90": [3.0] * 4,
        }
    )
    png = plots.fan_chart(frame, title="$\\frac{1}{0$ svc", lo="p10", mid="p50", hi="p90")
    assert png[:4] == b"\x89PNG"
    runway = pd.DataFrame(
        {"service": ["a$", "_b"], "resource": ["cpu", "memory"], "days_left": [3.0, math.inf]}
    )
    assert plots.runway_chart(runway, title="runway")[:4] == b"\x89PNG"


def test_import_is_light():
    code = (
        "import sys, capplan.pipelines.export; print(sorted({'matplotlib', 'xlsxwriter'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fan_charts_show_the_planned_demand_when_the_forecasts_carry_it(tmp_path):
    from dataclasses import replace

    bundle = make_bundle()
    fc = bundle.forecasts.copy()
    fc["planned_demand"] = np.where(fc["service"] == "api", 20.0, np.nan)
    out = export_bundle(replace(bundle, forecasts=fc), tmp_path, formats=("xlsx", "html"))
    charts = _zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    fans = [x for x in charts.values() if "<c:lineChart>" in x]
    # only api has a planned demand: its fan gets a sixth series, the others keep five
    assert sorted(x.count("<c:ser>") for x in fans) == [5, 5, 6]
    api = next(x for x in fans if x.count("<c:ser>") == 6)
    assert "<c:v>planned_demand</c:v>" in api
    wb = openpyxl.load_workbook(out["xlsx"])
    rows = list(wb["ChartData"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "api · cpu")
    header = list(rows[start + 1])
    j = header.index("planned_demand")
    planned = [r[j] for r in rows[start + 2 : start + 2 + 10] if r[0] is not None and r[j] is not None]
    assert planned and set(planned) == {20.0}
    assert wb["Forecasts"]["A1"].value == "service"
    assert "planned_demand" in [c.value for c in wb["Forecasts"][1]]


def test_planned_demand_maps_each_timestamp_to_its_plan_period():
    from capplan.pipelines.report import planned_demand

    plan = pd.DataFrame(
        {
            "service": ["api"] * 4 + ["db"] * 2,
            "resource": ["cpu"] * 4 + ["cpu"] * 2,
            "scenario": ["expected", "expected", "aggressive", "aggressive", "expected", "expected"],
            "ds": pd.to_datetime(["2025-01-01", "2025-01-02"] * 3),
            "demand": [10.0, 30.0, 99.0, 99.0, 5.0, 6.0],
        }
    )
    ts = pd.date_range("2024-12-31 23:00", "2025-01-03 05:00", freq="6h")
    fc = pd.DataFrame({"service": "api", "resource": "cpu", "ds": ts})
    fc = pd.concat([fc, pd.DataFrame({"service": ["web"], "resource": ["cpu"], "ds": [ts[2]]})])
    got = planned_demand(fc.reset_index(drop=True), plan, "expected")
    # before the plan: NaN; each day's hours take that day's demand; after the last day: NaN
    # (ts: 23:00 on Dec 31, then every 6 h up to 05:00 on Jan 3); web has no plan: NaN
    want = [np.nan] + [10.0] * 4 + [30.0] * 4 + [np.nan] + [np.nan]
    np.testing.assert_array_equal(got, np.array(want))


def test_fan_png_draws_the_planned_demand():
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2025-01-01", periods=4, freq="h"),
            "p10": [1.0, 1, 1, 1],
            "p50": [2.0, 2, 2, 2],
            "p90": [3.0, 3, 3, 3],
            "planned_demand": [2.5, 2.5, 9.0, 9.0],
        }
    )
    with_plan = plots.fan_chart(frame, title="x", lo="p10", mid="p50", hi="p90", planned="planned_demand")
    without = plots.fan_chart(frame, title="x", lo="p10", mid="p50", hi="p90")
    assert with_plan.startswith(b"\x89PNG") and with_plan != without


def test_monthly_plan_counts_the_days_each_month_covers_and_keeps_scenario_order():
    from capplan.pipelines.export import _partial_months
    from capplan.pipelines.report import monthly_plan

    ds = pd.date_range("2026-11-20", "2026-12-01", freq="D")
    plan = pd.concat(
        [
            pd.DataFrame(
                {
                    "service": "api",
                    "resource": "cpu",
                    "scenario": scenario,
                    "ds": ds,
                    "demand": np.arange(len(ds), dtype=float) * factor,
                    "unit": "cores",
                    "usable_capacity": 50.0,
                    "instances": 4,
                    "required_instances": 4 + np.arange(len(ds)) // 6,
                    "capped": False,
                    "cost_per_hour": 1.0 + np.arange(len(ds)) // 6,
                    "sizing_basis": "linear",
                }
            )
            for scenario, factor in (("expected", 1.0), ("aggressive", 2.0))
        ],
        ignore_index=True,
    )
    monthly = monthly_plan(plan)
    assert list(dict.fromkeys(monthly["scenario"])) == ["expected", "aggressive"]
    nov = monthly[(monthly["scenario"] == "aggressive") & (monthly["period"] == pd.Timestamp("2026-11-01"))]
    assert nov["days_planned"].item() == 11 and nov["demand_peak"].item() == 20.0
    assert nov["monthly_cost"].item() == 2.0 * 730  # the month's peak hourly cost, as a run rate
    totals = scenario_totals(monthly)
    assert _partial_months(totals) == {
        pd.Timestamp("2026-11-01"): "(11 of 30 days)",
        pd.Timestamp("2026-12-01"): "(1 of 31 days)",
    }
