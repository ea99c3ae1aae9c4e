"""A training publishes everything or nothing: a failure at any step leaves the alias, the
registry and the warehouse as they were, and the MLflow run ends FAILED."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.cli import main  # noqa: E402

MODELS = ("seasonal_naive", "seasonal_profile")


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    folder = tmp_path_factory.mktemp("publish")
    cfg = write_company(folder, models=MODELS)
    assert main(["ingest", "--config", str(cfg), "--quiet"]) == 0
    assert main(["train", "--config", str(cfg), "--quiet"]) == 0
    return folder, cfg


def _client(folder):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    return MlflowClient()


def _state(folder):
    client = _client(folder)
    champion = client.get_model_version_by_alias("tiny-champions", "champion").version
    versions = sorted(int(v.version) for v in client.search_model_versions("name='tiny-champions'"))
    con = duckdb.connect(str(folder / "wh.duckdb"), read_only=True)
    try:
        rows = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("champions", "backtests", "backtest_metrics")
        }
    finally:
        con.close()
    return champion, versions, rows


def _last_parent_status(folder):
    client = _client(folder)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    return parent.info.status


def _boom(*_a, **_k):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize(
    "target",
    [
        "capplan.warehouse.store.save_training",  # the warehouse write (after the backtests)
        "capplan.pipelines.tracking.promote",  # the alias move, after the rows were stored
        "capplan.pipelines.tracking.stage_champions",  # registering the version
    ],
)
def test_a_failed_training_publishes_nothing(company, monkeypatch, target):
    folder, cfg = company
    before = _state(folder)
    monkeypatch.setattr(target, _boom)
    with pytest.raises(RuntimeError, match="injected failure"):
        main(["train", "--config", str(cfg), "--quiet"])
    assert _state(folder) == before  # alias, registered versions, warehouse rows unchanged
    assert _last_parent_status(folder) == "FAILED"


def test_an_absurd_horizon_publishes_the_fallback_whole(company):
    folder, cfg = company
    before = _state(folder)
    absurd = folder / "absurd.toml"
    absurd.write_text(cfg.read_text().replace('horizon = "3D"', 'horizon = "400D"'))
    assert main(["train", "--config", str(absurd), "--quiet"]) == 0  # too short: seasonal naive, noted
    champion, versions, rows = _state(folder)
    assert int(champion) == max(versions) > int(before[0])
    assert rows["champions"] == before[2]["champions"] + 4 and rows["backtests"] == before[2]["backtests"]
    assert _last_parent_status(folder) == "FINISHED"
