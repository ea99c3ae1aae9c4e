"""The accuracy-by-week chart and its section in the workbook, the CSV tables and the HTML report."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import openpyxl
import pandas as pd
from reporting_bundle import make_bundle

from capplan.reporting import export_bundle
from capplan.reporting.plots import draw_accuracy_by_week


def _weekly() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16"]),
            "vintages": [2, 1, 1],
            "series": [2, 1, 1],
            "n": [60, 10, 5],
            "mase": [1.3, 0.8, 0.4],
            "coverage": [0.87, 0.75, 0.8],
            "coverage_nominal": 0.8,
            "run_id": ["r1", "r2", "r2"],
            "champion_change": [False, True, False],
        }
    )


def test_chart_marks_champion_changes_and_labels_both_axes():
    fig = draw_accuracy_by_week(_weekly())
    ax, right = fig.axes
    changes = [line for line in ax.get_lines() if line.get_gid() == "champion_change"]
    assert len(changes) == 1
    assert ax.get_ylabel() == "MASE" and right.get_ylabel() == "interval coverage"
    assert ax.get_legend().get_texts()[0].get_text() == "MASE (lower is better)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["MASE (lower is better)", "coverage", "nominal 80%", "new champions"]


def test_workbook_csv_and_report_carry_the_section(tmp_path):
    bundle = replace(make_bundle(), accuracy_by_week=_weekly())
    out = export_bundle(bundle, tmp_path, ("xlsx", "csv", "html"))
    wb = openpyxl.load_workbook(out["xlsx"])
    ws = wb["Accuracy by week"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["week", "mase", "coverage", "coverage_nominal", "champion_change"]
    assert ws.cell(3, 2).value == 0.8
    with zipfile.ZipFile(out["xlsx"]) as z:
        assert any(n.startswith("xl/media/") for n in z.namelist())  # the chart image
    assert (tmp_path / "csv" / "accuracy_by_week.csv").exists()
    html = out["html"].read_text()
    assert 'id="accuracy_by_week"' in html and "Accuracy by week of forecast vintage" in html


def test_without_scored_vintages_there_is_no_sheet(tmp_path):
    out = export_bundle(make_bundle(), tmp_path, ("xlsx",))
    assert "Accuracy by week" not in openpyxl.load_workbook(out["xlsx"]).sheetnames
