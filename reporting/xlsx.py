"""The Excel workbook: one sheet per table, native charts on Summary, their data on ChartData.

Text from data never becomes code: the workbook turns no string into a formula, URL or number,
and chart titles and series names are cell references, never literal text. xlsxwriter is
imported when a workbook is written, not with this module.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .fans import fans
from .specs import MAX_CHARTS, TABLES, PlanBundle, present, summary_kinds, tables
from .xlsx_cells import Formats, write_table
from .xlsx_charts import SHEET, ChartData, cost_chart, fan_chart

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
            if not spec.sheet or not present(bundle, spec.field):
                continue
            ws = wb.add_worksheet(spec.sheet)
            kinds = summary_kinds(t["summary"]) if spec.field == "summary" else None
            write_table(ws, t[spec.field], fmts, {"value": kinds} if kinds else None)
            sheets[spec.field] = ws
        cd = ChartData(wb.add_worksheet(SHEET), fmts)
        _place_charts(wb, sheets["summary"], cd, t, bundle.expected_scenario, max_charts)
    return path


def _place_charts(
    wb, summary_ws, cd: ChartData, t: dict[str, pd.DataFrame], scenario: str, max_charts: int
) -> None:
    """Cost chart at the top right of Summary, fan charts below it in two columns."""
    col0 = len(t["summary"].columns) + 1
    cost = cost_chart(wb, cd, t["totals"])
    if cost is not None:
        summary_ws.insert_chart(1, col0, cost)
    for k, fan in enumerate(fans(t, scenario, max_charts)):
        chart = fan_chart(wb, cd, fan)
        summary_ws.insert_chart(18 + 17 * (k // 2), col0 + 8 * (k % 2), chart)
