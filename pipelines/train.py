"""Training flow: backtest the model zoo, choose champions, track in MLflow, register.

Thin Prefect flow over :mod:`capplan.evaluation.engine`. One task per frequency group (each
backtests every model on all of the group's series: batching, not a task per series); the
MLflow parent run holds one child run per model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from capplan.core.config import Config
from capplan.evaluation.engine import with_models  # noqa: F401  (re-exported for the CLI and refresh)

from ._env import configure

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


def _progress(quiet: bool):
    return None if quiet else (lambda text: print(f"  {text}", flush=True))


@task(name="read-training-data", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def read_training_data(cfg: Config, as_of: pd.Timestamp | None = None):
    from capplan.features.training import training_data
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        inputs = store.training_inputs(con, as_of)
    return training_data(inputs, cfg)


def _params(group, cfg: Config, quiet: bool):
    from capplan.evaluation import TrainParams

    return TrainParams.from_config(cfg.forecast, group.horizon, _progress(quiet))


@task(name="train-group", cache_policy=NONE)
def train_frequency_group(group, cfg: Config, quiet: bool = False):
    from capplan.evaluation import train_group

    return train_group(group.df, group.spec, _params(group, cfg, quiet), group.cov)


@task(name="backtest-model", cache_policy=NONE)
def backtest_model(name: str, df: pd.DataFrame, spec, params, cov):
    from capplan.evaluation.engine import backtest_one

    return backtest_one(name, df, spec, params, cov)


def train_group_parallel(group, cfg: Config, quiet: bool = False):
    """The models' backtests as concurrent tasks (one per model) on the flow's task runner."""
    from capplan.evaluation.engine import estimate_line, finish_group, model_names, split_short

    params = _params(group, cfg, quiet)
    say = params.progress or (lambda _t: None)
    runs = split_short(group.df, group.spec, params)
    names = model_names(params.models) if len(runs.long_df) else []
    say(estimate_line(params.models, runs.long_df["unique_id"].nunique(), params.folds))
    say(f"submitting {len(names)} backtests ({', '.join(names)}) to the task runner")
    futures = {n: backtest_model.submit(n, runs.long_df, group.spec, params, group.cov) for n in names}
    for n, fut in futures.items():
        runs.backtests[n], runs.timings[n] = fut.result()
        say(f"  {n}: {runs.timings[n]:.1f} s")
    return finish_group(group.df, group.spec, params, runs, group.cov)


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
    """Backtest, choose, track and register. ``parallel`` submits one backtest task per model to
    the flow's task runner (see :func:`dask_train_flow`)."""
    import mlflow

    from capplan.evaluation.summary import leaderboard_of, run_name

    from . import tracking

    say = _progress(quiet) or (lambda _t: None)
    data = read_training_data(cfg, as_of)
    exp_id = tracking.setup(cfg)
    trained_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    results = []
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name(as_of)) as parent:
        run_id = parent.info.run_id
        tracking.log_training_start(cfg, data, as_of)
        for group in data.groups:
            say(
                f"frequency {group.freq}: {group.df['unique_id'].nunique()} series, horizon {group.horizon} steps"
            )
            result = (
                train_group_parallel(group, cfg, quiet)
                if parallel
                else train_frequency_group(group, cfg, quiet)
            )
            results.append((result, group))
        backtests = pd.concat([r.backtests for r, _ in results], ignore_index=True)
        metrics = pd.concat([r.metrics for r, _ in results], ignore_index=True)
        champions = pd.concat([r.champions.assign(frequency=g.freq) for r, g in results], ignore_index=True)
        about = tracking.log_training_results(cfg, data, results, (champions, backtests, metrics))
        notes = {**data.notes, **{u: n for r, _ in results for u, n in r.notes.items()}}
        notes = {u: n for u, n in notes.items() if n}
        slim = [(replace(r, backtests=r.backtests.iloc[:0]), g.cov) for r, g in results]
        champion_set = tracking.ChampionSet(slim, data.series, trained_at, run_id, about)
        version, previous = publish_training(cfg, run_id, champion_set, (champions, backtests, metrics))
    leaderboard = leaderboard_of(metrics)
    return TrainSummary(run_id, exp_id, version, previous, champions, leaderboard, notes)


def dask_train_flow(
    cfg: Config, workers: int | None = None, quiet: bool = False, as_of: pd.Timestamp | None = None
):
    """``train_flow`` with each model's backtest on Dask (prefect-dask): a local cluster of
    ``workers`` (default ``[orchestration] dask_workers``) or the cluster at
    ``[orchestration] dask_address``. Needs a real Prefect server (``PREFECT_API_URL``)."""
    from .runners import dask_runner

    runner = dask_runner(cfg, workers)
    return train_flow.with_options(task_runner=runner)(cfg, quiet=quiet, as_of=as_of, parallel=True)
