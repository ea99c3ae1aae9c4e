"""Reporting stage: a capacity plan as an Excel workbook, CSV tables, an HTML report, PNG figures
and terminal tables.

Imports only ``capplan.core``; matplotlib and xlsxwriter are imported when a figure or a
workbook is made, so ``import capplan.reporting`` stays light. Modules: :mod:`.specs` (the
:class:`PlanBundle`, its tables, column kinds and formats), :mod:`.fans` (fan chart data, the
constrained-services pick, :func:`planned_demand`), :mod:`.xlsx` (+ ``xlsx_cells``,
``xlsx_charts``), :mod:`.csv`, :mod:`.html`, :mod:`.plots`, :mod:`.pngs` (the PNG charts next to
the workbook), :mod:`.console`, :mod:`.export`, :mod:`.alerts_message` and :mod:`.webhook` (a
plan's alerts as one JSON message, and its delivery with retries).
"""

from __future__ import annotations

from .bundle import plan_bundle
from .console import file_line, print_alerts, print_changes, print_runway, safe_text, table
from .csv import neutralise_csv, write_csv, write_safe_csv
from .export import export_bundle
from .fans import planned_demand
from .html import render_html, write_html
from .plots import backtest_figure
from .specs import FORMATS, PlanBundle
from .xlsx import write_xlsx

__all__ = [
    "FORMATS",
    "PlanBundle",
    "backtest_figure",
    "export_bundle",
    "file_line",
    "neutralise_csv",
    "planned_demand",
    "plan_bundle",
    "print_alerts",
    "print_changes",
    "print_runway",
    "render_html",
    "safe_text",
    "table",
    "write_csv",
    "write_html",
    "write_safe_csv",
    "write_xlsx",
]
