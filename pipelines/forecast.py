"""Forecast publication and scoring flows (the forecast ledger).

``forecast_flow`` loads the registered champions (alias ``champion``), forecasts every series
and stores the result in ``forecasts`` with its vintage: the training ``run_id``, ``created_at``,
the ``cutoff`` (last timestamp the model saw) and the ``model``. ``score_flow`` joins every
vintage with the actuals that arrived since and writes ``forecast_accuracy``; series whose
latest accuracy is worse than their backtest by more than ``[forecast] degradation_threshold``
are flagged in ``forecast_health`` with a retrain recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from capplan.core.config import Config, horizon_steps
from capplan.core.contracts import quantile_cols
from capplan.core.errors import CapplanError

from ._env import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402


@dataclass
class Publication:
    run_id: str
    model_version: str
    created_at: pd.Timestamp
    forecasts: pd.DataFrame  # unique_id, ds, model, quantiles, cutoff
    csv: Path | None


def user_view(forecasts: pd.DataFrame, series: pd.DataFrame, quantiles) -> pd.DataFrame:
    """service, metric, region, unit, ts, model, p10, p50, ... (what planners read)."""
    cat = series[["unique_id", "service", "metric", "region", "unit"]]
    out = forecasts.merge(cat, on="unique_id", how="left").rename(columns={"ds": "ts"})
    return out[["service", "metric", "region", "unit", "ts", "model", *quantile_cols(quantiles)]]


def _champion_forecasts(champions, horizon: int | str | None) -> pd.DataFrame:
    from capplan.evaluation import forecast_group

    parts = []
    for result, cov in champions.groups:
        freq = result.spec.freq
        h = horizon_steps(horizon, freq) if horizon is not None else result.horizon
        if h > result.horizon and cov is not None and cov.future is not None:
            raise CapplanError(
                f"--horizon {horizon} is longer than the {result.horizon} steps the champions were trained for "
                f"at frequency {freq} (events are known that far only); retrain with a longer [forecast] horizon"
            )
        fc = forecast_group(result, h, cov)
        first = fc.groupby("unique_id", observed=True)["ds"].transform("min")
        fc["cutoff"] = first - pd.tseries.frequencies.to_offset(freq)
        parts.append(fc)
    return pd.concat(parts, ignore_index=True)


@task(name="publish-forecast", cache_policy=NONE)
def publish(cfg: Config, horizon: int | str | None) -> Publication:
    from capplan.warehouse import store, warehouse

    from . import tracking

    champions, version = tracking.load_champions(cfg)
    forecasts = _champion_forecasts(champions, horizon)
    created = pd.Timestamp.now(tz="UTC").tz_localize(None)
    stored = forecasts.assign(run_id=champions.run_id, created_at=created)
    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.save_forecasts(con, champions.run_id, stored)
    return Publication(champions.run_id, version, created, forecasts, None)


@flow(name="capplan-forecast")
def forecast_flow(cfg: Config, horizon: int | str | None = None, out: str | None = None) -> Publication:
    pub = publish(cfg, horizon)
    if out:
        from capplan.reporting import write_safe_csv
        from capplan.warehouse import store, warehouse

        with warehouse(cfg.warehouse_path, read_only=True) as con:
            series = store.read(con, "series")
        pub.csv = write_safe_csv(user_view(pub.forecasts, series, cfg.forecast.quantiles), Path(out))
    return pub


@flow(name="capplan-score")
def score_flow(cfg: Config) -> pd.DataFrame:
    """Score every stored vintage against the actuals; returns the health (degradation) table."""
    from capplan.evaluation import score_vintages
    from capplan.features.training import planning_actuals
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.latest_forecast_run(con)  # a clear error when nothing was published yet
        fc = store.forecasts(con)
        act, freq_of = planning_actuals(store.observations(con), store.read(con, "series"), cfg)
        acc, health = score_vintages(
            fc, act, freq_of, store.backtest_reference(con), cfg.forecast.degradation_threshold
        )
        if acc.empty:  # no actuals have arrived for any published forecast yet
            return health
        store.save_scores(con, acc, health)
    return health
