"""Plan flow: the latest published forecast -> ``planning.build_plan`` -> the plan tables.

Every plan is stored under a new ``plan_id`` (``plan_runs`` says when, from which forecast
vintage ``forecast_id``, the training run ``forecast_run_id`` of its champions, and config), so this month's plan can be compared with last month's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pandas as pd

from capplan.core.bundles import PlanTables
from capplan.core.config import Config, config_hash

from ._env import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402


@dataclass
class PlanResult:
    tables: PlanTables
    as_of: pd.Timestamp
    run_id: str  # the training run of the champions whose forecast the plan was built on
    plan_id: str
    forecast_id: str = ""  # the forecast vintage the plan was built on
    delivery: object | None = None  # reporting.webhook.Delivery of the [alerts] message; None: none sent


@task(name="read-plan-inputs", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def read_inputs(cfg: Config):
    from capplan.planning import history_days
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        return store.plan_inputs(con, history_days(cfg))


@task(name="plan-service-batch", cache_policy=NONE)
def plan_batch(inputs, cfg: Config, start):
    """The autoscaling replay and long-range fits of one service batch (:mod:`capplan.planning.parts`)."""
    from capplan.planning.parts import service_parts

    return service_parts(inputs, cfg, start)


@task(name="build-plan", cache_policy=NONE)
def build(cfg: Config, inputs, parts=None) -> PlanResult:
    from capplan.planning import build_plan

    tables = build_plan(inputs, cfg, parts)
    return PlanResult(tables, inputs.as_of, inputs.run_id, uuid.uuid4().hex[:16], inputs.forecast_id)


def _parts(cfg: Config, inputs):
    """The per-service parts, a task per service batch (None: one batch; build_plan makes them)."""
    from capplan.core.batches import all_or_raise, pool_size, run_batches
    from capplan.planning.parts import merge_parts, partition

    from .runners import pool_window

    batches, start = partition(inputs, cfg, pool_size(cfg.orchestration.workers))
    if len(batches) < 2:
        return None
    # any failure fails the plan
    return merge_parts(all_or_raise(run_batches(plan_batch, batches, True, cfg, start, **pool_window(cfg))))


@task(name="store-plan", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def save(cfg: Config, result: PlanResult) -> None:
    from capplan.warehouse import store, warehouse

    run = {
        "created_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "as_of": result.as_of,
        "horizon_end": result.tables.plan["ds"].max() if len(result.tables.plan) else pd.NaT,
        "forecast_run_id": result.run_id,
        "forecast_id": result.forecast_id,
        "config_hash": config_hash(cfg),
        "scenarios": ", ".join(cfg.scenarios),
        "expected_scenario": cfg.planning.expected_scenario,
    }
    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.save_plan(con, result.plan_id, run, result.tables)


@task(name="read-stored-plan", cache_policy=NONE)
def stored(cfg: Config, plan_id: str) -> PlanResult:
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        run = store.plan_run(con, plan_id)
        tables = PlanTables(**store.plan_tables(con, plan_id))
    return PlanResult(tables, run["as_of"], run["forecast_run_id"], plan_id, run["forecast_id"])


@flow(name="capplan-plan")
def plan_flow(
    cfg: Config, plan_id: str | None = None, notify: bool = True, parallel: bool = False
) -> PlanResult:
    """Build and store a new plan from the latest forecast; ``plan_id``: that stored plan (resumed).
    ``parallel``: the per-service parts (autoscaling replay, long-range fits) by service batch on
    the flow's task runner (:func:`capplan.pipelines.runners.on_runner`), then the plan from them.

    A new plan's alerts then go to ``[alerts] webhook_url`` (``notify``); a failed delivery is
    logged and kept on the result, the plan is stored first whatever it does. A resumed plan
    sends nothing (its message went out with it, or was logged as failed)."""
    if plan_id:
        return stored(cfg, plan_id)
    inputs = read_inputs(cfg)
    parts = _parts(cfg, inputs) if parallel else None
    result = build(cfg, inputs, parts)
    save(cfg, result)
    if notify:
        from capplan.reporting.webhook import deliver_alerts

        result.delivery = deliver_alerts(cfg.alerts, result.plan_id, result.as_of, result.tables.alerts)
    return result
