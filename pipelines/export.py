"""Exports of a capacity plan: an Excel workbook, one CSV per table, a self-contained HTML report.

Invariants:

* Every table of a :class:`PlanBundle` is written whatever its columns: the known columns first in
  their usual order, then any extra column; a missing optional column is simply absent. An empty
  table gives headers (the known ones when the frame has no columns) and a "no rows" note.
* Text from data never becomes code. XLSX: strings are written with ``write_string`` in a
  workbook that turns no string into a formula, URL or number (chart titles and series names are
  cell references, never literal text). CSV: a string cell starting with ``= + - @``, tab or CR
  gets a leading ``'`` (OWASP CSV injection); numbers stay numbers. HTML: all text is escaped.
* The HTML report loads nothing: CSS is inline and images are base64 ``data:`` URIs.
* Number formats follow the column name: money (``cost``, ``saving``) ``$#,##0``; ratios
  (``utilization``, ``coverage``) ``0.0%``; whole numbers ``#,##0``; other numbers ``0.00``;
  dates ``yyyy-mm-dd`` and datetimes ``yyyy-mm-dd hh:mm``.
* Totals per scenario count each service once per period: the largest value over its resources
  (the binding resource sets the instance count and its cost), summed over services.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.core.contracts import quantile_col, quantile_from_col
from capplan.core.errors import CapplanError
from capplan.planning.runway import RUNWAY_COLUMNS

from . import plots

XLSX_NAME = "capplan_plan.xlsx"
HTML_NAME = "capplan_report.html"
CSV_DIR = "csv"
FORMATS = ("xlsx", "csv", "html")
EXPECTED_SCENARIO = "expected"
PLANNED = "planned_demand"  # forecasts column: the expected scenario's demand at each ts
MAX_CHARTS = 4
HTML_MAX_ROWS = 500
NO_ROWS = "no rows"
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_XLSX_MAX_ROWS = 1_048_575
_XLSX_MAX_STR = 32_767


@dataclass
class PlanBundle:
    """Everything an export shows; each frame is written as it is (see the module docstring)."""

    summary: pd.DataFrame
    plan: pd.DataFrame
    runway: pd.DataFrame
    bottlenecks: pd.DataFrame
    rightsizing: pd.DataFrame
    forecasts: pd.DataFrame
    accuracy: pd.DataFrame
    alerts: pd.DataFrame
    frontier: pd.DataFrame
    assumptions: pd.DataFrame
    history: pd.DataFrame | None = None
    autoscaling: pd.DataFrame | None = None  # service, resource, policy, scores, winner
    schedule: pd.DataFrame | None = None  # service, resource, ds, instances (predictive, next hours)


@dataclass(frozen=True)
class TableSpec:
    field: str  # PlanBundle attribute and CSV file stem
    sheet: str | None  # worksheet name; None: CSV only
    title: str
    columns: tuple[str, ...]  # the usual columns, in display order


TABLES: tuple[TableSpec, ...] = (
    TableSpec("summary", "Summary", "Summary", ("metric", "value", "note")),
    TableSpec(
        "plan",
        "Scenarios",
        "Plan per scenario",
        (
            "service",
            "resource",
            "scenario",
            "period",
            "days_planned",
            "demand_peak",
            "unit",
            "usable_capacity",
            "instances",
            "required_instances",
            "capped",
            "monthly_cost",
        ),
    ),
    TableSpec(
        "runway",
        "Runway",
        "Runway",
        tuple(c for c in RUNWAY_COLUMNS if c not in ("horizon_days", "as_of")),
    ),
    TableSpec(
        "bottlenecks",
        "Bottlenecks",
        "Bottlenecks",
        ("service", "scenario", "resource", "rank", "binding", "basis", "lag_days", "utilization_gap"),
    ),
    TableSpec(
        "rightsizing",
        "Right-sizing",
        "Right-sizing",
        (
            "service",
            "current_instances",
            "recommended_instances",
            "limiting_resource",
            "over_provisioned",
            "monthly_saving",
        ),
    ),
    TableSpec("frontier", "Frontier", "Capacity-cost frontier", ("quantile", "monthly_cost", "instances")),
    TableSpec("forecasts", "Forecasts", "Forecasts", ("service", "metric", "ts", "model")),
    TableSpec("accuracy", "Accuracy", "Forecast accuracy", ("service", "metric", "model", "mase", "smape")),
    TableSpec(
        "alerts", "Alerts", "Alerts", ("severity", "service", "resource", "scenario", "kind", "message")
    ),
    TableSpec("assumptions", "Assumptions", "Assumptions", ("key", "value")),
    TableSpec("history", None, "History", ("service", "metric", "ts", "y")),
    TableSpec(
        "autoscaling",
        "Autoscaling",
        "Predictive vs reactive autoscaling, replayed over the backtest period",
        ("service", "resource", "policy", "winner", "under_provisioned_steps", "shortfall", "monthly_cost"),
    ),
    TableSpec(
        "schedule",
        "Schedule",
        "Recommended instances (predictive), next hours",
        ("service", "resource", "ds", "instances"),
    ),
)
_SPECS = {s.field: s for s in TABLES}
OPTIONAL = ("history", "autoscaling", "schedule")  # written only when the bundle has them

_MONEY = re.compile(r"cost|saving|spend|budget|price|\$", re.I)
_CENTS = re.compile(r"per_hour|hourly|price|per_instance", re.I)
_RATIO = re.compile(r"utili[sz]ation|coverage|percent|_pct$|%|share", re.I)
_QUANTILE = re.compile(r"^p\d+(\.\d+)?$")
_HIGHLIGHTS: dict[str, dict[object, str]] = {
    "severity": {"critical": "bad", "warning": "warn", "info": "info"},
    "status": {"already_short": "bad", "within_horizon": "warn"},
    "capped": {True: "bad"},
    "over_provisioned": {True: "warn"},
}
_XLSX_NUM = {
    "money": "$#,##0",
    "cents": "$#,##0.00",
    "ratio": "0.0%",
    "int": "#,##0",
    "float": "0.00",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


# ---------------------------------------------------------------------------------------------
# Shared helpers: column kinds, missing values, derived frames
# ---------------------------------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_))


def _name_kind(name: str, values: np.ndarray) -> str:
    """Kind of numbers (a column or one cell) from their name, else from whether they are whole."""
    if _MONEY.search(name):
        return "cents" if _CENTS.search(name) else "money"
    if _RATIO.search(name):
        return "ratio"
    nums = values[np.isfinite(values)]
    return "int" if nums.size and np.all(nums == np.round(nums)) else "float"


def column_kind(name: str, column: pd.Series) -> str:
    """One of money, cents, ratio, int, float, date, datetime, bool, text (text: decided per cell)."""
    if pd.api.types.is_bool_dtype(column):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column.dropna()
        midnight = bool((stamps == stamps.dt.normalize()).all())
        return "date" if midnight else "datetime"
    if pd.api.types.is_numeric_dtype(column):
        return _name_kind(name, column.to_numpy(dtype=float, na_value=np.nan))
    return "text"


def _cell_kind(value: object, column_kind_: str) -> str:
    """Kind of one cell: the column's, or for a text column, the value's own."""
    if column_kind_ != "text":
        return column_kind_
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, dt.datetime):
        return "date" if pd.Timestamp(value) == pd.Timestamp(value).normalize() else "datetime"
    if isinstance(value, dt.date):
        return "date"
    if _is_number(value):
        return _name_kind("", np.array([float(value)]))
    return "text"


def _summary_kinds(frame: pd.DataFrame) -> list[str] | None:
    """Per-row kinds of Summary's ``value`` cells, chosen from the ``metric`` text of the row."""
    if "value" not in frame or "metric" not in frame:
        return None
    out = []
    for metric, value in zip(frame["metric"], frame["value"], strict=True):
        kind = (
            _name_kind(str(metric), np.array([float(value)]))
            if _is_number(value)
            else _cell_kind(value, "text")
        )
        out.append(kind)
    return out


