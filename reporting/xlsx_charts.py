"""Native Excel charts: their data goes on the ChartData sheet, titles and series names are cell
references to it (never literal text from data)."""

from __future__ import annotations

import pandas as pd

from .fans import Fan
from .specs import NUMBER_FORMATS, column_kind, pivot, usable_totals
from .xlsx_cells import Formats, write_cell

SHEET = "ChartData"
CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 640, 320, 16  # pixels
_FAN_STYLE = {
    "actual": {"color": "#404040", "width": 1.0},
    "lo": {"color": "#6BAED6", "width": 1.25, "dash_type": "dash"},
    "mid": {"color": "#08519C", "width": 2.25},
    "hi": {"color": "#6BAED6", "width": 1.25, "dash_type": "dash"},
    "capacity": {"color": "#CB181D", "width": 2.0, "dash_type": "long_dash"},
    "planned": {"color": "#E6550D", "width": 1.75},
}


class ChartData:
    """Appends titled blocks to the ChartData sheet; returns where each block's cells are."""

    def __init__(self, ws, fmts: Formats) -> None:
        self.ws, self.fmts, self.row = ws, fmts, 0
        ws.set_column(0, 0, 17)
        ws.set_column(1, 12, 13)

    def block(self, title: str, frame: pd.DataFrame, kinds: dict[str, str]) -> tuple[int, int, int]:
        """Write ``title``, headers, data; returns (title_row, header_row, last_row)."""
        top = self.row
        self.ws.write_string(top, 0, title, self.fmts.title)
        for j, name in enumerate(frame.columns):
            self.ws.write_string(top + 1, j, str(name), self.fmts.header)
            for i, value in enumerate(frame[name].tolist()):
                write_cell(
                    self.ws, top + 2 + i, j, value, kinds.get(str(name), "float"), self.fmts, str(name)
                )
        last = top + 1 + len(frame)
        self.row = last + 2
        return top, top + 1, last


def cost_chart(wb, cd: ChartData, totals: pd.DataFrame):
    """Column chart of monthly cost per scenario and month (the bundle's totals); None if no data."""
    if not usable_totals(totals) or "monthly_cost" not in totals:
        return None
    table = pivot(totals, "monthly_cost").reset_index()
    kinds = {"period": "date", **{str(c): "money" for c in table.columns[1:]}}
    title_row, header, last = cd.block("Monthly cost by scenario (all services)", table, kinds)
    chart = wb.add_chart({"type": "column"})
    for j in range(1, len(table.columns)):
        chart.add_series(
            {
                "name": [SHEET, header, j],
                "categories": [SHEET, header + 1, 0, last, 0],
                "values": [SHEET, header + 1, j, last, j],
            }
        )
    chart.set_title({"name": [SHEET, title_row, 0], "name_font": {"size": 11}})
    chart.set_x_axis({"name": "month", "num_format": "yyyy-mm", "num_font": {"rotation": -45}})
    chart.set_y_axis(
        {"name": "monthly cost ($, 730 h at the month's peak)", "num_format": "$#,##0",
         "major_gridlines": {"visible": True}}
    )  # fmt: skip
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart


def fan_chart(wb, cd: ChartData, fan: Fan):
    """Line chart: actuals, lo, mid, hi, capacity and planned demand over ts, data on ChartData."""
    roles = dict(
        actual=fan.actual, lo=fan.lo, mid=fan.mid, hi=fan.hi, capacity=fan.capacity, planned=fan.planned
    )
    roles = {role: col for role, col in roles.items() if col is not None}
    frame = fan.frame[["ts", *dict.fromkeys(roles.values())]]
    ts_kind = column_kind("ts", frame["ts"])
    title_row, header, last = cd.block(fan.title, frame, {"ts": ts_kind})
    chart = wb.add_chart({"type": "line"})
    for role, col in roles.items():
        j = list(frame.columns).index(col)
        chart.add_series(
            {
                "name": [SHEET, header, j],
                "categories": [SHEET, header + 1, 0, last, 0],
                "values": [SHEET, header + 1, j, last, j],
                "line": _FAN_STYLE[role],
                "marker": {"type": "none"},
            }
        )
    chart.set_title({"name": [SHEET, title_row, 0], "name_font": {"size": 11}})
    # Excel's date axis counts whole days: hourly points would pile up, so they get a text axis.
    axis = {"date_axis": True} if ts_kind == "date" else {"text_axis": True}
    chart.set_x_axis(
        {**axis, "name": "time (UTC)", "num_format": NUMBER_FORMATS[ts_kind], "num_font": {"rotation": -45}}
    )
    unit = f"{fan.metric} ({fan.unit})" if fan.unit else str(fan.metric or "demand")
    chart.set_y_axis({"name": unit, "major_gridlines": {"visible": True}, "num_format": "#,##0.0"})
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart
