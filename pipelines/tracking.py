"""MLflow tracking: SQLite backend under ``mlruns/``, one experiment per dataset.

The experiment is tagged ``mlflow.experimentKind = custom_model_development`` (MLflow 3 opens
it as a model-training experiment, not GenAI). A training run (``train latest`` or ``train as-of
2026-11-04``) is a parent run with one child run per model. Every child logs the same aggregate
metric names (so the UI's compare view lines models up; coverage of every configured interval
among them), its hyperparameters (``hp.*``) and training window as params, per-series metrics
as an MLflow table and a Parquet artifact (not thousands of metric keys) and a backtest plot,
worst series first. The parent logs the config hash, data fingerprint and git commit, the
champion mix's MASE and coverage, the champions (table), and the fitted champion set as a pyfunc
model registered under ``<experiment>-champions``. Publication is all or nothing: the version
is staged, the warehouse written, then the alias ``champion`` moves last (the previous version
keeps ``fallback``); a failure deletes the staged version. :func:`rollback` swaps the two aliases.
"""

from __future__ import annotations

import pickle
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path

import pandas as pd

from capplan.core.config import Config
from capplan.core.errors import CapplanError
from capplan.evaluation import summary

from ._env import configure

configure()

AGGREGATES = ("mase", "smape", "rmsse", "bias", "coverage_p10_p90", "msis_p10_p90")


def tracking_uri(cfg: Config) -> str:
    """The configured URI with a relative SQLite path resolved against the config's folder."""
    uri = cfg.mlflow.tracking_uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        path = cfg.resolve(uri[len(prefix) :])
        path.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(path.resolve())
    return uri


