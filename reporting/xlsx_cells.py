"""Typed cells and formatted tables on an xlsxwriter worksheet.

Strings are written with ``write_string`` (the workbook turns no string into a formula, URL or
number); numbers, dates and booleans as their own types with the format of their column kind.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from .specs import (
    HIGHLIGHTS,
    NO_ROWS,
    NUMBER_FORMATS,
    cell_kind,
    column_kind,
    is_missing,
    is_number,
    nonfinite_text,
)

XLSX_MAX_ROWS = 1_048_575
_XLSX_MAX_STR = 32_767


class Formats:
    """The workbook's cell formats, created once."""

    def __init__(self, wb) -> None:
        self.header = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "text_wrap": True, "valign": "top"}
        )
        self.note = wb.add_format({"italic": True, "font_color": "#7F7F7F"})
        self.title = wb.add_format({"bold": True, "font_size": 12})
        self.num = {k: wb.add_format({"num_format": v}) for k, v in NUMBER_FORMATS.items()}
        self.hl = {
            "bad": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "warn": wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
            "info": wb.add_format({"bg_color": "#DDEBF7", "font_color": "#1F4E78"}),
        }

    def of(self, kind: str):
        return self.num.get(kind)


def write_cell(ws, row: int, col: int, value: object, kind: str, fmts: Formats, column: str) -> int:
    """Write one value as its own type; returns the width it needs. Strings never become formulas.

    (Seven parameters: xlsxwriter's ``write(row, col, value, format)`` plus the column's kind and
    name, which decide the cell's type and number format.)"""
    kind = cell_kind(value, kind)
    fmt = fmts.of(kind)
    if is_missing(value):
        ws.write_blank(row, col, None, fmt)
        return 0
    if isinstance(value, (bool, np.bool_)):
        ws.write_boolean(row, col, bool(value))
        return 5
    if isinstance(value, dt.datetime | dt.date):
        stamp = pd.Timestamp(value)
        ws.write_datetime(
            row, col, stamp.tz_localize(None).to_pydatetime() if stamp.tz else stamp.to_pydatetime(), fmt
        )
        return 10 if kind == "date" else 16
    if is_number(value):
        number = float(value)
        if not math.isfinite(number):
            text = nonfinite_text(column, number)
            if not text:
                ws.write_blank(row, col, None, fmt)
                return 0
            ws.write_string(row, col, text)
            return len(text)
        ws.write_number(row, col, number, fmt)
        return len(f"{number:,.2f}") + (1 if kind in ("money", "cents") else 0)
    text = str(value)[:_XLSX_MAX_STR]
    ws.write_string(row, col, text)
    return len(text)


def _write_column(ws, j: int, name: str, column: pd.Series, per_row: list[str] | None, fmts: Formats) -> int:
    """Write one column from row 1 down; returns the width it needs (judged on its first 1000 rows).

    Finite float/int and datetime columns take a fast path; anything else goes cell by cell.
    """
    kind = column_kind(name, column)
    if per_row is None and kind in ("date", "datetime"):
        return _write_datetimes(ws, j, column, fmts.of(kind)) or (10 if kind == "date" else 16)
    if per_row is None and kind in NUMBER_FORMATS:
        values = column.to_numpy(dtype=float, na_value=np.nan)
        if not np.isinf(values).any():
            return _write_numbers(ws, j, values, fmts.of(kind))
    kinds = per_row or [kind] * len(column)
    width = 0
    for i, value in enumerate(column.tolist()):
        need = write_cell(ws, i + 1, j, value, kinds[i], fmts, name)
        width = max(width, need) if i < 1000 else width
    return width


def _write_numbers(ws, j: int, values: np.ndarray, fmt) -> int:
    for i, v in enumerate(values.tolist()):
        if v != v:  # NaN
            ws.write_blank(i + 1, j, None, fmt)
        else:
            ws.write_number(i + 1, j, v, fmt)
    head = np.abs(values[:1000])
    head = head[np.isfinite(head)]
    return len(f"{head.max():,.2f}") + 1 if head.size else 0


def _write_datetimes(ws, j: int, column: pd.Series, fmt) -> int:
    for i, v in enumerate(column.astype(object).tolist()):
        if v is pd.NaT or v is None:
            ws.write_blank(i + 1, j, None, fmt)
        else:
            ws.write_datetime(i + 1, j, v.to_pydatetime(), fmt)
    return 0


def write_table(
    ws, frame: pd.DataFrame, fmts: Formats, row_kinds: dict[str, list[str]] | None = None
) -> None:
    """Header row (frozen, autofiltered), typed cells, widths from content, highlights."""
    columns = list(frame.columns)
    body = frame.head(XLSX_MAX_ROWS)
    widths = [len(c) + 2 for c in columns]
    for j, name in enumerate(columns):
        ws.write_string(0, j, name, fmts.header)
        per_row = (row_kinds or {}).get(name)
        need = _write_column(ws, j, name, body[name], per_row, fmts)
        widths[j] = max(widths[j], need + 2)
    ws.freeze_panes(1, 0)
    if columns:
        ws.autofilter(0, 0, max(len(body), 1), len(columns) - 1)
    for j, width in enumerate(widths):
        ws.set_column(j, j, min(max(width, 8), 60))
    if body.empty:
        ws.write_string(1, 0, NO_ROWS, fmts.note)
    elif len(frame) > len(body):
        ws.write_string(
            0, len(columns), f"truncated: {len(frame):,} rows; all rows in the CSV export", fmts.note
        )
    _highlight(ws, frame, len(body), fmts)


def _highlight(ws, frame: pd.DataFrame, nrows: int, fmts: Formats) -> None:
    """Conditional formats: alert severity, runway status, capped, over-provisioned."""
    if nrows == 0:
        return
    for j, name in enumerate(frame.columns):
        for value, style in HIGHLIGHTS.get(name, {}).items():
            criteria = "TRUE" if value is True else f'"{value}"'
            ws.conditional_format(
                1,
                j,
                nrows,
                j,
                {"type": "cell", "criteria": "==", "value": criteria, "format": fmts.hl[style]},
            )