def _prepare(frame: pd.DataFrame | None, spec: TableSpec) -> pd.DataFrame:
    """Known columns first, then extras; tz-aware -> naive UTC; timedeltas -> days; never None."""
    if frame is None or (len(frame.columns) == 0 and len(frame) == 0):
        return pd.DataFrame(columns=list(spec.columns))
    named_index = any(n is not None for n in frame.index.names)
    out = frame.reset_index(drop=not named_index).copy()
    out.columns = [str(c) for c in out.columns]
    order = [c for c in spec.columns if c in out] + [c for c in out.columns if c not in spec.columns]
    out = out[order]
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pd.api.types.is_timedelta64_dtype(s):
            out[col] = s / pd.Timedelta(days=1)
        elif isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(object)
    return out


def _tables(bundle: PlanBundle) -> dict[str, pd.DataFrame]:
    return {f.name: _prepare(getattr(bundle, f.name), _SPECS[f.name]) for f in fields(bundle)}


def _period_column(plan: pd.DataFrame) -> str | None:
    return next((c for c in ("period", "ds") if c in plan), None)


def scenario_totals(plan: pd.DataFrame) -> pd.DataFrame:
    """Per ``scenario, period``: ``monthly_cost``, ``required_instances``, ``instances`` totals.

    Each service counts once per period with its largest value over resources; the totals sum
    those over services. Scenarios keep their first-appearance order. Empty when the plan lacks
    ``service``, ``scenario`` or a period column (``period``, else ``ds``).
    """
    period = _period_column(plan)
    values = [c for c in ("monthly_cost", "required_instances", "instances") if c in plan]
    days = plan.get("days_planned")
    if period is None or not values or not {"service", "scenario"} <= set(plan.columns) or plan.empty:
        return pd.DataFrame(columns=["scenario", "period", *values])
    frame = plan[["service", "scenario", period, *values]].rename(columns={period: "period"})
    frame[values] = frame[values].apply(pd.to_numeric, errors="coerce")
    per_service = frame.groupby(["service", "scenario", "period"], sort=False)[values].max()
    totals = per_service.groupby(level=["scenario", "period"], sort=False).sum(min_count=1).reset_index()
    if days is not None:
        covered = pd.to_numeric(days, errors="coerce").groupby(frame["period"].to_numpy()).max()
        totals["days_planned"] = totals["period"].map(covered)
    return totals.sort_values("period", kind="stable", ignore_index=True)


