"""The whole pipeline through the CLI on a tiny known company: ingest -> export."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import END, write_company  # noqa: E402

from capplan.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("company")
    cfg = str(write_company(folder))
    codes = {
        "ingest": main(["ingest", "--config", cfg, "--quiet"]),
        "train_past": main(
            ["train", "--config", cfg, "--quiet", "--as-of", str(END - pd.Timedelta(days=3, hours=1))]
        ),
        "forecast_past": main(
            ["forecast", "--config", cfg, "--as-of", str(END - pd.Timedelta(days=3, hours=1))]
        ),
        "train": main(["train", "--config", cfg, "--quiet"]),
        "forecast": main(["forecast", "--config", cfg, "--out", str(folder / "fc.csv")]),
        "score": main(["score", "--config", cfg]),
        "plan": main(["plan", "--config", cfg]),
        "export": main(["export", "--config", cfg, "--out", str(folder / "out")]),
    }
    yield folder, codes, _Reader(folder / "wh.duckdb")


class _Reader:
    """Short-lived read-only connections, so the CLI can still write between queries."""

    def __init__(self, path):
        self.path = str(path)

    def execute(self, sql, params=None):
        con = duckdb.connect(self.path, read_only=True)
        try:
            return _Result(con.execute(sql, params or []).df())
        finally:
            con.close()


class _Result:
    def __init__(self, df):
        self._df = df

    def df(self):
        return self._df

    def fetchall(self):
        return list(self._df.itertuples(index=False, name=None))


def test_every_step_succeeds(run):
    _, codes, _ = run
    assert codes == dict.fromkeys(codes, 0)


def test_forecast_csv_has_the_contract_columns(run):
    folder, _, _ = run
    fc = pd.read_csv(folder / "fc.csv")
    assert list(fc.columns) == [
        "service",
        "metric",
        "region",
        "unit",
        "ts",
        "model",
        "p10",
        "p50",
        "p90",
        "p95",
        "p99",
    ]
    assert len(fc) == 4 * 72
    assert (fc[["p10", "p50", "p90", "p95", "p99"]].diff(axis=1).iloc[:, 1:] >= 0).all().all()
    assert pd.Timestamp(fc["ts"].min()) == END


def test_ledger_keeps_both_vintages_and_scores_the_past_one(run):
    _, _, con = run
    vintages = con.execute(
        "SELECT forecast_id, min(cutoff), count(DISTINCT run_id), count(*) FROM forecasts GROUP BY 1 ORDER BY 2"
    ).fetchall()
    assert len(vintages) == 2 and all(v[2] == 1 for v in vintages)
    past = vintages[0][0]
    acc = con.execute("SELECT forecast_id, unique_id, n, mase FROM forecast_accuracy").df()
    assert set(acc["forecast_id"]) == {past}  # the newest vintage has no actuals yet
    assert len(acc) == 4 and (acc["n"] == 72).all()
    assert con.execute("SELECT count(*) FROM forecast_health").fetchall()[0][0] == 4


def test_mlflow_parent_child_runs_and_registry_aliases(run):
    folder, _, _ = run
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    client = MlflowClient()
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 2
    assert {r.info.run_name for r in children} >= {"seasonal_naive", "seasonal_profile", "ensemble"}
    keys = [set(r.data.metrics) for r in children]
    assert all({"mase", "smape", "rmsse", "backtest_seconds"} <= k for k in keys)
    assert all(p.data.tags.get("capplan.data_fingerprint") for p in parents)
    champion = client.get_model_version_by_alias("tiny-champions", "champion")
    fallback = client.get_model_version_by_alias("tiny-champions", "fallback")
    assert (str(champion.version), str(fallback.version)) == ("2", "1")
    arts = {a.path for a in client.list_artifacts(children[0].info.run_id)}
    assert any(a.endswith(".parquet") for a in arts) and any(a.endswith(".png") for a in arts)


def _latest(con, table: str):
    """``table``'s rows of the newest plan (every plan is kept under its plan_id)."""
    pid = con.execute("SELECT plan_id FROM plan_runs ORDER BY created_at DESC LIMIT 1").fetchall()[0][0]
    return con.execute(f"SELECT * FROM {table} WHERE plan_id = ?", [pid]).df()


