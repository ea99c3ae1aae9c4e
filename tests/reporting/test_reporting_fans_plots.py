"""Derived data (constrained services, fan columns, planned demand, partial months), the PNG
figures, the terminal table and the light import of the package."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest
from reporting_bundle import EVIL, SCRIPT, forecast_rows, make_bundle, runway_rows, zip_texts

from capplan.reporting import backtest_figure, export_bundle, file_line, planned_demand, plots, table
from capplan.reporting.fans import Fan, constrained, fan_columns
from capplan.reporting.pngs import fan_figure
from capplan.reporting.specs import partial_months


def test_constrained_orders_by_the_given_scenarios_runway():
    runway = runway_rows()
    assert constrained(runway, forecast_rows(), "expected", 2) == [(EVIL, "cpu"), (SCRIPT, "cpu")]
    assert constrained(pd.DataFrame(), forecast_rows(), "expected", 2) == [("api", None), (SCRIPT, None)]
    # a "peak" scenario where api is the shortest: it comes first there, with one resource
    one = runway[runway["scenario"] == "aggressive"].assign(scenario="peak")
    one.loc[one["service"] == "api", "days_left"] = -1.0
    assert constrained(pd.concat([runway, one]), forecast_rows(), "peak", 1) == [("api", "cpu")]
    # a scenario the runway lacks: its first scenario's rows
    assert constrained(runway, forecast_rows(), "missing", 1) == [(EVIL, "cpu")]


@pytest.mark.parametrize(
    ("cols", "want"),
    [
        (["p10", "p50", "p90", "p99"], ("p10", "p50", "p90")),
        (["p5", "p50", "p95", "capacity"], ("p5", "p50", "p95")),
        (["p2.5", "p40", "p97.5"], ("p2.5", "p40", "p97.5")),
        (["ts", "y"], None),
    ],
)
def test_fan_columns(cols, want):
    assert fan_columns(cols) == want


def test_plots_return_png_and_show_names_literally():
    assert plots.plain("cost $5 $x") == r"cost \$5 \$x" and plots.plain("_hidden") == " _hidden"
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2025-01-01", periods=4, freq="D"),
            "p10": [1.0] * 4,
            "p50": [2.0] * 4,
            "p90": [3.0] * 4,
        }
    )
    png = plots.png(fan_figure(Fan("s", "m", "$\\frac{1}{0$ svc", frame, "p10", "p50", "p90", None, None)))
    assert png[:4] == b"\x89PNG"
    runway = pd.DataFrame(
        {"service": ["a$", "_b"], "resource": ["cpu", "memory"], "days_left": [3.0, math.inf]}
    )
    assert plots.runway_chart(runway, title="runway")[:4] == b"\x89PNG"


def test_backtest_figure_is_a_png_and_leaves_the_backend_alone():
    import matplotlib

    backend = matplotlib.get_backend()
    ds = pd.date_range("2025-01-01", periods=8, freq="h")
    bt = pd.concat(
        [
            pd.DataFrame(
                {"unique_id": uid, "ds": ds, "cutoff": ds[0], "y": 1.0, "p10": 0.5, "p50": 1.0, "p90": 1.5}
            )
            for uid in ("a", "b$", "c")
        ]
    )
    png = backtest_figure(bt, "lgbm", n_series=2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and matplotlib.get_backend() == backend
    assert backtest_figure(bt, "lgbm") != png  # three panels, not two


def test_import_is_light():
    code = (
        "import sys, capplan.reporting; "
        "print(sorted({'matplotlib', 'xlsxwriter', 'prefect', 'mlflow', 'duckdb'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fan_charts_show_the_planned_demand_when_the_forecasts_carry_it(tmp_path):
    bundle = make_bundle()
    fc = bundle.forecasts.copy()
    fc["planned_demand"] = np.where(fc["service"] == "api", 20.0, np.nan)
    out = export_bundle(replace(bundle, forecasts=fc), tmp_path, formats=("xlsx", "html"))
    charts = zip_texts(out["xlsx"], r"xl/charts/chart\d+\.xml")
    fans = [x for x in charts.values() if "<c:lineChart>" in x]
    # only api has a planned demand: its fan gets a ninth series, the others keep eight
    # (actual, p10, p50, p90, usable and required capacity, max_instances cap, now)
    assert sorted(x.count("<c:ser>") for x in fans) == [8, 8, 9]
    api = next(x for x in fans if x.count("<c:ser>") == 9)
    assert "<c:v>planned demand (expected scenario)</c:v>" in api
    wb = openpyxl.load_workbook(out["xlsx"])
    rows = list(wb["ChartData"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "api · cpu")
    header = list(rows[start + 1])
    j = header.index("planned demand (expected scenario)")
    planned = [r[j] for r in rows[start + 2 : start + 2 + 10] if r[0] is not None and r[j] is not None]
    assert planned and set(planned) == {20.0}
    assert wb["Forecasts"]["A1"].value == "service"
    assert "planned_demand" in [c.value for c in wb["Forecasts"][1]]


def test_planned_demand_maps_each_timestamp_to_its_plan_period():
    plan = pd.DataFrame(
        {
            "service": ["api"] * 4 + ["db"] * 2,
            "resource": ["cpu"] * 4 + ["cpu"] * 2,
            "scenario": ["expected", "expected", "aggressive", "aggressive", "expected", "expected"],
            "ds": pd.to_datetime(["2025-01-01", "2025-01-02"] * 3),
            "demand": [10.0, 30.0, 99.0, 99.0, 5.0, 6.0],
        }
    )
    ts = pd.date_range("2024-12-31 23:00", "2025-01-03 05:00", freq="6h")
    fc = pd.DataFrame({"service": "api", "resource": "cpu", "ds": ts})
    fc = pd.concat([fc, pd.DataFrame({"service": ["web"], "resource": ["cpu"], "ds": [ts[2]]})])
    got = planned_demand(fc.reset_index(drop=True), plan, "expected")
    # before the plan: NaN; each day's hours take that day's demand; after the last day: NaN
    # (ts: 23:00 on Dec 31, then every 6 h up to 05:00 on Jan 3); web has no plan: NaN
    want = [np.nan] + [10.0] * 4 + [30.0] * 4 + [np.nan] + [np.nan]
    np.testing.assert_array_equal(got, np.array(want))
    aggressive = planned_demand(fc.reset_index(drop=True), plan, "aggressive")
    np.testing.assert_array_equal(aggressive, np.array([np.nan] + [99.0] * 8 + [np.nan] * 2))


def test_fan_png_draws_the_planned_demand():
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2025-01-01", periods=4, freq="h"),
            "p10": [1.0, 1, 1, 1],
            "p50": [2.0, 2, 2, 2],
            "p90": [3.0, 3, 3, 3],
            "planned_demand": [2.5, 2.5, 9.0, 9.0],
        }
    )
    with_plan = plots.png(
        fan_figure(Fan("s", "m", "x", frame, "p10", "p50", "p90", None, None, "planned_demand"))
    )
    without = plots.png(fan_figure(Fan("s", "m", "x", frame, "p10", "p50", "p90", None, None)))
    assert with_plan.startswith(b"\x89PNG") and with_plan != without


def test_partial_months_come_from_the_totals_days_planned():
    totals = pd.DataFrame(
        {
            "scenario": ["expected", "aggressive"] * 3,
            "period": pd.to_datetime(["2026-11-01"] * 2 + ["2026-12-01"] * 2 + ["2027-01-01"] * 2),
            "monthly_cost": [1.0] * 6,
            "days_planned": [11, 11, 1, 1, 31, 31],
        }
    )
    assert partial_months(totals) == {
        pd.Timestamp("2026-11-01"): "(11 of 30 days)",
        pd.Timestamp("2026-12-01"): "(1 of 31 days)",
    }
    assert partial_months(totals.drop(columns="days_planned")) == {}


def test_console_table_and_file_line():
    rows = [{"service": "api", "days": 3.5, "note": "x"}, {"service": "db", "days": 1234.0, "note": "beyond"}]
    text = table(rows, [("service", "service"), ("days", "days"), ("note", "note")], right={"note"})
    lines = text.splitlines()
    assert lines[0].split() == ["service", "days", "note"] and set(lines[1]) <= {"-", " "}
    assert lines[2].endswith("     x") and "1,234" in lines[3] and lines[3].endswith("beyond")
    report = SimpleNamespace(
        path="/d/a.csv", source="metrics", status="loaded", rows_loaded=9, rows_in=10, rows_quarantined=1
    )
    assert file_line(report) == "  loaded    metrics      a.csv: 9/10 rows, 1 quarantined"
    assert "REJECTED" in file_line(replace_ns(report, status="rejected", message="bad"))


def replace_ns(ns: SimpleNamespace, **changes) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(ns), **changes})