def _pivot(totals: pd.DataFrame, value: str) -> pd.DataFrame:
    """``period`` x ``scenario`` table of ``value``, scenarios in first-appearance order."""
    order = list(dict.fromkeys(totals["scenario"]))
    table = totals.pivot_table(index="period", columns="scenario", values=value, aggfunc="sum", sort=True)
    return table.reindex(columns=order)


def _runway_scenario(runway: pd.DataFrame) -> pd.DataFrame:
    """The expected scenario's rows (else the first scenario's; all rows without a scenario)."""
    if "scenario" not in runway or runway.empty:
        return runway
    names = list(dict.fromkeys(runway["scenario"]))
    chosen = EXPECTED_SCENARIO if EXPECTED_SCENARIO in names else names[0]
    return runway[runway["scenario"] == chosen]


def constrained(runway: pd.DataFrame, forecasts: pd.DataFrame, n: int = MAX_CHARTS) -> list[tuple]:
    """Up to ``n`` ``(service, resource)`` with the shortest runway (expected scenario).

    Sorted by ``days_left`` (missing last), one resource per service (its shortest). Without a
    usable runway, the first services of ``forecasts`` with resource ``None``.
    """
    rows = _runway_scenario(runway)
    if {"service", "days_left"} <= set(rows.columns) and not rows.empty:
        ordered = rows.assign(_d=pd.to_numeric(rows["days_left"], errors="coerce")).sort_values(
            "_d", kind="stable", na_position="last"
        )
        ordered = ordered.drop_duplicates("service")
        resources = ordered["resource"] if "resource" in ordered else [None] * len(ordered)
        return list(zip(ordered["service"], resources, strict=True))[:n]
    if "service" in forecasts:
        return [(s, None) for s in list(dict.fromkeys(forecasts["service"]))[:n]]
    return []


def fan_columns(columns: Iterable[str]) -> tuple[str, str, str] | None:
    """``(lo, mid, hi)`` quantile columns for a fan: p10/p50/p90 when present, else the outer ones."""
    qs = sorted((quantile_from_col(c), c) for c in columns if _QUANTILE.match(str(c)))
    if not qs:
        return None
    names = [c for _, c in qs]
    lo = quantile_col(0.1) if quantile_col(0.1) in names else names[0]
    hi = quantile_col(0.9) if quantile_col(0.9) in names else names[-1]
    mid = quantile_col(0.5) if quantile_col(0.5) in names else min(qs, key=lambda t: abs(t[0] - 0.5))[1]
    return lo, mid, hi


