"""The Excel workbook: one sheet per table, native charts on Summary, their data on ChartData.

Actions is the first sheet (what to do, worst first), then Summary with the charts; ChartData is
hidden; every sheet prints landscape, one page wide, the Summary on one page.

Text from data never becomes code: the workbook turns no string into a formula, URL or number,
and chart titles and series names are cell references, never literal text. xlsxwriter is
imported when a workbook is written, not with this module.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from . import plots
from .fans import fans
from .longrange import chart_frames, long_range_chart
from .specs import MAX_CHARTS, TABLES, PlanBundle, column_kind, present, summary_kinds, tables
from .xlsx_cells import XLSX_MAX_ROWS, Formats, write_cell, write_table
from .xlsx_charts import CHART_GAP, CHART_HEIGHT, CHART_WIDTH, SHEET, ChartData, cost_chart, fan_chart

_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "remove_timezone": True,
}


def write_xlsx(bundle: PlanBundle, path: Path, max_charts: int = MAX_CHARTS) -> Path:
    """The workbook: one sheet per table, charts on Summary, chart data on ChartData."""
    import xlsxwriter

    t = tables(bundle)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(str(path), _OPTIONS) as wb:
        fmts = Formats(wb)
        sheets = {}
        for spec in TABLES:
            scaling = spec.field == "autoscaling" and present(bundle, "schedule")
            if not spec.sheet or not (present(bundle, spec.field) or scaling):
                continue
            ws = wb.add_worksheet(spec.sheet)
            kinds = summary_kinds(t["summary"]) if spec.field == "summary" else None
            write_table(ws, t[spec.field], fmts, {"value": kinds} if kinds else None)
            if scaling:  # the 48-hour schedule beside the policy scores, one sheet per service's scaling
                _beside(ws, t["schedule"], fmts, len(t["autoscaling"].columns) + 1)
            _page_setup(ws)
            sheets[spec.field] = ws
        if "accuracy_by_week" in sheets:  # the chart beside its table
            png = io.BytesIO(plots.accuracy_by_week_chart(bundle.accuracy_by_week))
            sheets["accuracy_by_week"].insert_image(
                1, len(t["accuracy_by_week"].columns) + 1, "accuracy.png", {"image_data": png}
            )
        cd = ChartData(wb.add_worksheet(SHEET), fmts)
        cd.ws.hide()  # chart data: for the charts, not for reading
        _place_charts(wb, sheets["summary"], cd, t, bundle, max_charts)
        _page_setup(sheets["summary"])
        sheets["summary"].fit_to_pages(1, 1)  # the Summary, charts included, prints on one page
    return path


def _beside(ws, frame: pd.DataFrame, fmts: Formats, col0: int) -> None:
    """``frame`` as a second table from column ``col0`` (header row, typed cells, widths)."""
    for j, name in enumerate(frame.columns):
        ws.write_string(0, col0 + j, name, fmts.header)
        kind = column_kind(name, frame[name])
        width = len(name) + 2
        for i, value in enumerate(frame[name].head(XLSX_MAX_ROWS).tolist()):
            width = max(width, write_cell(ws, i + 1, col0 + j, value, kind, fmts, name) + 2)
        ws.set_column(col0 + j, col0 + j, min(max(width, 8), 60))


def _page_setup(ws) -> None:
    """Printable as people read it: landscape, one page wide, header row repeated."""
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)


def _place_charts(
    wb, summary_ws, cd: ChartData, t: dict[str, pd.DataFrame], bundle: PlanBundle, max_charts: int
) -> None:
    """Cost chart at the top right of Summary, fan charts below it in two columns, then the
    long-range charts (the two most urgent service/resources) in a row below them.

    Every chart is anchored at the same cell and placed by pixel offsets of a full chart size
    plus a gap (:data:`CHART_WIDTH` x :data:`CHART_HEIGHT`), so charts never overlap whatever
    the column widths and row heights of the sheet.
    """
    col0 = len(t["summary"].columns) + 1
    charts = []
    cost = cost_chart(wb, cd, t["totals"])
    if cost is not None:
        charts.append((0, 0, cost))
    scenario = bundle.expected_scenario
    fan_list = fans(t, scenario, max_charts)
    for k, fan in enumerate(fan_list):
        charts.append((1 + k // 2, k % 2, fan_chart(wb, cd, fan)))
    row = 1 + (len(fan_list) + 1) // 2
    for k, (title, y_title, frame) in enumerate(chart_frames(bundle.long_range, scenario)):
        charts.append((row, k, long_range_chart(wb, cd, title, y_title, frame)))
    for row, col, chart in charts:
        offsets = {"x_offset": col * (CHART_WIDTH + CHART_GAP), "y_offset": row * (CHART_HEIGHT + CHART_GAP)}
        summary_ws.insert_chart(1, col0, chart, offsets)