def artifact_root(cfg: Config) -> str:
    loc = cfg.mlflow.artifact_location
    if "://" in loc:
        return loc
    path = cfg.resolve(loc).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def setup(cfg: Config, experiment: str | None = None) -> str:
    """Point MLflow at the store and return the experiment id (created if missing)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg))
    name = experiment or cfg.mlflow.experiment
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        exp_id = mlflow.create_experiment(name, artifact_location=f"{artifact_root(cfg)}/{name}")
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)  # nested (per-model) runs land here too
    mlflow.set_experiment_tag(*EXPERIMENT_KIND)
    return exp_id


def registered_name(cfg: Config) -> str:
    return f"{cfg.mlflow.experiment}-champions"


EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")  # the UI's training view, not GenAI


def log_table(frame: pd.DataFrame, artifact_file: str) -> None:
    """``frame`` as an MLflow table (the UI's artifact view shows it as a sortable table)."""
    import mlflow

    clean = frame.copy()
    for c in clean.columns:
        if pd.api.types.is_datetime64_any_dtype(clean[c]):
            clean[c] = clean[c].astype(str)
    with _quiet_mlflow():
        mlflow.log_table(data=clean, artifact_file=artifact_file)


def log_model_run(
    name: str, metrics: pd.DataFrame, params: dict, plot: tuple, seconds: float, tmp: Path
) -> None:
    """One child run: params (hyperparameters, training window), aggregate metrics, per-series
    metrics as an MLflow table and Parquet, a backtest plot of the worst series first."""
    import mlflow

    from capplan.reporting import backtest_figure

    with mlflow.start_run(run_name=name, nested=True):
        mlflow.log_params({**params, "model": name})
        mlflow.log_metrics(
            {**summary.metric_means(metrics), "backtest_seconds": seconds, "series": float(len(metrics))}
        )
        path = tmp / f"metrics_{name}.parquet"
        metrics.to_parquet(path)
        mlflow.log_artifact(str(path))
        if len(metrics):
            log_table(metrics, f"metrics_{name}.json")
        if len(plot[0]):  # (backtest worst first, MASE per series, units)
            png = tmp / f"backtest_{name}.png"
            png.write_bytes(backtest_figure(plot[0], name, units=plot[2], scores=plot[1]))
            mlflow.log_artifact(str(png))


class ChampionSet:
    """What the registry holds: fitted champions per frequency group, plus their covariates."""

    def __init__(self, groups: list, series: pd.DataFrame, trained_at: pd.Timestamp, run_id: str, about=""):
        self.groups = groups  # list of (GroupResult without backtests, Covariates)
        self.series = series
        self.trained_at = trained_at
        self.run_id = run_id
        self.description = about  # the registered version's description


def _pyfunc_class():
    import mlflow.pyfunc

    class ChampionModel(mlflow.pyfunc.PythonModel):
        """pyfunc: ``predict(pd.DataFrame({'horizon': [h]}))`` -> champion quantile forecasts."""

        def load_context(self, context):
            with open(context.artifacts["champions"], "rb") as fh:
                self.champions = pickle.load(fh)

        def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
            from capplan.evaluation import forecast_group

            h = int(model_input["horizon"].iloc[0]) if "horizon" in model_input else None
            parts = [forecast_group(g, h or g.horizon, cov) for g, cov in self.champions.groups]
            return pd.concat(parts, ignore_index=True)

    return ChampionModel


@contextmanager
def _quiet_mlflow():
    """MLflow warns about pickled python models and type hints on every log: we know, and chose so."""
    import logging
    import warnings

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ("pandas", "numpy", "darts", "lightgbm", "torch", "mlflow", "pyarrow")
    return [f"{p}=={version(p)}" for p in pkgs]


def stage_champions(cfg: Config, champions: ChampionSet) -> tuple[str, str | None]:
    """Log the champion set as a pyfunc model and register a version *without* moving an alias.

    Returns ``(version, previous)``: the new version ("" when ``register_models`` is off) and the
    version that holds ``champion`` now. Nothing is published until :func:`promote`.
    """
    import mlflow
    from mlflow import MlflowClient

    name = registered_name(cfg)
    try:
        previous = MlflowClient().get_model_version_by_alias(name, "champion").version
    except mlflow.exceptions.MlflowException:
        previous = None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "champions.pkl"
        with open(path, "wb") as fh:
            pickle.dump(champions, fh)
        with _quiet_mlflow():
            info = mlflow.pyfunc.log_model(
                name="champions",
                python_model=_pyfunc_class()(),
                artifacts={"champions": str(path)},
                pip_requirements=pip_requirements(),
                registered_model_name=name if cfg.mlflow.register_models else None,
            )
    if not cfg.mlflow.register_models:
        return "", previous
    version = str(info.registered_model_version)
    MlflowClient().update_model_version(name, version, getattr(champions, "description", ""))
    return version, previous


def promote(cfg: Config, version: str, previous: str | None) -> None:
    """Move ``champion`` to ``version`` (the last step of a training); the previous champion keeps
    ``fallback``. On failure the aliases are put back as they were."""
    from mlflow import MlflowClient

    if not version:
        return
    name = registered_name(cfg)
    client = MlflowClient()
    old_fallback = _alias_version(client, name, "fallback")
    try:
        if previous and previous != version:
            client.set_registered_model_alias(name, "fallback", previous)
        client.set_registered_model_alias(name, "champion", version)
    except BaseException:
        _restore_aliases(client, name, {"fallback": old_fallback, "champion": previous})
        raise


def discard(cfg: Config, version: str) -> None:
    """Delete a staged version of a training that failed (it never held an alias)."""
    from mlflow import MlflowClient

    if version:
        MlflowClient().delete_model_version(registered_name(cfg), version)


def _alias_version(client, name: str, alias: str) -> str | None:
    import mlflow

    try:
        return client.get_model_version_by_alias(name, alias).version
    except mlflow.exceptions.MlflowException:
        return None


def _restore_aliases(client, name: str, aliases: dict[str, str | None]) -> None:
    for alias, version in aliases.items():
        if version:
            client.set_registered_model_alias(name, alias, version)
        else:
            with suppress(Exception):  # best effort: the alias may never have existed
                client.delete_registered_model_alias(name, alias)


def register_champions(cfg: Config, champions: ChampionSet) -> tuple[str, str | None]:
    """Stage and promote in one go (no warehouse step between); returns (version, previous)."""
    version, previous = stage_champions(cfg, champions)
    try:
        promote(cfg, version, previous)
    except BaseException:
        discard(cfg, version)
        raise
    return version, previous


def rollback(cfg: Config) -> tuple[str, str]:
    """Swap ``champion`` and ``fallback``: the previous champion set is published again.

    Returns ``(restored, demoted)`` versions; a second rollback undoes the first.
    """
    from mlflow import MlflowClient

    setup(cfg)
    name = registered_name(cfg)
    client = MlflowClient()
    current = _alias_version(client, name, "champion")
    fallback = _alias_version(client, name, "fallback")
    if not fallback:
        raise CapplanError(
            f"registered model '{name}' has no 'fallback' version to roll back to "
            f"(champion is {'v' + current if current else 'unset'}); train at least twice first"
        )
    client.set_registered_model_alias(name, "champion", fallback)
    if current:
        client.set_registered_model_alias(name, "fallback", current)
    return fallback, current or ""


def champion_info(cfg: Config, alias: str = "champion") -> tuple[str | None, pd.Timestamp | None]:
    """The training run id and registration time (UTC) of the version holding ``alias``; (None, None)
    when there is none."""
    from mlflow import MlflowClient

    setup(cfg)
    client = MlflowClient()
    version = _alias_version(client, registered_name(cfg), alias)
    if not version:
        return None, None
    mv = client.get_model_version(registered_name(cfg), version)
    return mv.run_id, pd.Timestamp(mv.creation_timestamp, unit="ms")


def load_champions(cfg: Config, alias: str = "champion") -> tuple[ChampionSet, str]:
    """The registered champion set under ``alias`` and the model version."""
    import mlflow
    from mlflow import MlflowClient

    setup(cfg)
    name = registered_name(cfg)
    try:
        mv = MlflowClient().get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        raise CapplanError(
            f"no registered model '{name}' with alias '{alias}' in {tracking_uri(cfg)}; run `capplan train` first"
        ) from None
    try:
        model = mlflow.pyfunc.load_model(f"models:/{name}@{alias}")
    except (ModuleNotFoundError, AttributeError) as err:  # pickled by a capplan whose modules moved
        raise CapplanError(
            f"registered model '{name}' version {mv.version} was saved by an older capplan ({err}); "
            "run `capplan train` to register the champions again"
        ) from None
    return model.unwrap_python_model().champions, mv.version


def log_training_start(cfg: Config, data, as_of) -> None:
    """The parent run's tags and parameters: config hash, data fingerprint, window, models."""
    import mlflow

    from capplan.evaluation.summary import run_params, run_tags

    mlflow.set_tags(run_tags(cfg, data))
    mlflow.log_params(run_params(cfg, data, as_of))


def log_training_results(cfg: Config, data, results, frames) -> str:
    """A child run per model (metrics, settings, window, plot), the parent's artifacts, champion mix;
    returns the model version's description."""
    import tempfile

    import mlflow

    champions, backtests, metrics = frames
    window = summary.training_window(data, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model in sorted(metrics["model"].unique()):
            m = metrics[metrics["model"] == model]
            secs = sum(r.timings.get(model, 0.0) for r, _ in results)
            params = {**window, **summary.hyperparameters(model, data.groups[0].spec)}
            plot = (*summary.plot_view(model, backtests, metrics), summary.series_units(data.series))
            log_model_run(model, m, params, plot, secs, tmp)
        champions.to_parquet(tmp / "champions.parquet")
        backtests.to_parquet(tmp / "backtests.parquet")
        pd.concat([r.metrics_by_horizon for r, _ in results]).to_parquet(tmp / "metrics_by_horizon.parquet")
        for f in ("champions.parquet", "backtests.parquet", "metrics_by_horizon.parquet"):
            mlflow.log_artifact(str(tmp / f))
    counts = champions["champion"].value_counts()
    mlflow.log_metrics({f"champions_{k}": float(v) for k, v in counts.items()})
    mlflow.log_metrics(summary.champion_mix(champions, metrics))
    if len(champions):
        log_table(champions, "champions.json")
    return summary.version_description(data.window, champions, metrics)


def log_accuracy_by_week(cfg: Config, accuracy: pd.DataFrame) -> None:
    """A ``score`` run in ``<experiment>-accuracy`` (the training experiment keeps training runs only):
    accuracy by week of vintage (table, chart) and the latest week's MASE and coverage."""
    import mlflow

    from capplan.evaluation.ledger import accuracy_by_week
    from capplan.reporting.plots import draw_accuracy_by_week

    setup(cfg, f"{cfg.mlflow.experiment}-accuracy")
    weekly = accuracy_by_week(accuracy)
    with mlflow.start_run(
        run_name=f"score {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M}", tags={"capplan.kind": "score"}
    ):
        log_table(weekly, "accuracy_by_week.json")
        mlflow.log_figure(draw_accuracy_by_week(weekly), "accuracy_by_week.png")
        mlflow.log_metrics(
            {k: float(v) for k, v in weekly.iloc[-1][["mase", "coverage"]].items() if pd.notna(v)}
        )