def _pick_metric(metrics: Sequence[str], resource: object) -> str:
    if resource is not None and not _is_missing(resource):
        res = str(resource).lower()
        for test in (
            lambda m: m.lower() == res,
            lambda m: m.lower().startswith(res),
            lambda m: res in m.lower(),
        ):
            hit = [m for m in metrics if test(str(m))]
            if hit:
                return hit[0]
    return metrics[0]


@dataclass(frozen=True)
class Fan:
    """Data of one fan chart: ``frame`` has ``ts``, ``actual``, lo, mid, hi, ``capacity`` and
    ``planned_demand`` (the last three when present: the plan's demand, forecast plus events and
    drivers, which is what runway and sizing use)."""

    service: object
    metric: object
    title: str
    frame: pd.DataFrame
    lo: str
    mid: str
    hi: str
    capacity: str | None
    actual: str | None
    planned: str | None = None


def fan_data(forecasts: pd.DataFrame, history: pd.DataFrame | None, service, resource) -> Fan | None:
    """The fan of ``service``: its metric matching ``resource`` (else its first), one model.

    The model with most rows is used (ties: first seen); one row per ``ts`` (first kept). History
    keeps at most twice as many points as the forecast, before the forecast's first ``ts``.
    """
    cols = fan_columns(forecasts.columns)
    if cols is None or not {"service", "ts"} <= set(forecasts.columns):
        return None
    rows = forecasts[forecasts["service"] == service]
    if rows.empty:
        return None
    metric = _pick_metric(list(dict.fromkeys(rows["metric"])), resource) if "metric" in rows else None
    if metric is not None:
        rows = rows[rows["metric"] == metric]
    if "model" in rows and rows["model"].nunique() > 1:
        counts = rows["model"].value_counts(sort=False)
        rows = rows[rows["model"] == counts.idxmax()]
    capacity = "capacity" if "capacity" in rows and rows["capacity"].notna().any() else None
    planned = PLANNED if PLANNED in rows and rows[PLANNED].notna().any() else None
    keep = ["ts", *dict.fromkeys(cols), *(c for c in (capacity, planned) if c)]
    frame = rows[keep].assign(ts=_ns(rows["ts"])).drop_duplicates("ts").sort_values("ts")
    actual = None
    past = _history_rows(history, service, metric, frame["ts"].min(), 2 * len(frame))
    if past is not None:
        frame = past.merge(frame, on="ts", how="outer").sort_values("ts", ignore_index=True)
        actual = "actual"
    title = f"{service} · {metric}" if metric is not None else str(service)
    return Fan(service, metric, title, frame.reset_index(drop=True), *cols, capacity, actual, planned)


def _ns(values: pd.Series) -> pd.Series:
    """Timestamps at one resolution, so frames from different sources merge on them."""
    return pd.to_datetime(values).astype("datetime64[ns]")


def _history_rows(history, service, metric, start, limit: int) -> pd.DataFrame | None:
    if history is None or history.empty or not {"service", "ts", "y"} <= set(history.columns):
        return None
    rows = history[history["service"] == service]
    if metric is not None and "metric" in rows:
        rows = rows[rows["metric"] == metric]
    rows = rows.assign(ts=_ns(rows["ts"]))
    rows = rows[rows["ts"] < start].sort_values("ts").drop_duplicates("ts").tail(max(limit, 1))
    if rows.empty:
        return None
    return rows[["ts", "y"]].rename(columns={"y": "actual"})


def _fans(tables: dict[str, pd.DataFrame], n: int) -> list[Fan]:
    out = []
    for service, resource in constrained(tables["runway"], tables["forecasts"], n):
        fan = fan_data(tables["forecasts"], tables["history"], service, resource)
        if fan is not None:
            out.append(fan)
    return out


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------


class _Formats:
    """The workbook's cell formats, created once."""

    def __init__(self, wb) -> None:
        self.header = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "text_wrap": True, "valign": "top"}
        )
        self.note = wb.add_format({"italic": True, "font_color": "#7F7F7F"})
        self.title = wb.add_format({"bold": True, "font_size": 12})
        self.num = {k: wb.add_format({"num_format": v}) for k, v in _XLSX_NUM.items()}
        self.hl = {
            "bad": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "warn": wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
            "info": wb.add_format({"bg_color": "#DDEBF7", "font_color": "#1F4E78"}),
        }

    def of(self, kind: str):
        return self.num.get(kind)


