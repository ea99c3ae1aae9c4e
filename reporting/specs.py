"""What a plan export shows: the :class:`PlanBundle`, its tables, column kinds and number formats.

Invariants:

* Every table of a :class:`PlanBundle` is written whatever its columns: the known columns first in
  their usual order, then any extra column; a missing optional column is simply absent. An empty
  table gives headers (the known ones when the frame has no columns) and a "no rows" note.
* Number formats follow the column name: money (``cost``, ``saving``) ``$#,##0``; ratios
  (``utilization``, ``coverage``) ``0.0%``; whole numbers ``#,##0``; other numbers ``0.00``;
  dates ``yyyy-mm-dd`` and datetimes ``yyyy-mm-dd hh:mm``.
* One vocabulary: ``instances`` is only today's count; what a plan needs is ``instances_required``
  (``instances_uncapped`` before ``max_instances``); right-sizing recommends
  ``instances_recommended`` and names its ``binding_resource``. ``monthly_cost`` is 730 h times
  the cost per hour at the peak of the row's period (the month in the Scenarios sheet, the
  horizon in cost and frontier rows).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from capplan.core.tables import TABLES as TABLES_DECLARED

XLSX_NAME = "capplan_plan.xlsx"
HTML_NAME = "capplan_report.html"
CSV_DIR = "csv"
FORMATS = ("xlsx", "csv", "html")
MAX_CHARTS = 4
HTML_MAX_ROWS = 500
NO_ROWS = "no rows"
PLANNED = "planned_demand"  # forecasts column: the expected scenario's demand at each ts
TOTALS_COLUMNS = ("scenario", "period", "monthly_cost", "instances_required", "instances", "days_planned")


@dataclass
class PlanBundle:
    """Everything an export shows; each frame is written as it is (see the module docstring).

    ``expected_scenario``: the scenario the fan charts, the constrained-services pick, the runway
    figure and the planned demand use (from config). ``totals``: per ``scenario, period`` (month)
    the ``monthly_cost``, ``instances_required``, ``instances`` and ``days_planned`` of all
    services (each service counted once with its largest value over resources), scenarios in
    config order; the cost charts and the partial-month labels use it as given (no chart when
    ``None`` or empty).
    """

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
    expected_scenario: str
    totals: pd.DataFrame | None = None  # scenario, period, monthly_cost, instances_required, ...
    history: pd.DataFrame | None = None
    autoscaling: pd.DataFrame | None = None  # service, policy, scores, winner (sheet Scaling)
    schedule: pd.DataFrame | None = None  # service, ds, instances_recommended (next 48 hours)
    changes: pd.DataFrame | None = None  # what changed since the previous plan (planning.compare_plans)
    actions: pd.DataFrame | None = None  # what to do per service, worst first (the first sheet)


@dataclass(frozen=True)
class TableSpec:
    field: str  # PlanBundle attribute and CSV file stem
    sheet: str | None  # worksheet name; None: CSV only
    title: str
    columns: tuple[str, ...]  # the usual columns, in display order


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "actions",
        "Actions",
        "Actions: what to do, worst first",
        (
            "rank",
            "service",
            "action",
            "by_date",
            "days_left",
            "order_by_date",
            "severity",
            "instances",
            "instances_recommended",
            "binding_resource",
            "monthly_cost_change",
            "scenarios",
            "note",
        ),
    ),
    TableSpec("summary", "Summary", "Summary", ("metric", "value", "note")),
    TableSpec(
        "plan",
        "Scenarios",
        "Plan per scenario and month",
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
            "instances_required",
            "instances_uncapped",
            "capped",
            "demand_unserved",
            "monthly_cost",  # 730 h x cost per hour at the month's peak, serving the demand (uncapped)
            "monthly_cost_capped",
        ),
    ),
    TableSpec(
        "runway",
        "Runway",
        "Runway",
        tuple(
            c for c in TABLES_DECLARED["runway"].column_names if c not in ("plan_id", "horizon_days", "as_of")
        ),
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
            "instances",
            "instances_recommended",
            "action",
            "binding_resource",
            "trailing_need",
            "forecast_need",
            "over_provisioned",
            "monthly_cost_change",
            "monthly_saving",
        ),
    ),
    TableSpec(
        "frontier",
        "Frontier",
        "Capacity-cost frontier",
        (
            "quantile",
            "monthly_cost",
            "instances_uncapped",
            "instances_required",
        ),  # cost: 730 h x peak over the horizon
    ),
    TableSpec("forecasts", "Forecasts", "Forecasts", ("service", "metric", "ts", "model")),
    TableSpec("accuracy", "Accuracy", "Forecast accuracy", ("service", "metric", "model", "mase", "smape")),
    TableSpec(
        "alerts",
        "Alerts",
        "Alerts",
        ("severity", "service", "resource", "kind", "date", "days_left", "scenarios", "message"),
    ),
    TableSpec("assumptions", "Assumptions", "Assumptions", ("key", "value")),
    TableSpec("history", None, "History", ("service", "metric", "ts", "y")),
    TableSpec(
        "autoscaling",
        "Scaling",
        "Autoscaling policies replayed walk-forward on each service's history, side by side, and the "
        "48-hour schedule",
        (
            "service",
            "policy",
            "winner",
            "binding_resource",
            "under_provisioned_minutes",
            "peak_shortfall",
            "instance_hours",
            "cost",
            "mean_utilization",
            "scaling_actions",
            "steps",
        ),
    ),
    TableSpec(
        "schedule",
        None,  # in the workbook: beside the scores on the Scaling sheet
        "Predictive instances for the next 48 hours (expected scenario, redundancy and bounds applied)",
        ("service", "ds", "instances_recommended", "binding_resource", "capped"),
    ),
)
TABLES += (
    TableSpec(
        "changes",
        "Changes",
        "Changes since the previous plan",
        ("measure", "service", "resource", "scenario", "before", "after", "change", "note"),
    ),
)
TOTALS = TableSpec("totals", None, "Totals per scenario and month", TOTALS_COLUMNS)  # charts only
SPECS = {s.field: s for s in (*TABLES, TOTALS)}
OPTIONAL = ("history", "autoscaling", "schedule", "changes")  # written only when the bundle has them

_MONEY = re.compile(r"cost|saving|spend|budget|price|\$", re.I)
_CENTS = re.compile(r"per_hour|hourly|price|per_instance", re.I)
_RATIO = re.compile(r"utili[sz]ation|coverage|percent|_pct$|%|share", re.I)
HIGHLIGHTS: dict[str, dict[object, str]] = {
    "severity": {"critical": "bad", "warning": "warn", "info": "info"},
    "status": {"already_short": "bad", "within_horizon": "warn"},
    "capped": {True: "bad"},
    "over_provisioned": {True: "warn"},
}
NUMBER_FORMATS = {
    "money": "$#,##0",
    "cents": "$#,##0.00",
    "ratio": "0.0%",
    "int": "#,##0",
    "float": "0.00",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


def nonfinite_text(column: str, number: float) -> str:
    """What a person reads for an infinite or NaN number: "beyond horizon" for days, else nothing."""
    return "beyond horizon" if "days" in column and number > 0 else ""


def is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_))


def name_kind(name: str, values: np.ndarray) -> str:
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
        return name_kind(name, column.to_numpy(dtype=float, na_value=np.nan))
    return "text"


def cell_kind(value: object, column_kind_: str) -> str:
    """Kind of one cell: the column's, or for a text column, the value's own."""
    if column_kind_ != "text":
        return column_kind_
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, dt.datetime):
        return "date" if pd.Timestamp(value) == pd.Timestamp(value).normalize() else "datetime"
    if isinstance(value, dt.date):
        return "date"
    if is_number(value):
        return name_kind("", np.array([float(value)]))
    return "text"


def summary_kinds(frame: pd.DataFrame) -> list[str] | None:
    """Per-row kinds of Summary's ``value`` cells, chosen from the ``metric`` text of the row."""
    if "value" not in frame or "metric" not in frame:
        return None
    out = []
    for metric, value in zip(frame["metric"], frame["value"], strict=True):
        kind = (
            name_kind(str(metric), np.array([float(value)])) if is_number(value) else cell_kind(value, "text")
        )
        out.append(kind)
    return out


