"""The learning loop: refresh retrains only when the ledger says so, degraded series warn, and
`capplan rollback` restores the previous champions."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.cli import main  # noqa: E402

MODELS = ("seasonal_naive", "seasonal_profile")


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    from capplan.core.config import load_config

    folder = tmp_path_factory.mktemp("loop")
    cfg = write_company(folder, models=MODELS)
    assert main(["ingest", "--config", str(cfg), "--quiet"]) == 0
    assert main(["train", "--config", str(cfg), "--quiet"]) == 0
    assert main(["forecast", "--config", str(cfg)]) == 0
    return folder, load_config(cfg)


def _health(run_id: str, degraded: bool) -> pd.DataFrame:
    uids = ["api:cpu", "api:rps", "web:cpu", "web:rps"]
    return pd.DataFrame(
        {
            "unique_id": uids,
            "run_id": run_id,
            "degraded": [degraded, False, False, False],
            "recommendation": ["retrain recommended: MASE 2 vs 1" if degraded else "ok: MASE 1 vs 1"]
            + ["ok"] * 3,
        }
    )


def _refresh(cfg, monkeypatch, degraded: bool):
    from capplan.pipelines import forecast, tracking
    from capplan.pipelines.refresh import RefreshOptions, pipeline_flow

    run_id, _ = tracking.champion_info(cfg)
    monkeypatch.setattr(forecast, "score_flow", lambda _cfg: _health(run_id, degraded))
    return run_id, pipeline_flow(cfg, RefreshOptions(through="score"))


def test_a_healthy_ledger_only_reforecasts(company, monkeypatch):
    _, cfg = company
    run_id, out = _refresh(cfg, monkeypatch, degraded=False)
    assert out.training is None and "re-forecast only" in out.decision
    assert out.publication.run_id == run_id and out.warnings == []


def test_a_degraded_series_triggers_retraining_and_warns(company, monkeypatch):
    from capplan.pipelines import tracking

    _, cfg = company
    run_id, out = _refresh(cfg, monkeypatch, degraded=True)
    assert out.training is not None and "1 series degraded" in out.decision
    assert out.publication.run_id == out.training.run_id != run_id
    assert out.warnings == ["api:cpu degraded: retrain recommended: MASE 2 vs 1"]
    assert tracking.champion_info(cfg)[0] == out.training.run_id


def test_old_champions_are_retrained_by_age(company, monkeypatch):
    _, cfg = company
    young = cfg.model_copy(update={"forecast": cfg.forecast.model_copy(update={"retrain_after": "1s"})})
    _, out = _refresh(young, monkeypatch, degraded=False)
    assert out.training is not None and "old (retrain after" in out.decision


def test_rollback_restores_the_previous_champion(company, capsys):
    from mlflow import MlflowClient

    from capplan.pipelines import tracking

    folder, cfg = company
    tracking.setup(cfg)
    client = MlflowClient()
    before = client.get_model_version_by_alias("tiny-champions", "champion").version
    fallback = client.get_model_version_by_alias("tiny-champions", "fallback").version
    assert main(["rollback", "--config", str(folder / "capplan.toml")]) == 0
    assert client.get_model_version_by_alias("tiny-champions", "champion").version == fallback
    assert client.get_model_version_by_alias("tiny-champions", "fallback").version == before
    assert f"version {fallback} holds 'champion'" in capsys.readouterr().out
    assert tracking.load_champions(cfg)[1] == fallback  # forecasts now come from the restored champions