def _write_cell(ws, row: int, col: int, value: object, kind: str, fmts: _Formats, column: str) -> int:
    """Write one value as its own type; returns the width it needs. Strings never become formulas."""
    kind = _cell_kind(value, kind)
    fmt = fmts.of(kind)
    if _is_missing(value):
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
    if _is_number(value):
        number = float(value)
        if not math.isfinite(number):
            text = "beyond horizon" if column.startswith("days_left") and number > 0 else str(number)
            ws.write_string(row, col, text)
            return len(text)
        ws.write_number(row, col, number, fmt)
        return len(f"{number:,.2f}") + (1 if kind in ("money", "cents") else 0)
    text = str(value)[:_XLSX_MAX_STR]
    ws.write_string(row, col, text)
    return len(text)


def _write_column(ws, j: int, name: str, column: pd.Series, per_row: list[str] | None, fmts: _Formats) -> int:
    """Write one column from row 1 down; returns the width it needs (judged on its first 1000 rows).

    Finite float/int and datetime columns take a fast path; anything else goes cell by cell.
    """
    kind = column_kind(name, column)
    if per_row is None and kind in ("date", "datetime"):
        return _write_datetimes(ws, j, column, fmts.of(kind)) or (10 if kind == "date" else 16)
    if per_row is None and kind in _XLSX_NUM:
        values = column.to_numpy(dtype=float, na_value=np.nan)
        if not np.isinf(values).any():
            return _write_numbers(ws, j, values, fmts.of(kind))
    kinds = per_row or [kind] * len(column)
    width = 0
    for i, value in enumerate(column.tolist()):
        need = _write_cell(ws, i + 1, j, value, kinds[i], fmts, name)
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


def _write_table(
    ws, frame: pd.DataFrame, fmts: _Formats, row_kinds: dict[str, list[str]] | None = None
) -> None:
    """Header row (frozen, autofiltered), typed cells, widths from content, highlights."""
    columns = list(frame.columns)
    body = frame.head(_XLSX_MAX_ROWS)
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


def _highlight(ws, frame: pd.DataFrame, nrows: int, fmts: _Formats) -> None:
    """Conditional formats: alert severity, runway status, capped, over-provisioned."""
    if nrows == 0:
        return
    for j, name in enumerate(frame.columns):
        for value, style in _HIGHLIGHTS.get(name, {}).items():
            criteria = "TRUE" if value is True else f'"{value}"'
            ws.conditional_format(
                1,
                j,
                nrows,
                j,
                {"type": "cell", "criteria": "==", "value": criteria, "format": fmts.hl[style]},
            )


class _ChartData:
    """Appends titled blocks to the ChartData sheet; returns where each block's cells are."""

    def __init__(self, ws, fmts: _Formats) -> None:
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
                _write_cell(
                    self.ws, top + 2 + i, j, value, kinds.get(str(name), "float"), self.fmts, str(name)
                )
        last = top + 1 + len(frame)
        self.row = last + 2
        return top, top + 1, last


def _cost_chart(wb, cd: _ChartData, totals: pd.DataFrame):
    """Column chart of monthly cost per scenario and period, data on ChartData; None if no data."""
    if totals.empty or "monthly_cost" not in totals:
        return None
    table = _pivot(totals, "monthly_cost").reset_index()
    kinds = {"period": "date", **{str(c): "money" for c in table.columns[1:]}}
    title_row, header, last = cd.block("Monthly cost by scenario (all services)", table, kinds)
    chart = wb.add_chart({"type": "column"})
    for j in range(1, len(table.columns)):
        chart.add_series(
            {
                "name": ["ChartData", header, j],
                "categories": ["ChartData", header + 1, 0, last, 0],
                "values": ["ChartData", header + 1, j, last, j],
            }
        )
    chart.set_title({"name": ["ChartData", title_row, 0], "name_font": {"size": 11}})
    chart.set_x_axis({"num_format": "yyyy-mm", "num_font": {"rotation": -45}})
    chart.set_y_axis({"num_format": "$#,##0", "major_gridlines": {"visible": True}})
    chart.set_size({"width": 640, "height": 320})
    return chart


