"""The frame bundles passed between stages, and the few constants every stage shares.

A flow reads a bundle through ``capplan.warehouse.store`` (``training_inputs``,
``plan_inputs``, ``export_inputs``), hands it to one stage function and writes what comes back.
Bundles hold frames as they are stored (same column names), so nothing is renamed in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd

HOURS_PER_MONTH = 730.0  # 365 * 24 / 12, the usual cloud-billing month


def _empty() -> pd.DataFrame:
    return pd.DataFrame()


@dataclass(frozen=True)
class TrainingInputs:
    """What training reads: the catalogue, observations (up to ``as_of``), events and KPIs."""

    series: pd.DataFrame
    observations: pd.DataFrame  # unique_id, ds, y
    events: pd.DataFrame
    kpis: pd.DataFrame
    fingerprint: str  # a short hash of what the warehouse held (MLflow tag)


@dataclass(frozen=True)
class PlanInputs:
    """What a plan reads: the latest published forecast and everything it is sized against.

    ``history`` holds observations up to the forecast cutoff only (no look-ahead); the training
    frames (``champions``, ``backtest_metrics``, ``champion_backtests``) are those of the run
    whose champions published ``forecasts`` (``run_id``); ``forecast_id`` names the vintage.
    """

    run_id: str
    forecasts: pd.DataFrame  # unique_id, ds, model, cutoff, quantile columns
    series: pd.DataFrame
    inventory: pd.DataFrame
    loadtests: pd.DataFrame = field(default_factory=_empty)
    events: pd.DataFrame = field(default_factory=_empty)
    kpis: pd.DataFrame = field(default_factory=_empty)
    history: pd.DataFrame = field(default_factory=_empty)  # unique_id, ds, y
    champions: pd.DataFrame = field(default_factory=_empty)
    backtest_metrics: pd.DataFrame = field(default_factory=_empty)
    champion_backtests: pd.DataFrame = field(default_factory=_empty)
    forecast_id: str = ""  # the vintage planned on (``run_id`` is the training run of its champions)
    daily_peaks: pd.DataFrame = field(
        default_factory=_empty
    )  # unique_id, ds (day), y: the long-range plan's input

    @property
    def as_of(self) -> pd.Timestamp:
        """The plan's origin: the forecast cutoff (the last timestamp the models saw)."""
        return pd.Timestamp(self.forecasts["cutoff"].max())


@dataclass
class PlanTables:
    """One plan: every table ``build_plan`` returns, stored together under one ``plan_id``."""

    plan: pd.DataFrame
    runway: pd.DataFrame
    bottlenecks: pd.DataFrame
    rightsizing: pd.DataFrame
    alternatives: pd.DataFrame
    cost: pd.DataFrame
    frontier: pd.DataFrame
    alerts: pd.DataFrame
    plan_assumptions: pd.DataFrame
    driver_effects: pd.DataFrame
    capacity_models: pd.DataFrame
    autoscaling: pd.DataFrame
    scaling_schedule: pd.DataFrame
    plan_months: pd.DataFrame
    plan_totals: pd.DataFrame
    plan_summary: pd.DataFrame
    actions: pd.DataFrame  # what to do per service, worst first (planning.actions)
    long_range: pd.DataFrame = field(default_factory=_empty)  # sized long-range demand (planning.procurement)
    purchase_plan: pd.DataFrame = field(
        default_factory=_empty
    )  # instances to buy per scenario, month, service
    long_range_accuracy: pd.DataFrame = field(default_factory=_empty)  # the long-range model's backtest

    def items(self):
        """``(table name, frame)`` for every table, in declaration order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


@dataclass(frozen=True)
class ExportInputs:
    """What an export reads: one stored plan, the forecast it was built on, accuracy, history."""

    plan_id: str
    expected_scenario: str
    tables: dict[str, pd.DataFrame]  # stored plan tables by name (without plan_id)
    forecasts: pd.DataFrame  # the plan's forecast run, with service, metric, unit
    history: pd.DataFrame  # service, metric, ts, y (the weeks before the forecast)
    accuracy: pd.DataFrame  # backtest (champion) and published-vintage scores
    series: pd.DataFrame
    changes: pd.DataFrame | None = None  # planning.compare_plans against the previous plan (None: first)
    accuracy_by_week: pd.DataFrame | None = None  # evaluation.ledger.accuracy_by_week (None: nothing scored)
