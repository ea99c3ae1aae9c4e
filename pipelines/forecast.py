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


@task(name="publish-forecast", cache_policy=NONE)
def publish(cfg: Config, horizon: int | str | None) -> Publication:
    from capplan.warehouse.connection import warehouse
    from capplan.warehouse.frames import replace_rows

    from . import tracking
    from .engine import forecast_group

    champions, version = tracking.load_champions(cfg)
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
    forecasts = pd.concat(parts, ignore_index=True)
    created = pd.Timestamp.now(tz="UTC").tz_localize(None)
    stored = forecasts.assign(run_id=champions.run_id, created_at=created)
    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        con.execute("BEGIN TRANSACTION")
        replace_rows(con, "forecasts", stored, ("run_id", "unique_id", "ds"), {"run_id": champions.run_id})
        con.execute("COMMIT")
    return Publication(champions.run_id, version, created, forecasts, None)


@flow(name="capplan-forecast")
def forecast_flow(cfg: Config, horizon: int | str | None = None, out: str | None = None) -> Publication:
    pub = publish(cfg, horizon)
    if out:
        from capplan.warehouse.connection import warehouse

        with warehouse(cfg.warehouse_path, read_only=True) as con:
            series = con.execute("SELECT * FROM series").df()
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        user_view(pub.forecasts, series, cfg.forecast.quantiles).to_csv(
            path, index=False, date_format="%Y-%m-%dT%H:%M:%S"
        )
        pub.csv = path
    return pub


@flow(name="capplan-score")
def score_flow(cfg: Config) -> pd.DataFrame:
    """Score every stored vintage against the actuals; returns the health (degradation) table."""
    from capplan.evaluation import flag_degradation, score_forecasts, seasonal_scale
    from capplan.warehouse.connection import warehouse
    from capplan.warehouse.frames import replace_rows

    from .data import actuals

    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        if "forecasts" not in tables:
            raise CapplanError("no published forecasts yet; run `capplan forecast` first")
        fc = con.execute("SELECT * FROM forecasts").df()
        fc = fc.dropna(axis=1, how="all")
        act, freq_of = actuals(con, cfg)
        from capplan.core.contracts import seasonalities

        seasons = {u: seasonalities(f)[0] for u, f in freq_of.items()}
        cutoffs = fc[["unique_id", "cutoff"]].drop_duplicates()
        scales = []
        for season in sorted(set(seasons.values())):
            uids = [u for u, s in seasons.items() if s == season]
            sub = cutoffs[cutoffs["unique_id"].isin(uids)]
            if len(sub):
                scales.append(seasonal_scale(act[act["unique_id"].isin(uids)], season, sub))
        scale = pd.concat(scales, ignore_index=True)
        arrived = fc[["unique_id", "ds"]].merge(act[["unique_id", "ds"]], on=["unique_id", "ds"]).shape[0]
        acc = score_forecasts(fc, act, scale) if arrived else pd.DataFrame()
        con.execute("BEGIN TRANSACTION")
        if acc.empty:  # no actuals have arrived for any published forecast yet
            con.execute("COMMIT")
            return pd.DataFrame(columns=["unique_id", "run_id", "reference", "degraded", "recommendation"])
        replace_rows(con, "forecast_accuracy", acc, ("run_id", "unique_id", "model"), {})
        reference = None
        if "backtest_metrics" in tables and len(acc):
            bm = con.execute("SELECT run_id, unique_id, model, mase FROM backtest_metrics").df()
            latest = (
                acc.sort_values("created_at").groupby("unique_id").tail(1)[["unique_id", "run_id", "model"]]
            )
            reference = latest.merge(bm, on=["unique_id", "run_id", "model"], how="left")[
                ["unique_id", "mase"]
            ]
        health = (
            flag_degradation(acc, cfg.forecast.degradation_threshold, reference=reference)
            if len(acc)
            else pd.DataFrame(columns=["unique_id", "run_id", "degraded", "recommendation"])
        )
        replace_rows(con, "forecast_health", health, ("unique_id",), {})
        con.execute("COMMIT")
    return health