_FAN_STYLE = {
    "actual": {"color": "#404040", "width": 1.0},
    "lo": {"color": "#6BAED6", "width": 1.25, "dash_type": "dash"},
    "mid": {"color": "#08519C", "width": 2.25},
    "hi": {"color": "#6BAED6", "width": 1.25, "dash_type": "dash"},
    "capacity": {"color": "#CB181D", "width": 2.0, "dash_type": "long_dash"},
    "planned": {"color": "#E6550D", "width": 1.75},
}


def _fan_chart(wb, cd: _ChartData, fan: Fan):
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
                "name": ["ChartData", header, j],
                "categories": ["ChartData", header + 1, 0, last, 0],
                "values": ["ChartData", header + 1, j, last, j],
                "line": _FAN_STYLE[role],
                "marker": {"type": "none"},
            }
        )
    chart.set_title({"name": ["ChartData", title_row, 0], "name_font": {"size": 11}})
    # Excel's date axis counts whole days: hourly points would pile up, so they get a text axis.
    axis = {"date_axis": True} if ts_kind == "date" else {"text_axis": True}
    chart.set_x_axis({**axis, "num_format": _XLSX_NUM[ts_kind], "num_font": {"rotation": -45}})
    chart.set_y_axis({"major_gridlines": {"visible": True}, "num_format": "#,##0.0"})
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    chart.set_size({"width": 640, "height": 320})
    return chart


