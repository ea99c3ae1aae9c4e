"""Training frames: observations -> per-frequency groups of gap-free, windowed series with covariates.

Pure: takes the :class:`capplan.core.bundles.TrainingInputs` a flow read from the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from capplan.core.batches import series_batches
from capplan.core.bundles import TrainingInputs
from capplan.core.config import Config, horizon_steps
from capplan.core.contracts import Covariates, ModelSpec, seasonalities
from capplan.core.durations import parse_duration
from capplan.core.errors import CapplanError

from .covariates import event_features, kpi_features
from .frames import fill_gaps, history_status, to_planning_frequency


@dataclass
class Group:
    """Series sharing one grid: trained together."""

    freq: str
    df: pd.DataFrame  # unique_id, ds, y (gap-filled, windowed)
    spec: ModelSpec
    horizon: int
    cov: Covariates | None

    def subset(self, uids) -> Group:
        """The same group restricted to the series ``uids`` (rows and covariates)."""
        keep = set(uids)
        df = self.df[self.df["unique_id"].isin(keep)].reset_index(drop=True)
        return Group(
            self.freq, df, self.spec, self.horizon, None if self.cov is None else self.cov.select(keep)
        )


def batch_groups(groups: list[Group], batch_size: int | None) -> list[Group]:
    """Each frequency group cut into series batches (:func:`capplan.core.batches.series_batches`),
    in order: the tasks of training and forecasting. One batch keeps the group as it is."""
    out = []
    for group in groups:
        batches = series_batches(group.df["unique_id"].unique(), batch_size)
        out.extend([group] if len(batches) <= 1 else [group.subset(b) for b in batches])
    return out


@dataclass
class TrainingData:
    groups: list[Group]
    series: pd.DataFrame  # catalogue
    status: pd.DataFrame  # per series: n, last, status, note
    fingerprint: str
    window: tuple[pd.Timestamp, pd.Timestamp]
    notes: dict[str, str] = field(default_factory=dict)


def read_window(cfg: Config) -> pd.Timedelta | None:
    """How much recent history of each series training needs to read: ``[forecast] train_window``
    when it is a duration and gaps are filled by ``interpolate``, ``zero`` or ``error``; None (read
    all) for a window in steps (its length depends on each series' frequency), no window, or
    ``seasonal`` filling (it looks a season back before the window's start).

    ``store.training_inputs(con, as_of, read_window(cfg))`` then gives :func:`training_data` the
    same training frames as reading everything.
    """
    fc = cfg.forecast
    w = fc.train_window
    if w is None or isinstance(w, int) or str(w).strip().isdigit() or fc.fill == "seasonal":
        return None
    n, unit = parse_duration(str(w))
    return pd.Timedelta(weeks=n) if unit == "W" else pd.Timedelta(n, unit=unit)


def scoring_since(forecasts: pd.DataFrame, cfg: Config) -> pd.Timestamp | None:
    """The oldest observation scoring reads: the training window (:func:`read_window`) before the
    earliest forecast origin, so a vintage's MASE is scaled on the history its champions were
    trained on, as their backtests were; None (read all) when the window is not a duration."""
    window = read_window(cfg)
    if window is None or forecasts.empty:
        return None
    return pd.Timestamp(forecasts["cutoff"].min()) - window


def _window(df: pd.DataFrame, freq: str, window: int | str | None) -> pd.DataFrame:
    if window is None:
        return df
    steps = horizon_steps(window, freq, max_steps=None)
    return df.groupby("unique_id", observed=True, group_keys=False).tail(steps).reset_index(drop=True)


def _group(freq: str, uids: list[str], obs: pd.DataFrame, inputs: TrainingInputs, cfg: Config, horizon):
    fc = cfg.forecast
    season = seasonalities(freq)
    h = horizon_steps(horizon or fc.horizon, freq)
    filled = fill_gaps(obs[obs["unique_id"].isin(uids)], freq, fc.fill, season[0])
    filled = _window(filled, freq, fc.train_window)
    spec = ModelSpec(
        freq=freq,
        season_length=season[0],
        quantiles=fc.quantiles,
        seasonalities=season[1:],
        seed=fc.seed,
        epochs=fc.torch_epochs,
        clip_outliers=fc.clip_outliers,
    )
    fut = event_features(filled, inputs.series, inputs.events, dict.fromkeys(uids, freq), h)
    past = kpi_features(filled, inputs.kpis, dict.fromkeys(uids, freq))
    cov = Covariates(future=fut, past=past) if (fut is not None or past is not None) else None
    return Group(freq, filled, spec, h, cov)


def training_data(inputs: TrainingInputs, cfg: Config, horizon: int | str | None = None) -> TrainingData:
    """Resample to the planning frequency, fill gaps, window and build covariates per frequency.

    Series that stopped reporting are left out (with a note); no series left is an error.
    """
    fc = cfg.forecast
    if inputs.series.empty:
        raise CapplanError(f"{cfg.warehouse_path}: the warehouse holds no series; run `capplan ingest` first")
    if inputs.observations.empty:
        raise CapplanError("no observations to train on (at or before --as-of, if given)")
    obs, freq_of = to_planning_frequency(inputs.observations, inputs.series, fc.frequency, fc.peak)
    status = history_status(obs, freq_of, min_points=2, stale_after=fc.stale_after)
    stopped = set(status.loc[status["status"] == "stopped", "unique_id"])
    notes = dict(zip(status["unique_id"], status["note"], strict=True))
    groups = []
    for freq in sorted(set(freq_of.values())):
        uids = [u for u, f in freq_of.items() if f == freq and u not in stopped]
        if uids:
            groups.append(_group(freq, uids, obs, inputs, cfg, horizon))
    if not groups:
        raise CapplanError("no series left to train: every series stopped reporting")
    window = (obs["ds"].min(), obs["ds"].max())
    return TrainingData(groups, inputs.series, status, inputs.fingerprint, window, notes)


def planning_actuals(observations: pd.DataFrame, series: pd.DataFrame, cfg: Config):
    """Observations at the planning frequency (what forecasts are scored against), and frequencies."""
    return to_planning_frequency(observations, series, cfg.forecast.frequency, cfg.forecast.peak)
