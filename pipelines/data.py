"""Warehouse -> model-ready frames for training and forecasting (reads only)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from capplan.core.config import Config, horizon_steps
from capplan.core.contracts import seasonalities
from capplan.core.errors import CapplanError
from capplan.features import event_features, fill_gaps, history_status, kpi_features, to_planning_frequency
from capplan.models import Covariates, ModelSpec


@dataclass
class Group:
    """Series sharing one grid: trained together."""

    freq: str
    df: pd.DataFrame  # unique_id, ds, y (gap-filled, windowed)
    spec: ModelSpec
    horizon: int
    cov: Covariates | None


@dataclass
class TrainingData:
    groups: list[Group]
    series: pd.DataFrame  # catalogue
    status: pd.DataFrame  # per series: n, last, status, note
    fingerprint: str
    window: tuple[pd.Timestamp, pd.Timestamp]
    notes: dict[str, str] = field(default_factory=dict)


def read_table(con, table: str) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {table}").df()


def data_fingerprint(con) -> str:
    """A short hash of what the warehouse holds (per series: count, first, last, sum)."""
    rows = con.execute(
        "SELECT unique_id, count(*), min(ds), max(ds), round(sum(y), 6) FROM observations GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _window(df: pd.DataFrame, freq: str, window: int | str | None) -> pd.DataFrame:
    if window is None:
        return df
    steps = horizon_steps(window, freq)
    return df.groupby("unique_id", observed=True, group_keys=False).tail(steps).reset_index(drop=True)


def load_training_data(
    con, cfg: Config, horizon: int | str | None = None, as_of: pd.Timestamp | None = None
) -> TrainingData:
    """Read observations, resample to the planning frequency, fill gaps, build covariates.

    ``as_of`` trains as if it were that time: observations and KPIs after it are not read
    (events are a calendar, known ahead, and stay).
    """
    fc = cfg.forecast
    series = read_table(con, "series")
    if series.empty:
        raise CapplanError(f"{cfg.warehouse_path}: the warehouse holds no series; run `capplan ingest` first")
    obs = read_table(con, "observations")
    if as_of is not None:
        obs = obs[obs["ds"] <= as_of]
        if obs.empty:
            raise CapplanError(f"no observations at or before --as-of {as_of}")
    obs, freq_of = to_planning_frequency(obs, series, fc.frequency, fc.peak)
    status = history_status(obs, freq_of, min_points=2, stale_after=fc.stale_after)
    stopped = set(status.loc[status["status"] == "stopped", "unique_id"])
    notes = dict(zip(status["unique_id"], status["note"], strict=True))
    events = read_table(con, "events")
    kpis = read_table(con, "kpis")
    if as_of is not None:
        kpis = kpis[kpis["ds"] <= as_of]
    groups = []
    for freq in sorted(set(freq_of.values())):
        uids = [u for u, f in freq_of.items() if f == freq and u not in stopped]
        if not uids:
            continue
        season = seasonalities(freq)
        h = horizon_steps(horizon or fc.horizon, freq)
        part = obs[obs["unique_id"].isin(uids)]
        filled = fill_gaps(part, freq, fc.fill, season[0])
        filled = _window(filled, freq, fc.train_window)
        spec = ModelSpec(
            freq=freq,
            season_length=season[0],
            quantiles=fc.quantiles,
            seasonalities=season[1:],
            seed=fc.seed,
            epochs=fc.torch_epochs,
        )
        fut = event_features(filled, series, events, dict.fromkeys(uids, freq), h)
        past = kpi_features(filled, kpis, dict.fromkeys(uids, freq))
        cov = Covariates(future=fut, past=past) if (fut is not None or past is not None) else None
        groups.append(Group(freq, filled, spec, h, cov))
    if not groups:
        raise CapplanError("no series left to train: every series stopped reporting")
    window = (obs["ds"].min(), obs["ds"].max())
    return TrainingData(groups, series, status, data_fingerprint(con), window, notes)


def actuals(con, cfg: Config) -> tuple[pd.DataFrame, dict[str, str]]:
    """Observations at the planning frequency (what forecasts are scored against)."""
    series = read_table(con, "series")
    obs = read_table(con, "observations")
    return to_planning_frequency(obs, series, cfg.forecast.frequency, cfg.forecast.peak)
