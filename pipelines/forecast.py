"""Forecast publication and scoring flows (the forecast ledger).

``forecast_flow`` loads the registered champions (alias ``champion``), re-fits them on the
warehouse's latest data where it moved on since training (the champion choice is kept, never
re-selected), forecasts every series from its last observation and adds the result to
``forecasts`` as a new vintage: its own ``forecast_id``, the training ``run_id`` of the
champions, ``created_at``, the ``cutoff`` (last timestamp the model saw) and the ``model``.
Every publication is a new vintage (a shorter ``--horizon`` too); none overwrites another. ``score_flow`` joins every
vintage with the actuals that arrived since and writes ``forecast_accuracy``; series whose
latest accuracy is worse than their backtest by more than ``[forecast] degradation_threshold``
are flagged in ``forecast_health`` with a retrain recommendation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from capplan.core.config import Config

from ._env import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402


@dataclass
class Publication:
    forecast_id: str  # this vintage
    run_id: str  # the training run of the champions that made it
    model_version: str
    created_at: pd.Timestamp
    forecasts: pd.DataFrame  # unique_id, ds, model, quantiles, cutoff
    csv: Path | None
    refitted: int = 0  # series whose champions were re-fitted on newer data


@task(name="read-forecast-data", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def read_forecast_data(cfg: Config, as_of: pd.Timestamp | None, horizon: int | str | None):
    from capplan.features.training import read_window, training_data
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        inputs = store.training_inputs(con, as_of, read_window(cfg))
    return training_data(inputs, cfg, horizon)


@task(name="forecast-batch", cache_policy=NONE)
def forecast_batch(inputs: tuple, horizon: int | str | None):
    """One series batch's champions (re-fitted on newer data where needed) forecast."""
    from capplan.evaluation.engine import forecast_batch as run

    return run(*inputs, horizon)


def publish(cfg: Config, horizon: int | str | None, data, parallel: bool = False) -> Publication:
    """A new vintage (its own ``forecast_id``) from the registered champions and ``data`` (the
    warehouse now, or as of a date), one task per series batch of the champions (submitted to
    the flow's task runner when ``parallel``); earlier vintages stay as they are. Any batch
    failing fails the vintage: nothing is stored."""
    from capplan.core.batches import run_batches
    from capplan.evaluation.engine import forecast_inputs, merge_forecasts
    from capplan.warehouse import store, warehouse

    from . import tracking

    champions, version = tracking.load_champions(cfg)
    parts = run_batches(forecast_batch, forecast_inputs(champions.groups, data.groups), parallel, horizon)
    if errors := [p for p in parts if isinstance(p, Exception)]:
        raise errors[0]
    forecasts, refitted = merge_forecasts(parts)
    created = pd.Timestamp.now(tz="UTC").tz_localize(None)
    forecast_id = uuid.uuid4().hex[:16]
    stored = forecasts.assign(forecast_id=forecast_id, run_id=champions.run_id, created_at=created)
    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.save_forecasts(con, stored)
    return Publication(forecast_id, champions.run_id, version, created, forecasts, None, refitted)


@task(name="read-published-forecast", cache_policy=NONE)
def stored(cfg: Config, forecast_id: str) -> Publication:
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        fc = store.forecasts(con, forecast_id)
    first = fc.iloc[0]
    frame = fc.drop(columns=["forecast_id", "run_id", "created_at"])
    return Publication(forecast_id, str(first["run_id"]), "", first["created_at"], frame, None)


@flow(name="capplan-forecast")
def forecast_flow(
    cfg: Config,
    horizon: int | str | None = None,
    out: str | None = None,
    as_of: pd.Timestamp | None = None,
    forecast_id: str | None = None,
    parallel: bool = False,
) -> Publication:
    """Publish a new vintage; ``as_of`` forecasts from the data as it was then (a past vintage);
    ``forecast_id``: no new vintage, that stored one (a resumed run); ``parallel``: the batches
    on the flow's task runner."""
    pub = (
        stored(cfg, forecast_id)
        if forecast_id
        else publish(cfg, horizon, read_forecast_data(cfg, as_of, horizon), parallel)
    )
    if out:
        from capplan.reporting.csv import forecast_view, write_safe_csv
        from capplan.warehouse import store, warehouse

        with warehouse(cfg.warehouse_path, read_only=True) as con:
            series = store.read(con, "series")
        pub.csv = write_safe_csv(forecast_view(pub.forecasts, series, cfg.forecast.quantiles), Path(out))
    return pub


@flow(name="capplan-score")
def score_flow(cfg: Config) -> pd.DataFrame:
    """Score every stored vintage against the actuals; returns the health (degradation) table."""
    from capplan.evaluation import score_vintages
    from capplan.features.training import planning_actuals, scoring_since
    from capplan.warehouse import store, warehouse

    from . import tracking

    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.latest_forecast_id(con)  # a clear error when nothing was published yet
        fc = store.forecasts(con)
        act, freq_of = planning_actuals(
            store.observations(con, since=scoring_since(fc, cfg)), store.read(con, "series"), cfg
        )
        acc, health = score_vintages(
            fc, act, freq_of, store.backtest_reference(con), cfg.forecast.degradation_threshold
        )
        if acc.empty:  # no actuals have arrived for any published forecast yet
            return health
        store.save_scores(con, acc, health)
    tracking.log_accuracy_by_week(cfg, acc)
    return health
