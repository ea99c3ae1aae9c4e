"""Training flow: backtest the model zoo, choose champions, track in MLflow, register.

Thin Prefect flow over :mod:`capplan.evaluation.engine`. One task per series batch of a
frequency group (``[orchestration] batch_size`` series, :mod:`capplan.core.batches`; each
backtests every model on its series, global models fitted per batch); the MLflow parent run
holds one child run per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from capplan.core.batches import batch_failure, run_batches
from capplan.core.config import Config
from capplan.evaluation.engine import with_models  # noqa: F401  (re-exported for the CLI and refresh)

from ._env import configure
from .runners import pool_window

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402


@dataclass
class TrainSummary:
    run_id: str
    experiment_id: str
    model_version: str
    previous_version: str | None
    champions: pd.DataFrame
    leaderboard: pd.DataFrame
    notes: dict
    failed: list[str] = field(default_factory=list)  # one line per series batch that failed


def _progress(quiet: bool):
    return None if quiet else (lambda text: print(f"  {text}", flush=True))


@task(name="read-training-data", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def read_training_data(cfg: Config, as_of: pd.Timestamp | None = None):
    from capplan.features.training import read_window, training_data
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        inputs = store.training_inputs(con, as_of, read_window(cfg))
    return training_data(inputs, cfg)


def _params(group, cfg: Config, quiet: bool):
    from capplan.evaluation import TrainParams

    return TrainParams.from_config(cfg.forecast, group.horizon, _progress(quiet))


@task(name="train-batch", cache_policy=NONE)
def train_batch(group, cfg: Config, quiet: bool = False):
    """Backtest, choose and fit on one series batch (a frequency group's share)."""
    from capplan.evaluation import train_group

    if say := _progress(quiet):
        say(
            f"frequency {group.freq}: {group.df['unique_id'].nunique()} series, horizon {group.horizon} steps"
        )
    return train_group(group.df, group.spec, _params(group, cfg, quiet), group.cov)


@task(name="store-training-outputs", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def store_outputs(
    cfg: Config, run_id: str, champions: pd.DataFrame, backtests: pd.DataFrame, metrics: pd.DataFrame
):
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.save_training(con, run_id, champions, backtests, metrics)


@task(name="discard-training-outputs", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def discard_outputs(cfg: Config, run_id: str) -> None:
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.discard_training(con, run_id)


def publish_training(cfg: Config, run_id: str, champion_set, frames) -> tuple[str, str | None]:
    """All or nothing: stage the model version, store the warehouse rows (one transaction), then
    move the ``champion`` alias last. Any failure deletes the staged version and the run's rows
    (the MLflow run then ends FAILED), so a failed training publishes nothing."""
    from . import tracking

    version, previous = tracking.stage_champions(cfg, champion_set)
    stored = False
    try:
        store_outputs(cfg, run_id, *frames)
        stored = True
        tracking.promote(cfg, version, previous)
    except BaseException:
        tracking.discard(cfg, version)
        if stored:
            discard_outputs(cfg, run_id)
        raise
    return version, previous


@flow(name="capplan-train")
def train_flow(
    cfg: Config, quiet: bool = False, as_of: pd.Timestamp | None = None, parallel: bool = False
) -> TrainSummary:
    """Backtest, choose, track and register, one task per series batch (``[orchestration]
    batch_size``): called one after another, or all submitted to the flow's task runner when
    ``parallel`` (Dask: :func:`capplan.pipelines.runners.on_runner`). A batch that fails is noted (its series get no
    champion this run, ``TrainSummary.failed`` says which) and the others go on; if every batch
    fails the flow fails and publishes nothing."""
    import mlflow

    from capplan.evaluation.summary import leaderboard_of, run_name
    from capplan.features.training import batch_groups

    from . import tracking

    data = read_training_data(cfg, as_of)
    exp_id = tracking.setup(cfg)
    trained_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    results, failed = [], []
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name(as_of)) as parent:
        run_id = parent.info.run_id
        tracking.log_training_start(cfg, data, as_of)
        batches = batch_groups(data.groups, cfg.orchestration.batch_size)
        for group, result in zip(
            batches, run_batches(train_batch, batches, parallel, cfg, quiet, **pool_window(cfg)), strict=True
        ):
            if isinstance(result, Exception):
                failed.append(batch_failure(group, result))
            else:
                results.append((result, group))
        if not results:
            raise failed[0][1]
        mlflow.set_tags({"capplan.batches": len(batches), "capplan.failed_batches": len(failed)})
        backtests = pd.concat([r.backtests for r, _ in results], ignore_index=True)
        metrics = pd.concat([r.metrics for r, _ in results], ignore_index=True)
        champions = pd.concat([r.champions.assign(frequency=g.freq) for r, g in results], ignore_index=True)
        about = tracking.log_training_results(cfg, data, results, (champions, backtests, metrics))
        notes = {**data.notes, **{u: n for r, _ in results for u, n in r.notes.items()}}
        notes.update({u: note for uids, _err, note in failed for u in uids})
        notes = {u: n for u, n in notes.items() if n}
        slim = [(replace(r, backtests=r.backtests.iloc[:0]), g.cov) for r, g in results]
        champion_set = tracking.ChampionSet(slim, data.series, trained_at, run_id, about)
        version, previous = publish_training(cfg, run_id, champion_set, (champions, backtests, metrics))
    leaderboard = leaderboard_of(metrics)
    failures = [note for _uids, _err, note in failed]
    return TrainSummary(run_id, exp_id, version, previous, champions, leaderboard, notes, failures)
