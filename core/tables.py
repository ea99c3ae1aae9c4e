"""Every warehouse table, declared once: columns and types, key, write mode, column family.

The warehouse generates its DDL from these declarations and checks every write against them
(:mod:`capplan.warehouse.store`); ``capplan status`` checks every key. A table never grows a
column silently: a frame with an undeclared column is refused, naming the table and column.
The one exception is declared: a table with a *family* takes any number of columns of that
family, added explicitly when they first appear:

* ``quantiles``: one DOUBLE per forecast quantile (``p10``, ``p50``...; named by
  :func:`capplan.core.contracts.quantile_col`), because the configured quantiles decide them;
* ``metrics``: one DOUBLE per evaluation metric (``pinball_p90``, ``coverage_p10_p90``...),
  because the quantiles decide those too.

Write modes (dlt's ``write_disposition``):

* ``merge``: upsert by key (input tables; the loader does it, counting what changed);
* ``scope``: replace the rows of one run (``run_id``), keep the others;
* ``replace``: the whole table is recomputed and replaced by each write;
* ``append``: every write adds rows under a new id (``plan_id``, a forecast's ``forecast_id``):
  nothing is replaced, so every plan and every forecast vintage stays comparable with the last.

Column names match the frames (``unique_id, ds, y``), so frames move in and out unrenamed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Mode = Literal["merge", "scope", "replace", "append"]
Family = Literal["quantiles", "metrics"] | None

_QUANTILE = re.compile(r"^p\d+(\.\d+)?$")
_METRIC = re.compile(r"^[a-z][a-z0-9_.]*$")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), in storage order
    key: tuple[str, ...]
    mode: Mode
    family: Family = None
    indexed: bool = True  # False: the key is enforced by the writer, not a DuckDB index
    derived: bool = False  # recomputed by a flow (safe to rebuild when its shape changed)
    doc: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def type_of(self, column: str) -> str | None:
        """Declared type of ``column`` (a family column is DOUBLE); None when undeclared."""
        for c, t in self.columns:
            if c == column:
                return t
        if self.family == "quantiles" and _QUANTILE.match(column):
            return "DOUBLE"
        if self.family == "metrics" and _METRIC.match(column):
            return "DOUBLE"
        return None


def _t(name, columns, key, mode, **kw) -> Table:
    cols = tuple(tuple(c.split(" ", 1)) for c in columns)
    return Table(name, cols, tuple(key), mode, **kw)


_PLAN = ("plan_id VARCHAR",)
_STS = ("service VARCHAR", "resource VARCHAR", "scenario VARCHAR")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        # --- inputs (merge by key, by the loader) -------------------------------------------
        _t("series", ("unique_id VARCHAR", "service VARCHAR", "metric VARCHAR", "region VARCHAR",
                      "unit VARCHAR", "kind VARCHAR", "frequency VARCHAR", "source VARCHAR"),
           ["unique_id"], "merge", doc="the series catalogue"),
        _t("observations", ("unique_id VARCHAR", "ds TIMESTAMP", "y DOUBLE"), ["unique_id", "ds"], "merge",
           indexed=False, doc="usage samples on each series' grid"),
        _t("gaps", ("unique_id VARCHAR", "gap_start TIMESTAMP", "gap_end TIMESTAMP", "missing_steps BIGINT"),
           ["unique_id", "gap_start"], "merge", doc="missing runs per series"),
        _t("kpis", ("kpi VARCHAR", "ds TIMESTAMP", "value DOUBLE"), ["kpi", "ds"], "merge"),
        _t("events", ("name VARCHAR", "kind VARCHAR", "start TIMESTAMP", "end TIMESTAMP",
                      "services VARCHAR[]", "expected_uplift DOUBLE"), ["name", "start"], "merge"),
        _t("inventory", ("service VARCHAR", "resource VARCHAR", "capacity_per_instance DOUBLE", "unit VARCHAR",
                         "instances BIGINT", "target_utilization DOUBLE", "max_instances BIGINT",
                         "cost_per_instance_hour DOUBLE", "instance_type VARCHAR"),
           ["service", "resource"], "merge"),
        _t("loadtests", ("service VARCHAR", "instances DOUBLE", "concurrency DOUBLE", "throughput DOUBLE",
                         "latency_p99_ms DOUBLE", "point DOUBLE"), ["service", "point"], "merge"),
        _t("load_batches", ("batch_id VARCHAR", "source VARCHAR", "kind VARCHAR", "path VARCHAR",
                            "content_hash VARCHAR", "rows_in BIGINT", "rows_loaded BIGINT",
                            "rows_quarantined BIGINT", "rows_inserted BIGINT", "rows_updated BIGINT",
                            "rows_unchanged BIGINT", "rows_duplicate BIGINT", "rows_regridded BIGINT",
                            "status VARCHAR", "message VARCHAR", "loaded_at TIMESTAMP"),
           ["batch_id"], "append", doc="one row per loaded or rejected file"),
        _t("quarantine", ("batch_id VARCHAR", "source VARCHAR", "path VARCHAR", "line VARCHAR", "raw VARCHAR",
                          "check VARCHAR", "reason VARCHAR"),
           ["batch_id", "line"], "append", indexed=False, doc="bad rows with the check that failed"),
        _t("stage_runs", ("stage VARCHAR", "stage_key VARCHAR", "output VARCHAR", "finished_at TIMESTAMP"),
           ["stage", "stage_key"], "scope", derived=True,
           doc="resume, don't redo: each finished pipeline stage under the key of what it read"),
        # --- training and the forecast ledger ------------------------------------------------
        _t("champions", ("run_id VARCHAR", "unique_id VARCHAR", "champion VARCHAR", "reason VARCHAR",
                         "frequency VARCHAR", "n BIGINT"),
           ["run_id", "unique_id"], "scope", family="metrics", doc="the champion per series per training"),
        _t("backtests", ("run_id VARCHAR", "unique_id VARCHAR", "model VARCHAR", "cutoff TIMESTAMP",
                         "ds TIMESTAMP", "y DOUBLE"),
           ["run_id", "unique_id", "model", "cutoff", "ds"], "scope", family="quantiles"),
        _t("backtest_metrics", ("run_id VARCHAR", "unique_id VARCHAR", "model VARCHAR", "n BIGINT"),
           ["run_id", "unique_id", "model"], "scope", family="metrics"),
        _t("forecasts", ("forecast_id VARCHAR", "run_id VARCHAR", "created_at TIMESTAMP", "cutoff TIMESTAMP",
                         "unique_id VARCHAR", "model VARCHAR", "ds TIMESTAMP"),
           ["forecast_id", "unique_id", "ds"], "append", family="quantiles",
           doc="every published vintage (forecast_id), with the training run (run_id) of its champions"),
        _t("forecast_accuracy", ("forecast_id VARCHAR", "run_id VARCHAR", "created_at TIMESTAMP",
                                 "cutoff TIMESTAMP", "unique_id VARCHAR", "model VARCHAR", "n BIGINT"),
           ["forecast_id", "unique_id", "model"], "replace", family="metrics", derived=True),
        _t("forecast_health", ("unique_id VARCHAR", "forecast_id VARCHAR", "run_id VARCHAR",
                               "created_at TIMESTAMP", "mase DOUBLE", "reference DOUBLE", "change DOUBLE",
                               "degraded BOOLEAN", "recommendation VARCHAR"),
           ["unique_id"], "replace", derived=True),
        # --- plans: every plan is kept, under its plan_id ------------------------------------
        _t("plan_runs", ("plan_id VARCHAR", "created_at TIMESTAMP", "as_of TIMESTAMP", "horizon_end TIMESTAMP",
                         "forecast_run_id VARCHAR", "config_hash VARCHAR", "scenarios VARCHAR",
                         "expected_scenario VARCHAR", "forecast_id VARCHAR"),
           ["plan_id"], "append", derived=True, doc="one row per plan"),
        _t("plan", (*_PLAN, "service VARCHAR", "resource VARCHAR", "scenario VARCHAR", "ds TIMESTAMP",
                    "quantile DOUBLE", "demand DOUBLE", "demand_low DOUBLE", "demand_high DOUBLE", "unit VARCHAR",
                    "instances DOUBLE", "target_utilization DOUBLE", "usable_capacity DOUBLE",
                    "instances_required DOUBLE", "instances_uncapped DOUBLE", "capped BOOLEAN",
                    "max_instances DOUBLE", "cost_per_instance_hour DOUBLE", "cost_per_hour DOUBLE",
                    "cost_per_hour_uncapped DOUBLE", "demand_unserved DOUBLE",
                    "utilization_at_current DOUBLE", "sizing_basis VARCHAR"),
           ["plan_id", "service", "resource", "scenario", "ds"], "append", family="quantiles", derived=True),
        _t("plan_months", (*_PLAN, *_STS, "period TIMESTAMP", "days_planned BIGINT", "demand_peak DOUBLE",
                           "unit VARCHAR", "usable_capacity DOUBLE", "instances DOUBLE",
                           "instances_required DOUBLE", "instances_uncapped DOUBLE", "capped BOOLEAN",
                           "demand_unserved DOUBLE", "monthly_cost DOUBLE", "monthly_cost_capped DOUBLE",
                           "sizing_basis VARCHAR"),
           ["plan_id", "service", "resource", "scenario", "period"], "append", derived=True),
        _t("plan_totals", (*_PLAN, "scenario VARCHAR", "period TIMESTAMP", "monthly_cost DOUBLE",
                           "monthly_cost_capped DOUBLE", "instances_required DOUBLE",
                           "instances_uncapped DOUBLE", "instances DOUBLE", "days_planned BIGINT"),
           ["plan_id", "scenario", "period"], "append", derived=True),
        _t("plan_summary", (*_PLAN, "metric VARCHAR", "value DOUBLE", "note VARCHAR"),
           ["plan_id", "metric"], "append", derived=True),
        _t("runway", (*_PLAN, *_STS, "status VARCHAR", "crossing TIMESTAMP", "crossing_earliest TIMESTAMP",
                      "crossing_latest TIMESTAMP", "days_left DOUBLE", "days_left_min DOUBLE",
                      "days_left_max DOUBLE", "horizon_days DOUBLE", "as_of TIMESTAMP"),
           ["plan_id", "service", "resource", "scenario"], "append", derived=True),
        _t("bottlenecks", (*_PLAN, "service VARCHAR", "scenario VARCHAR", "resource VARCHAR", "rank BIGINT",
                           "binding BOOLEAN", "basis VARCHAR", "days_left DOUBLE", "peak_utilization DOUBLE",
                           "lag_days DOUBLE", "utilization_gap DOUBLE"),
           ["plan_id", "service", "scenario", "resource"], "append", derived=True),
        _t("rightsizing", (*_PLAN, "service VARCHAR", "instances BIGINT", "instances_recommended BIGINT",
                           "binding_resource VARCHAR", "max_p95_utilization DOUBLE", "over_provisioned BOOLEAN",
                           "monthly_saving DOUBLE", "trailing_need DOUBLE", "forecast_need DOUBLE",
                           "action VARCHAR", "monthly_cost_change DOUBLE"),
           ["plan_id", "service"], "append", derived=True),
        _t("alternatives", (*_PLAN, "service VARCHAR", "instance_type VARCHAR", "instances_required DOUBLE",
                            "monthly_cost DOUBLE", "fits BOOLEAN", "cheapest BOOLEAN", "current BOOLEAN"),
           ["plan_id", "service", "instance_type"], "append", derived=True),
        _t("cost", (*_PLAN, "service VARCHAR", "scenario VARCHAR", "instances_required DOUBLE",
                    "instances_uncapped DOUBLE", "cost_per_hour DOUBLE", "monthly_cost DOUBLE",
                    "monthly_cost_capped DOUBLE", "monthly_cost_no_headroom DOUBLE", "headroom_cost DOUBLE"),
           ["plan_id", "service", "scenario"], "append", derived=True),
        _t("frontier", (*_PLAN, "service VARCHAR", "quantile DOUBLE", "instances_required DOUBLE",
                        "instances_uncapped DOUBLE", "monthly_cost DOUBLE", "extra_monthly_cost DOUBLE"),
           ["plan_id", "service", "quantile"], "append", derived=True),
        _t("alerts", (*_PLAN, "alert BIGINT", "severity VARCHAR", "service VARCHAR", "resource VARCHAR",
                      "kind VARCHAR", "scenarios VARCHAR", "date TIMESTAMP", "days_left DOUBLE",
                      "message VARCHAR"),
           ["plan_id", "alert"], "append", derived=True),
        _t("actions", (*_PLAN, "rank BIGINT", "service VARCHAR", "action VARCHAR", "by_date TIMESTAMP",
                       "days_left DOUBLE", "order_by_date TIMESTAMP", "severity VARCHAR", "instances DOUBLE",
                       "instances_recommended DOUBLE",
                       "binding_resource VARCHAR", "monthly_cost_change DOUBLE", "scenarios VARCHAR",
                       "note VARCHAR"),
           ["plan_id", "service"], "append", derived=True, doc="what to do per service, worst first"),
        _t("plan_assumptions", (*_PLAN, "key VARCHAR", "value VARCHAR", "note VARCHAR"),
           ["plan_id", "key"], "append", derived=True),
        _t("driver_effects", (*_PLAN, "scenario VARCHAR", "unique_id VARCHAR", "kpi VARCHAR", "growth DOUBLE",
                              "coefficient DOUBLE", "r2 DOUBLE", "uplift_at_horizon_end DOUBLE"),
           ["plan_id", "scenario", "unique_id", "kpi"], "append", derived=True),
        _t("capacity_models", (*_PLAN, "service VARCHAR", "lam DOUBLE", "sigma DOUBLE", "kappa DOUBLE",
                               "r2 DOUBLE", "n_peak DOUBLE", "x_peak DOUBLE", "n_knee DOUBLE", "points BIGINT"),
           ["plan_id", "service"], "append", derived=True),
        _t("autoscaling", (*_PLAN, "service VARCHAR", "policy VARCHAR", "binding_resource VARCHAR",
                           "steps BIGINT", "under_provisioned_minutes DOUBLE", "peak_shortfall DOUBLE",
                           "instance_hours DOUBLE", "cost DOUBLE", "mean_utilization DOUBLE",
                           "scaling_actions BIGINT", "winner BOOLEAN"),
           ["plan_id", "service", "policy"], "append", derived=True,
           doc="[autoscaling] policies replayed walk-forward on each service's history"),
        _t("scaling_schedule", (*_PLAN, "service VARCHAR", "ds TIMESTAMP", "instances_recommended BIGINT",
                                "binding_resource VARCHAR", "capped BOOLEAN"),
           ["plan_id", "service", "ds"], "append", derived=True,
           doc="predictive instances for the next 48 hours, expected scenario"),
    )
}  # fmt: skip

INPUT_TABLES = ("series", "observations", "gaps", "kpis", "events", "inventory", "loadtests")


@dataclass(frozen=True)
class InputSpec:
    """One input kind as users write it: the columns a file must and may have, and where it loads.

    Readers check ``required``/``optional``; the loader upserts into ``table`` by that table's
    declared key; validation's checks per kind live in ``capplan.warehouse.validation``.
    """

    kind: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    tables: tuple[str, ...]


INPUTS: dict[str, InputSpec] = {
    s.kind: s
    for s in (
        InputSpec("metrics", ("ts", "service", "metric", "value"), ("unit", "region"),
                  ("series", "observations", "gaps")),
        InputSpec("kpis", ("ts", "kpi", "value"), (), ("kpis",)),
        InputSpec("events", ("name", "kind", "start", "end", "services"), ("expected_uplift",), ("events",)),
        InputSpec("inventory", tuple(c for c, _ in TABLES["inventory"].columns if c != "instance_type"),
                  ("instance_type",), ("inventory",)),
        InputSpec("loadtests", ("service", "throughput", "latency_p99_ms"), ("instances", "concurrency"),
                  ("loadtests",)),
    )
}  # fmt: skip
PLAN_TABLES = tuple(n for n, t in TABLES.items() if "plan_id" in t.key and n != "plan_runs")


def table(name: str) -> Table:
    """The declaration of ``name``; a clear error for a table nobody declared."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"table {name!r} is not declared in capplan.core.tables") from None