def test_plan_tables_and_exports(run):
    folder, _, con = run
    plan = _latest(con, "plan")
    assert set(plan["scenario"]) == {"conservative", "expected", "aggressive"}
    assert set(plan["resource"]) == {"cpu", "rps"}
    # web's rps is sized by the USL fit of its load tests
    assert (
        plan.loc[(plan["service"] == "web") & (plan["resource"] == "rps"), "sizing_basis"] != "linear"
    ).all()
    runway = _latest(con, "runway")
    assert len(runway) == 2 * 2 * 3
    # web runs at ~90 rps peak against 4 x 40 x 0.7 = 112 usable: api has 20 instances and never crosses
    assert (runway.loc[runway["service"] == "api", "status"] == "not_within_horizon").all()
    right = _latest(con, "rightsizing").set_index("service")
    assert bool(right.loc["api", "over_provisioned"]) and right.loc["api", "monthly_saving"] > 0
    replay = _latest(con, "autoscaling")
    assert set(replay["policy"]) == {"reactive", "predictive", "hybrid", "crane_dsp", "ahpa"}
    assert replay.groupby("service")["winner"].sum().eq(1).all()
    schedule = _latest(con, "scaling_schedule")
    assert len(schedule) == 2 * 48 and (schedule["instances_recommended"] >= 1).all()
    xlsx = folder / "out" / "capplan_plan.xlsx"
    with zipfile.ZipFile(xlsx) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())
    import openpyxl

    sheets = openpyxl.load_workbook(xlsx, read_only=True).sheetnames
    assert {"Summary", "Scenarios", "Runway", "Scaling", "Assumptions"} <= set(sheets)
    assert (folder / "out" / "capplan_report.html").stat().st_size > 10_000


def test_plan_fail_on_returns_nonzero_when_alerts_reach_the_level(run):
    folder, _, con = run
    severities = {r[0] for r in con.execute("SELECT severity FROM alerts").fetchall()}
    assert severities, "the tiny company should raise at least one alert (weak forecasts are info)"
    assert main(["plan", "--config", str(folder / "capplan.toml"), "--fail-on", "info"]) == 1
    # the second plan is kept beside the first, each table's rows under its own plan_id
    ids = [r[0] for r in con.execute("SELECT plan_id FROM plan_runs ORDER BY created_at").fetchall()]
    assert len(ids) == 2
    per_plan = con.execute("SELECT plan_id, count(*) FROM runway GROUP BY 1").fetchall()
    assert sorted(n for _, n in per_plan) == [12, 12] and {p for p, _ in per_plan} == set(ids)
    assert main(["export", "--config", str(folder / "capplan.toml"), "--plan", ids[0], "--format", "csv",
                 "--out", str(folder / "first")]) == 0  # fmt: skip
    assert (folder / "first" / "csv" / "runway.csv").exists()


def test_status_reports_counts_batches_and_that_the_observation_key_holds(run, capsys):
    folder, _, db = run
    capsys.readouterr()
    assert main(["status", "--config", str(folder / "capplan.toml")]) == 0
    out = capsys.readouterr().out
    n = db.execute("SELECT count(*) FROM observations").fetchall()[0][0]
    assert f"{n:,}" in out or str(n) in out
    assert "Every table's key holds." in out
    for table in ("observations", "forecasts", "plan", "runway", "alerts", "plan_runs"):
        assert f"{table} " in out  # every declared table is listed with its key check
    assert "Last" in out and "batches" in out


