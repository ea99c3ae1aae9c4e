"""Native Excel charts: their data goes on the ChartData sheet, titles and series names are cell
references to it (never literal text from data).

Time runs on a date axis (``c:dateAx``): months in the cost chart, days in the fans (sub-daily
forecasts are shown as daily peaks, since a date axis counts whole days). Every axis has a title
with its unit. Fans draw demand (actuals, the forecast quantiles, the planned demand), usable
capacity, required capacity, the ``max_instances`` cap and a "now" marker at the forecast's
start; the cost chart labels the current month "now" and each partial month with its days.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .fans import CAP, REQUIRED, Fan
from .specs import PLANNED, pivot, usable_totals
from .xlsx_cells import Formats, write_cell

SHEET = "ChartData"
CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 640, 400, 16  # pixels (fans: a legend of nine lines)
_FAN_STYLE = {
    "actual": {"color": "#404040", "width": 1.0},
    "lo": {"color": "#6BAED6", "width": 1.25, "dash_type": "dash"},
    "mid": {"color": "#08519C", "width": 2.25},
    "hi": {"color": "#6BAED6", "width": 1.25, "dash_type": "dash"},
    "capacity": {"color": "#CB181D", "width": 2.0, "dash_type": "long_dash"},
    "planned": {"color": "#E6550D", "width": 1.75},
    "required": {"color": "#756BB1", "width": 1.75, "dash_type": "dash"},
    "cap": {"color": "#000000", "width": 1.25, "dash_type": "square_dot"},
}
# series names (ChartData headers) a planner reads; other columns keep their own name (p10, ...)
SERIES_NAMES = {
    "capacity": "usable capacity",
    PLANNED: "planned demand (expected scenario)",
    REQUIRED: "required capacity",
    CAP: "max_instances cap",
}
NOW = "now"


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


def _cost_labels(table: pd.DataFrame, totals: pd.DataFrame) -> list[dict]:
    """One custom data label per month: "now" on the first, "N of M days" on partial months."""
    from .specs import partial_months

    notes = partial_months(totals)
    out = []
    for k, period in enumerate(table["period"]):
        text = [NOW] if k == 0 else []
        text += [notes[period].strip("()")] if period in notes else []
        out.append({"value": " · ".join(text)} if text else {"delete": True})
    return out


def cost_chart(wb, cd: ChartData, totals: pd.DataFrame):
    """Column chart of monthly cost per scenario and month (the bundle's totals); None if no data."""
    if not usable_totals(totals) or "monthly_cost" not in totals:
        return None
    table = pivot(totals, "monthly_cost").reset_index()
    kinds = {"period": "date", **{str(c): "money" for c in table.columns[1:]}}
    title_row, header, last = cd.block("Monthly cost by scenario (all services)", table, kinds)
    chart = wb.add_chart({"type": "column"})
    labels = _cost_labels(table, totals)
    for j in range(1, len(table.columns)):
        series = {
            "name": [SHEET, header, j],
            "categories": [SHEET, header + 1, 0, last, 0],
            "values": [SHEET, header + 1, j, last, j],
        }
        if j == 1 and any("value" in label for label in labels):
            series["data_labels"] = {"value": True, "custom": labels, "position": "outside_end"}
        chart.add_series(series)
    chart.set_title({"name": [SHEET, title_row, 0], "name_font": {"size": 11}})
    chart.set_x_axis(
        {"name": "month (labels: now, partial months' days planned)", "date_axis": True,
         "major_unit": 1, "major_unit_type": "months", "num_format": "yyyy-mm",
         "num_font": {"rotation": -45}}
    )  # fmt: skip
    chart.set_y_axis(
        {"name": "monthly cost ($, 730 h at the month's peak)", "num_format": "$#,##0",
         "major_gridlines": {"visible": True}}
    )  # fmt: skip
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart


def _daily(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """``frame`` by day (each column's daily peak) when ``ts`` is finer than a day; and whether it was."""
    ts = pd.to_datetime(frame["ts"])
    day = ts.dt.floor("D")
    if (ts == day).all():
        return frame.assign(ts=ts), False
    values = frame.drop(columns="ts").apply(pd.to_numeric, errors="coerce")
    peaks = values.groupby(day.to_numpy()).max(min_count=1)
    return peaks.rename_axis("ts").reset_index(), True


def _now_column(frame: pd.DataFrame, mid: str) -> pd.Series:
    """The "now" marker: at the forecast's first day, the top of the chart; blank elsewhere."""
    values = frame.drop(columns="ts").to_numpy(dtype=float, na_value=np.nan)
    top = np.nanmax(values, initial=0.0) if np.isfinite(values).any() else 0.0
    first = frame[mid].notna().to_numpy()
    now = np.full(len(frame), np.nan)
    if first.any():
        now[int(np.argmax(first))] = top * 1.05 if top > 0 else 1.0
    return pd.Series(now, index=frame.index)


def fan_chart(wb, cd: ChartData, fan: Fan):
    """Line chart on a date axis: actuals, lo, mid, hi, planned demand, usable and required
    capacity, the max_instances cap and a "now" marker; data (daily peaks) on ChartData."""
    roles = dict(
        actual=fan.actual, lo=fan.lo, mid=fan.mid, hi=fan.hi, capacity=fan.capacity, planned=fan.planned,
        required=fan.required, cap=fan.cap,
    )  # fmt: skip
    roles = {role: col for role, col in roles.items() if col is not None}
    frame, daily = _daily(fan.frame[["ts", *dict.fromkeys(roles.values())]])
    frame[NOW] = _now_column(frame, fan.mid)
    frame = frame.rename(columns=SERIES_NAMES)
    roles = {role: SERIES_NAMES.get(col, col) for role, col in roles.items()} | {"now": NOW}
    title_row, header, last = cd.block(fan.title, frame, {"ts": "date"})
    chart = wb.add_chart({"type": "line"})
    for role, col in roles.items():
        j = list(frame.columns).index(col)
        series = {
            "name": [SHEET, header, j],
            "categories": [SHEET, header + 1, 0, last, 0],
            "values": [SHEET, header + 1, j, last, j],
            "line": _FAN_STYLE.get(role, {"none": True}),
            "marker": {"type": "none"},
        }
        if role == "now":  # a vertical line: the point's error bar down to the axis
            series["marker"] = {"type": "triangle", "size": 7, "fill": {"color": "#404040"}}
            series["y_error_bars"] = {"type": "percentage", "value": 100, "direction": "minus",
                                      "end_style": 0, "line": {"color": "#404040", "dash_type": "dash"}}  # fmt: skip
            series["data_labels"] = {"series_name": True, "position": "right"}
        chart.add_series(series)
    chart.set_title({"name": [SHEET, title_row, 0], "name_font": {"size": 11}})
    days = max(len(frame), 1)
    chart.set_x_axis(
        {"name": "day (UTC; daily peak)" if daily else "day (UTC)", "date_axis": True, "major_unit": max(1, math.ceil(days / 8)), "major_unit_type": "days", "num_format": "yyyy-mm-dd",
         "num_font": {"rotation": -45}}
    )  # fmt: skip
    unit = f"{fan.metric} ({fan.unit})" if fan.unit else str(fan.metric or "demand")
    chart.set_y_axis({"name": unit, "major_gridlines": {"visible": True}, "num_format": "#,##0.0"})
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart
