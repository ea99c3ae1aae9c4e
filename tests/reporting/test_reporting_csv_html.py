"""CSV injection neutralised, numbers kept; the HTML report self-contained and escaped; empty and
partial tables."""

from __future__ import annotations

import base64
import csv
import html
import re
from dataclasses import replace

import openpyxl
import pandas as pd
import pytest
from reporting_bundle import (
    EVIL,
    SCRIPT,
    SHEETS,
    empty_bundle,
    make_bundle,
    plan_rows,
    sheet,
    totals_of,
    zip_texts,
)

from capplan.reporting import export_bundle, neutralise_csv, render_html, write_safe_csv
from capplan.reporting.specs import NO_ROWS, OPTIONAL, SPECS, TABLES

IMAGES = r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"'

# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


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
    assert back["monthly_cost"].tolist() == plan_rows()["monthly_cost"].tolist()
    assert back["period"].iloc[0] == "2025-01-01T00:00:00"  # ISO timestamps
    assert pd.to_datetime(back["period"]).tolist() == plan_rows()["period"].tolist()


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


def test_write_safe_csv_neutralises_text_and_keeps_negative_numbers(tmp_path):
    hyperlink = '=HYPERLINK("https"&CHAR(58)&"//x","y")'
    dde = "+cmd|' /C calc'!A0"
    frame = pd.DataFrame(
        {
            "service": [hyperlink, dde, "api"],
            "value": [-3.5, 1.0, 2.0],
            "ts": pd.to_datetime(["2025-01-01 06:30", "2025-01-02 00:00", "2025-01-03 00:00"]),
        }
    )
    path = write_safe_csv(frame, tmp_path / "new" / "folder" / "safe.csv")
    assert path.exists()
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    cells = [c for row in rows for c in row]
    triggers = ("=", "+", "@", "\t", "\r")
    assert not [c for c in cells if c.startswith(triggers)]
    assert not [c for c in cells if c.startswith("-") and c != "-3.5"]
    assert [r[0] for r in rows[1:]] == ["'" + hyperlink, "'" + dde, "api"]
    back = pd.read_csv(path)
    assert list(back.columns) == ["service", "value", "ts"]  # no index column
    assert back["value"].tolist() == [-3.5, 1.0, 2.0] and back["value"].dtype.kind == "f"
    assert back["ts"].tolist() == ["2025-01-01T06:30:00", "2025-01-02T00:00:00", "2025-01-03T00:00:00"]


def test_write_safe_csv_neutralises_string_dtype_and_headers(tmp_path):
    frame = pd.DataFrame({"@head": pd.array(["-x", "ok"], dtype="string")})
    path = write_safe_csv(frame, tmp_path / "s.csv")
    assert path.read_text(encoding="utf-8").splitlines() == ["'@head", "'-x", "ok"]


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def test_html_is_self_contained_and_escaped(exported):
    text = exported[1]["html"].read_text(encoding="utf-8")
    images = re.findall(IMAGES, text)
    assert len(images) == 3 + 1 + 2  # fans, runway, cost + instances per scenario
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    assert not re.search(r'(src|href)="(https?:)?//', text) and "<link" not in text
    assert html.escape(EVIL) in text
    assert "$12,345" in text and "42.0%" in text and "beyond horizon" in text
    assert "<th>instances_recommended</th>" in text and "<th>binding_resource</th>" in text


def test_html_runway_figure_names_the_expected_scenario():
    text = render_html(replace(make_bundle(), expected_scenario="aggressive"))
    assert "Days of capacity left (aggressive scenario" in text
    assert "Days of capacity left (expected scenario" in render_html(make_bundle())


def test_html_scenario_figures_come_from_the_totals():
    bundle = make_bundle()
    without = render_html(replace(bundle, totals=None))
    assert len(re.findall(IMAGES, without)) == 3 + 1  # fans and runway, no scenario figures
    assert "no scenario totals" in without
    only_cost = render_html(replace(bundle, totals=bundle.totals.drop(columns="instances_required")))
    assert len(re.findall(IMAGES, only_cost)) == 3 + 1 + 1
    assert 'alt="Monthly cost per scenario"' in only_cost
    assert 'alt="Required instances per scenario"' not in only_cost


# ---------------------------------------------------------------------------------------------
# Empty and partial tables
# ---------------------------------------------------------------------------------------------


def test_empty_tables_give_headers_and_note(tmp_path):
    out = export_bundle(empty_bundle(), tmp_path)
    wb = openpyxl.load_workbook(out["xlsx"])
    assert wb.sheetnames == SHEETS
    for spec in TABLES:
        if spec.sheet and spec.field not in OPTIONAL:  # optional: absent when None
            header, rows = sheet(wb[spec.sheet])
            assert header == list(spec.columns), spec.sheet
            assert rows[0][0] == NO_ROWS
    assert not zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    assert "history.csv" not in {p.name for p in out["csv"]}
    assert (tmp_path / "csv" / "plan.csv").read_text().strip() == ",".join(SPECS["plan"].columns)
    text = out["html"].read_text(encoding="utf-8")
    assert text.count(NO_ROWS) >= 9 and "data:image/png" not in text


def test_empty_totals_frame_draws_no_scenario_chart(tmp_path):
    bundle = replace(make_bundle(), totals=pd.DataFrame(columns=["scenario", "period", "monthly_cost"]))
    out = export_bundle(bundle, tmp_path, formats=("xlsx", "html"))
    assert len(zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")) == 3  # fans only
    assert out["html"].read_text(encoding="utf-8").count("data:image/png") == 3 + 1


def test_missing_optional_columns_are_skipped(tmp_path):
    bundle = make_bundle()
    bundle.plan = bundle.plan.drop(columns=["capped", "unit", "monthly_cost"])
    bundle.totals = totals_of(bundle.plan)  # planning's totals then lack monthly_cost too
    bundle.forecasts = bundle.forecasts.drop(
        columns=["capacity", "p99", "model", "planned_demand", "required_capacity", "max_instances_capacity"]
    )
    bundle.runway = bundle.runway.drop(columns=["days_left_min", "days_left_max", "horizon_days"])
    bundle.history = None
    out = export_bundle(bundle, tmp_path)
    wb = openpyxl.load_workbook(out["xlsx"])
    assert "capped" not in sheet(wb["Scenarios"])[0]
    charts = zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    # p10, p50, p90 and the "now" marker
    assert len(charts) == 3 and all(x.count("<c:ser>") == 4 for x in charts.values())
    assert out["html"].read_text(encoding="utf-8").count("data:image/png") == 3 + 1 + 1


def test_formats_split_into_two_tasks_of_about_equal_work():
    import pytest

    from capplan.core.errors import CapplanError
    from capplan.reporting.export import format_groups

    assert format_groups(["html", "csv", "xlsx"]) == [("xlsx",), ("csv", "html")]
    assert format_groups(["csv"]) == [("csv",)] and format_groups([]) == []
    with pytest.raises(CapplanError, match="unknown format.*'pdf'"):
        format_groups(["xlsx", "pdf"])