def test_mlflow_runs_say_what_they_are_and_log_tables_and_the_champion_mix(run):
    folder, _, _ = run
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    client = MlflowClient()
    exp = client.get_experiment_by_name("tiny")
    assert exp.tags.get("mlflow.experimentKind") == "custom_model_development"  # a training experiment
    runs = client.search_runs([exp.experiment_id])
    parents = {r.info.run_name: r for r in runs if "mlflow.parentRunId" not in r.data.tags}
    scores = client.search_runs([client.get_experiment_by_name("tiny-accuracy").experiment_id])
    assert scores and all(r.info.run_name.startswith("score ") for r in scores)  # accuracy by week
    assert any(a.path == "accuracy_by_week.png" for a in client.list_artifacts(scores[0].info.run_id))
    past = END - pd.Timedelta(days=3, hours=1)
    assert set(parents) == {"train latest", f"train as-of {past:%Y-%m-%d %H:%M}"}
    latest = parents["train latest"]
    mix = {
        "champion_mase",
        "champion_crps",
        "champion_coverage_p10_p90",
        "champion_coverage_p95",
        "rel_mase",
        "rel_crps",
    }
    assert mix <= set(latest.data.metrics)
    assert "champion_coverage_error_p10_p90" in latest.data.metrics
    assert any(a.path == "champions.json" for a in client.list_artifacts(latest.info.run_id))
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == latest.info.run_id]
    for child in children:
        params = child.data.params
        assert {"data_start", "data_end", "train_window", "horizon_steps", "folds"} <= set(params)
        assert {"coverage_p10_p90", "coverage_p95"} <= set(child.data.metrics)
        name = child.info.run_name
        assert any(a.path == f"metrics_{name}.json" for a in client.list_artifacts(child.info.run_id))
    profile = next(c for c in children if c.info.run_name == "seasonal_profile")
    assert any(k.startswith("hp.") for k in profile.data.params)
    # robust training is on by default ([forecast] clip_outliers) for the models built for it
    assert profile.data.params["hp.clip_outliers"] == "True"
    naive = next(c for c in children if c.info.run_name == "seasonal_naive")
    assert naive.data.params["hp.clip_outliers"] == "False"


def test_plan_compare_prints_what_changed_since_the_previous_plan(run, capsys):
    folder, _, db = run
    cfg = str(folder / "capplan.toml")
    capsys.readouterr()
    assert main(["plan", "--config", cfg, "--compare"]) == 0
    out = capsys.readouterr().out
    ids = [r[0] for r in db.execute("SELECT plan_id FROM plan_runs ORDER BY created_at").fetchall()]
    # the same forecast planned again: nothing changed since the plan before it
    assert f"since plan {ids[-2]}" in out
    assert main(["plan", "--config", cfg, "--compare", "nope"]) == 2  # an unknown plan is a usage error
    actions = _latest(db, "actions")
    assert (
        len(actions) and actions["by_date"].notna().all() and actions["instances_recommended"].notna().all()
    )


def test_plan_reads_a_year_of_history_only_when_events_or_kpis_need_it(run, tmp_path):
    """With events and KPIs (this company has both) the plan reads its whole history to learn
    uplifts and drivers; without them only the recent days right-sizing and the replay use."""
    import shutil

    from capplan.warehouse import store, warehouse

    folder, _codes, _db = run
    copy = tmp_path / "wh.duckdb"
    shutil.copy(folder / "wh.duckdb", copy)
    with warehouse(copy, read_only=True) as con:
        full = store.plan_inputs(con, recent_days=3)
    span = full.as_of - full.history["ds"].min()
    assert span > pd.Timedelta(days=30), span  # events and KPIs: everything (35 days here)
    con = duckdb.connect(str(copy))
    con.execute("DELETE FROM events").fetchall()
    con.execute("DELETE FROM kpis").fetchall()
    con.close()
    with warehouse(copy, read_only=True) as con:
        recent = store.plan_inputs(con, recent_days=3)
    assert recent.history["ds"].min() >= recent.as_of - pd.Timedelta(days=3)
    assert recent.history["ds"].max() == full.history["ds"].max()
    assert set(recent.history["unique_id"]) == set(full.history["unique_id"])
