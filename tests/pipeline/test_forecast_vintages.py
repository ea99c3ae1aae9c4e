"""Forecasts follow the data: every publication is a new vintage from each series' latest
observation, by the registered champions (re-fitted, never re-selected)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import END, write_company  # noqa: E402

from capplan.cli import main  # noqa: E402

MODELS = ("seasonal_naive", "seasonal_profile")
TRAINED_AS_OF = END - pd.Timedelta(days=4, hours=1)


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vintages")
    cfg = str(write_company(folder, models=MODELS))
    assert main(["ingest", "--config", cfg, "--quiet"]) == 0
    assert main(["train", "--config", cfg, "--quiet", "--as-of", str(TRAINED_AS_OF)]) == 0
    return folder, cfg


def _query(folder, sql, params=None):
    con = duckdb.connect(str(folder / "wh.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def _vintages(folder):
    return _query(
        folder,
        "SELECT forecast_id, any_value(run_id) AS run_id, min(cutoff) AS cutoff, min(ds) AS first, "
        "count(*) AS n, min(created_at) AS created FROM forecasts GROUP BY 1 ORDER BY created",
    )


def test_a_forecast_after_new_data_starts_at_the_new_data(company, capsys):
    folder, cfg = company
    capsys.readouterr()
    assert main(["forecast", "--config", cfg]) == 0
    assert "re-fitted on newer data" in capsys.readouterr().out
    v = _vintages(folder)
    assert len(v) == 1
    # the champions saw data up to TRAINED_AS_OF; the forecast starts after the latest observation
    assert v["cutoff"].iloc[0] == END - pd.Timedelta(hours=1) and v["first"].iloc[0] == END
    fc = _query(folder, "SELECT unique_id, model FROM forecasts GROUP BY ALL")
    ch = _query(folder, "SELECT unique_id, champion AS model FROM champions")
    assert fc.sort_values("unique_id", ignore_index=True).equals(
        ch.sort_values("unique_id", ignore_index=True)
    )


def test_as_of_forecasts_from_the_data_as_it_was(company):
    folder, cfg = company
    assert main(["forecast", "--config", cfg, "--as-of", str(TRAINED_AS_OF)]) == 0
    v = _vintages(folder)
    assert len(v) == 2 and v["cutoff"].iloc[-1] == TRAINED_AS_OF


def test_a_shorter_horizon_is_its_own_vintage_and_the_plan_names_it(company):
    folder, cfg = company
    before = _vintages(folder)
    assert main(["forecast", "--config", cfg, "--horizon", "24"]) == 0
    v = _vintages(folder)
    assert len(v) == len(before) + 1
    assert v.iloc[: len(before)].equals(before)  # no vintage was overwritten
    new = v.iloc[-1]
    assert new["n"] == 4 * 24 and new["run_id"] == before["run_id"].iloc[0]
    assert new["forecast_id"] != new["run_id"]
    assert main(["plan", "--config", cfg]) == 0
    runs = _query(folder, "SELECT forecast_id, forecast_run_id FROM plan_runs")
    assert runs.iloc[-1].tolist() == [new["forecast_id"], new["run_id"]]


def test_an_older_ledger_keyed_by_run_is_upgraded_with_its_vintages_kept():
    from capplan.warehouse import store

    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE forecasts (run_id VARCHAR NOT NULL, created_at TIMESTAMP, cutoff TIMESTAMP, "
        "unique_id VARCHAR NOT NULL, model VARCHAR, ds TIMESTAMP NOT NULL, p50 DOUBLE, "
        "PRIMARY KEY (run_id, unique_id, ds))"
    )
    con.execute(
        "INSERT INTO forecasts VALUES ('r1', '2026-01-01', '2026-01-01', 'a', 'm', '2026-01-02', 1.0)"
    )
    assert store.latest_forecast_id(con) == "r1"
    new = pd.DataFrame(
        {"forecast_id": ["f2"], "run_id": ["r1"], "created_at": [pd.Timestamp("2026-01-03")],
         "cutoff": [pd.Timestamp("2026-01-02")], "unique_id": ["a"], "model": ["m"],
         "ds": [pd.Timestamp("2026-01-03")], "p50": [2.0]}
    )  # fmt: skip
    store.save_forecasts(con, new)
    assert store.forecasts(con)["forecast_id"].tolist() == ["r1", "f2"]
    assert store.latest_forecast_id(con) == "f2"