def prepare(frame: pd.DataFrame | None, spec: TableSpec) -> pd.DataFrame:
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


def tables(bundle: PlanBundle) -> dict[str, pd.DataFrame]:
    """Every frame of ``bundle`` (the tables and ``totals``), prepared; an absent one: empty."""
    return {
        f.name: prepare(getattr(bundle, f.name), SPECS[f.name]) for f in fields(bundle) if f.name in SPECS
    }


def present(bundle: PlanBundle, name: str) -> bool:
    """Whether the table is written: always for the main tables, when given for optional ones."""
    return name not in OPTIONAL or getattr(bundle, name) is not None


def pivot(totals: pd.DataFrame, value: str) -> pd.DataFrame:
    """``period`` x ``scenario`` table of ``value``, scenarios in the order ``totals`` gives them."""
    order = list(dict.fromkeys(totals["scenario"]))
    table = totals.pivot_table(index="period", columns="scenario", values=value, aggfunc="sum", sort=True)
    return table.reindex(columns=order)


def usable_totals(totals: pd.DataFrame) -> bool:
    """Whether ``totals`` can feed a chart: rows with ``scenario`` and ``period``."""
    return not totals.empty and {"scenario", "period"} <= set(totals.columns)


def partial_months(totals: pd.DataFrame) -> dict:
    """period -> "(N of M days)" for the months the plan covers only in part (from ``days_planned``)."""
    if "days_planned" not in totals or "period" not in totals:
        return {}
    out = {}
    for period, days in totals.drop_duplicates("period")[["period", "days_planned"]].itertuples(index=False):
        stamp = pd.Timestamp(period)
        if pd.notna(days) and int(days) < stamp.days_in_month:
            out[period] = f"({int(days)} of {stamp.days_in_month} days)"
    return out