def write_xlsx(bundle: PlanBundle, path: Path, max_charts: int = MAX_CHARTS) -> Path:
    """The workbook: one sheet per table, charts on Summary, chart data on ChartData."""
    import xlsxwriter

    tables = _tables(bundle)
    options = {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "remove_timezone": True,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(str(path), options) as wb:
        fmts = _Formats(wb)
        sheets = {}
        for spec in (s for s in TABLES if s.sheet):
            if spec.field in OPTIONAL and getattr(bundle, spec.field) is None:
                continue
            ws = wb.add_worksheet(spec.sheet)
            kinds = {"value": _summary_kinds(tables["summary"])} if spec.field == "summary" else None
            _write_table(ws, tables[spec.field], fmts, {k: v for k, v in (kinds or {}).items() if v})
            sheets[spec.field] = ws
        cd = _ChartData(wb.add_worksheet("ChartData"), fmts)
        _place_charts(wb, sheets["summary"], cd, tables, max_charts)
    return path


def _place_charts(wb, summary_ws, cd: _ChartData, tables: dict[str, pd.DataFrame], max_charts: int) -> None:
    """Cost chart at the top right of Summary, fan charts below it in two columns."""
    col0 = len(tables["summary"].columns) + 1
    cost = _cost_chart(wb, cd, scenario_totals(tables["plan"]))
    if cost is not None:
        summary_ws.insert_chart(1, col0, cost)
    for k, fan in enumerate(_fans(tables, max_charts)):
        chart = _fan_chart(wb, cd, fan)
        summary_ws.insert_chart(18 + 17 * (k // 2), col0 + 8 * (k % 2), chart)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def neutralise_csv(value: object) -> object:
    """A string starting with ``= + - @``, tab or CR gets a leading ``'``; anything else unchanged."""
    if isinstance(value, str) and value.startswith(CSV_TRIGGERS):
        return "'" + value
    return value


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.astype(object).map(neutralise_csv)
    out.columns = [neutralise_csv(c) for c in out.columns]
    return out


def write_csv(bundle: PlanBundle, folder: Path) -> list[Path]:
    """One ``<table>.csv`` per table (optional tables such as ``history.csv`` only when given)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, frame in _tables(bundle).items():
        if name in OPTIONAL and getattr(bundle, name) is None:
            continue
        path = folder / f"{name}.csv"
        _csv_safe(frame).to_csv(path, index=False)
        out.append(path)
    return out


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1200px;
 padding:0 24px 48px;color:#222;line-height:1.4}
h1{margin:24px 0 4px}h2{border-bottom:2px solid #ddebf7;padding-bottom:4px;margin-top:36px}
nav a{margin-right:12px;font-size:14px}.muted{color:#777;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;
 padding:10px 14px;min-width:180px}.card .v{font-size:22px;font-weight:600}.card .n{font-size:12px;color:#777}
.table-wrap{overflow-x:auto;max-height:560px;overflow-y:auto;border:1px solid #eee}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eee;
 text-align:left;white-space:nowrap}th{background:#ddebf7;position:sticky;top:0}td.num{text-align:right}
tr.bad td.hl,td.bad{background:#ffc7ce;color:#9c0006}td.warn{background:#ffeb9c;color:#9c5700}
td.info{background:#ddebf7;color:#1f4e78}.figs{display:flex;flex-wrap:wrap;gap:12px}
.figs img{max-width:100%;border:1px solid #eee}
"""


def _fmt(value: object, kind: str, column: str) -> str:
    """A cell as display text (not yet escaped)."""
    kind = _cell_kind(value, kind)
    if _is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime | dt.date):
        return pd.Timestamp(value).strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M")
    if _is_number(value):
        number = float(value)
        if not math.isfinite(number):
            return "beyond horizon" if column.startswith("days_left") and number > 0 else str(number)
        return {
            "money": f"${number:,.0f}",
            "cents": f"${number:,.2f}",
            "ratio": f"{number:.1%}",
            "int": f"{number:,.0f}",
        }.get(kind, f"{number:,.2f}")
    return str(value)


def _cell_class(column: str, value: object) -> str:
    classes = ["num"] if _is_number(value) else []
    key = bool(value) if isinstance(value, (bool, np.bool_)) else value
    style = _HIGHLIGHTS.get(column, {}).get(key) if isinstance(key, str | bool) else None
    if style:
        classes.append(style)
    return f' class="{" ".join(classes)}"' if classes else ""


def html_table(frame: pd.DataFrame, max_rows: int = HTML_MAX_ROWS, row_kinds: dict | None = None) -> str:
    """An escaped ``<table>`` of at most ``max_rows`` rows, with a note when cut or empty."""
    columns = [str(c) for c in frame.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = frame.head(max_rows)
    kinds = {c: (row_kinds or {}).get(c) or [column_kind(c, frame[c])] * len(body) for c in columns}
    rows = []
    for i, record in enumerate(body.itertuples(index=False, name=None)):
        cells = "".join(
            f"<td{_cell_class(c, v)}>{html.escape(_fmt(v, kinds[c][i], c))}</td>"
            for c, v in zip(columns, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    note = ""
    if body.empty:
        note = f'<p class="muted">{NO_ROWS}</p>'
    elif len(frame) > len(body):
        note = f'<p class="muted">showing {len(body):,} of {len(frame):,} rows; all rows in {XLSX_NAME} and csv/</p>'
    table = f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    return table + note


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _summary_cards(summary: pd.DataFrame) -> str:
    if summary.empty or "metric" not in summary or "value" not in summary:
        return html_table(summary)
    kinds = _summary_kinds(summary) or []
    notes = summary["note"] if "note" in summary else [""] * len(summary)
    cards = []
    for (metric, value, note), kind in zip(
        zip(summary["metric"], summary["value"], notes, strict=True), kinds, strict=True
    ):
        cards.append(
            f'<div class="card"><div class="n">{html.escape(str(metric))}</div>'
            f'<div class="v">{html.escape(_fmt(value, kind, "value"))}</div>'
            f'<div class="n">{html.escape("" if _is_missing(note) else str(note))}</div></div>'
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _partial_months(totals: pd.DataFrame) -> dict:
    """period -> "(N of M days)" for the months the plan covers only in part."""
    if "days_planned" not in totals:
        return {}
    out = {}
    for period, days in totals.drop_duplicates("period")[["period", "days_planned"]].itertuples(index=False):
        stamp = pd.Timestamp(period)
        if pd.notna(days) and int(days) < stamp.days_in_month:
            out[period] = f"({int(days)} of {stamp.days_in_month} days)"
    return out


def _scenario_figures(plan: pd.DataFrame) -> list[str]:
    totals = scenario_totals(plan)
    out = []
    if totals.empty:
        return out
    notes = _partial_months(totals)
    if "monthly_cost" in totals:
        png = plots.scenario_chart(
            _pivot(totals, "monthly_cost"),
            title="Monthly cost per scenario (run rate at each month's peak)",
            ylabel="monthly cost",
            money=True,
            notes=notes,
        )
        out.append(_img(png, "Monthly cost per scenario"))
    if "required_instances" in totals:
        ref = _pivot(totals, "instances").iloc[:, 0] if "instances" in totals else None
        png = plots.scenario_chart(
            _pivot(totals, "required_instances"),
            title="Required instances per scenario (all services)",
            ylabel="instances",
            reference=ref,
            reference_label="current instances",
            notes=notes,
        )
        out.append(_img(png, "Required instances per scenario"))
    return out


def _fan_figures(tables: dict[str, pd.DataFrame], n: int) -> list[str]:
    out = []
    for fan in _fans(tables, n):
        png = plots.fan_chart(
            fan.frame,
            title=fan.title,
            lo=fan.lo,
            mid=fan.mid,
            hi=fan.hi,
            capacity=fan.capacity,
            actual=fan.actual,
            planned=fan.planned,
        )
        out.append(_img(png, f"Forecast fan: {fan.title}"))
    return out


def _runway_figure(runway: pd.DataFrame) -> list[str]:
    rows = _runway_scenario(runway)
    if rows.empty or not {"service", "resource", "days_left"} <= set(rows.columns):
        return []
    scenario = rows["scenario"].iloc[0] if "scenario" in rows else ""
    title = f"Days of capacity left ({scenario} scenario; whiskers: earliest to latest crossing)"
    return [_img(plots.runway_chart(rows, title=title), title)]


def _section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def _figs(images: list[str], empty: str) -> str:
    return (
        f'<div class="figs">{"".join(images)}</div>'
        if images
        else f'<p class="muted">{html.escape(empty)}</p>'
    )


def render_html(bundle: PlanBundle, max_charts: int = MAX_CHARTS) -> str:
    """The whole report as one self-contained HTML string."""
    t = _tables(bundle)
    sections = [
        _section("summary", "Summary", _summary_cards(t["summary"])),
        _section("alerts", "Alerts", html_table(t["alerts"])),
        _section(
            "constrained",
            "Most constrained services",
            _figs(_fan_figures(t, max_charts), "no forecasts to chart"),
        ),
        _section(
            "runway", "Runway", _figs(_runway_figure(t["runway"]), "no runway rows"), html_table(t["runway"])
        ),
        _section(
            "scenarios",
            "Scenario comparison",
            _figs(_scenario_figures(t["plan"]), "no plan rows"),
            html_table(t["plan"]),
        ),
    ]
    if bundle.autoscaling is not None:
        sections.append(_section("autoscaling", _SPECS["autoscaling"].title, html_table(t["autoscaling"])))
    for name in ("bottlenecks", "rightsizing", "frontier", "accuracy", "forecasts", "assumptions"):
        sections.append(_section(name, _SPECS[name].title, html_table(t[name])))
    nav = "".join(
        f'<a href="#{a}">{html.escape(n)}</a>'
        for a, n in (
            ("summary", "Summary"),
            ("alerts", "Alerts"),
            ("constrained", "Constrained"),
            ("runway", "Runway"),
            ("scenarios", "Scenarios"),
        )
    )
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>capplan capacity plan</title><style>{_CSS}</style></head><body>"
        f'<h1>Capacity plan</h1><p class="muted">generated by capplan, {stamp}</p><nav>{nav}</nav>'
        f"{''.join(sections)}</body></html>"
    )


def write_html(bundle: PlanBundle, path: Path, max_charts: int = MAX_CHARTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(bundle, max_charts), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def export_bundle(
    bundle: PlanBundle,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    *,
    max_charts: int = MAX_CHARTS,
) -> dict[str, Path | list[Path]]:
    """Write the requested formats under ``out_dir``; returns format -> path (csv: list of paths).

    xlsx -> ``out_dir/capplan_plan.xlsx``; csv -> ``out_dir/csv/<table>.csv``;
    html -> ``out_dir/capplan_report.html``. ``max_charts``: fan charts for that many services.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise CapplanError(
            f"export: unknown format(s) {', '.join(map(repr, unknown))}; expected {', '.join(FORMATS)}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path | list[Path]] = {}
    if "xlsx" in formats:
        written["xlsx"] = write_xlsx(bundle, out_dir / XLSX_NAME, max_charts)
    if "csv" in formats:
        written["csv"] = write_csv(bundle, out_dir / CSV_DIR)
    if "html" in formats:
        written["html"] = write_html(bundle, out_dir / HTML_NAME, max_charts)
    return written
