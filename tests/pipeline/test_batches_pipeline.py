"""Training and forecasting by series batch: the same champions and forecasts whether the batches
run one after another, on Prefect's thread pool or on the process pool, and one failing batch leaves the others."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.cli import main  # noqa: E402
from capplan.core.config import load_config  # noqa: E402

MODELS = ("seasonal_naive", "seasonal_profile")  # LightGBM: the slow Dask test


pytestmark = pytest.mark.slow  # train and forecast through Prefect on a small company: about a minute; the partition and per-batch fits have unit tests in tests/evaluation/test_eval_batches.py


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batches")
    path = write_company(folder, models=MODELS)
    assert main(["ingest", "--config", str(path), "--quiet", "--engine", "vectorized"]) == 0
    cfg = load_config(path)
    # 4 series, a batch each: a pool of 2 workers has 2 in flight, the next submitted as one ends
    orch = cfg.orchestration.model_copy(update={"batch_size": 1, "workers": 2})
    backtest = cfg.forecast.backtest.model_copy(update={"folds": 1})
    fc = cfg.forecast.model_copy(update={"horizon": "1D", "train_window": "14D", "backtest": backtest})
    return cfg.model_copy(update={"orchestration": orch, "forecast": fc})


def _train_and_forecast(cfg, parallel: bool, pool: str = "threads"):
    from prefect.task_runners import ThreadPoolTaskRunner

    from capplan.pipelines.forecast import forecast_flow
    from capplan.pipelines.runners import process_runner
    from capplan.pipelines.train import train_flow

    runner = {}
    if parallel:
        runner["task_runner"] = (
            ThreadPoolTaskRunner(max_workers=3) if pool == "threads" else process_runner(cfg)
        )
    summary = train_flow.with_options(**runner)(cfg, quiet=True, parallel=parallel)
    pub = forecast_flow.with_options(**runner)(cfg, parallel=parallel)
    champions = summary.champions.sort_values("unique_id", ignore_index=True)
    return summary, champions, pub.forecasts.sort_values(["unique_id", "ds"], ignore_index=True)


@pytest.mark.parametrize("pool", ["threads", "processes"])
def test_a_pool_gives_exactly_the_sequential_champions_and_forecasts(company, pool):
    """Prefect's thread pool, and the process pool of the default runner (two worker processes,
    each importing capplan), against the batches one after another in the flow's process."""
    from capplan.pipelines import tracking

    seq, seq_champions, seq_fc = _train_and_forecast(company, parallel=False)
    par, par_champions, par_fc = _train_and_forecast(company, parallel=True, pool=pool)
    assert seq.failed == [] and par.failed == []
    pd.testing.assert_frame_equal(seq_champions, par_champions)
    pd.testing.assert_frame_equal(seq.leaderboard, par.leaderboard)
    pd.testing.assert_frame_equal(seq_fc, par_fc)
    assert seq_fc["unique_id"].nunique() == 4
    champions, _version = tracking.load_champions(company)  # the registry holds one result per batch
    assert [sorted(r.champions["unique_id"]) for r, _cov in champions.groups] == [
        ["api:cpu"], ["api:rps"], ["web:cpu"], ["web:rps"]
    ]  # fmt: skip


def test_a_failing_batch_is_noted_and_the_others_are_trained_and_forecast(company, monkeypatch):
    import capplan.evaluation as evaluation
    from capplan.pipelines.forecast import forecast_flow
    from capplan.pipelines.train import train_flow

    real = evaluation.train_group

    def flaky(df, *args, **kwargs):
        if "web:rps" in set(df["unique_id"]):
            raise RuntimeError("injected model failure")
        return real(df, *args, **kwargs)

    monkeypatch.setattr(evaluation, "train_group", flaky)
    summary = train_flow(company, quiet=True)
    assert summary.failed == [
        "training batch of 1 series (web:rps..web:rps) failed, no champion this run: injected model failure"
    ]
    assert sorted(summary.champions["unique_id"]) == ["api:cpu", "api:rps", "web:cpu"]
    assert summary.notes["web:rps"] == summary.failed[0]
    pub = forecast_flow(company)
    assert sorted(pub.forecasts["unique_id"].unique()) == ["api:cpu", "api:rps", "web:cpu"]


def test_every_batch_failing_fails_the_training(company, monkeypatch):
    import capplan.evaluation as evaluation
    from capplan.pipelines import tracking
    from capplan.pipelines.train import train_flow

    before = tracking.champion_info(company)

    def down(*_args, **_kwargs):
        raise RuntimeError("all down")

    monkeypatch.setattr(evaluation, "train_group", down)
    with pytest.raises(RuntimeError, match="all down"):
        train_flow(company, quiet=True)
    assert tracking.champion_info(company) == before  # nothing published


def test_exports_on_the_pool_write_the_same_files(company, tmp_path, monkeypatch):
    """The workbook and the CSV/HTML written by two worker processes: the same files (CSV byte
    for byte) as one process; the pool is used from POOL_FROM_SERIES series (0 here)."""
    from capplan.pipelines.export import export_flow
    from capplan.pipelines.forecast import forecast_flow
    from capplan.pipelines.plan import plan_flow
    from capplan.pipelines.runners import local_pool
    from capplan.pipelines.train import train_flow
    from capplan.reporting import export as reporting_export

    train_flow(company, quiet=True)
    forecast_flow(company)
    plan_id = plan_flow(company, notify=False).plan_id
    one = export_flow(company, out=tmp_path / "one", plan_id=plan_id)
    monkeypatch.setattr(reporting_export, "POOL_FROM_SERIES", 0)
    run, parallel = local_pool(export_flow, company)
    assert parallel and run.task_runner is not None
    two = run(company, out=tmp_path / "two", plan_id=plan_id, parallel=True)
    assert list(one) == list(two) == ["xlsx", "png", "csv", "html"]
    csvs = {Path(p).name: Path(p).read_bytes() for p in one["csv"]}
    assert csvs and csvs == {Path(p).name: Path(p).read_bytes() for p in two["csv"]}
    assert Path(two["xlsx"]).stat().st_size > 0 and Path(two["html"]).stat().st_size > 0
