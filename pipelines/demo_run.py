"""``capplan demo``: generate the embedded demo company and run the whole pipeline on it.

The pipeline runs once per week walked (:func:`capplan.pipelines.refresh.pipeline_flow`): first
as of ``weeks`` weeks before the end of the data with the quick models, publishing that forecast
(a past vintage), then re-forecasting with the same champions as of each later week (a vintage a
week, scored against what followed: the accuracy-by-week chart has a story); then on all data with every configured model through score, plan and export (the champion alias
moves on; the previous version stays as ``fallback``; the past vintage is scored against the two
weeks of actuals).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from capplan.core.config import load_config

QUICK_MODELS = ("seasonal_naive", "seasonal_profile", "theta")
_SAY = {
    "ingest": "Ingesting into DuckDB (validated with Great Expectations)",
    "train": "Training on all data with every configured model",
    "forecast": "Publishing the champions' forecast",
    "score": "Scoring published forecasts against the actuals that arrived since",
    "plan": "Planning capacity per scenario",
    "export": "Exporting the workbook, CSV tables and HTML report",
}


class _Steps:
    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.n += 1
        print(f"\n[{self.n}/{self.total}] {text}  (+{time.perf_counter() - self.t0:.0f} s)", flush=True)


def _generate(out: Path, size: str, seed: int, step: _Steps):
    from capplan.demo import generate_demo, write_demo

    step(f"Generating the demo company (size {size}, seed {seed}) into {out}/")
    data = generate_demo(seed=seed, size=size)
    mlruns = os.path.relpath(Path("mlruns").resolve(), out.resolve())  # what `make ui` serves
    path = write_demo(data, out, warehouse_path="warehouse.duckdb", mlruns=mlruns)
    print(f"      {len(data.metrics):,} metric rows, {len(data.services)} services, up to {data.end}")
    return data, path


def run_demo(out: Path, size: str = "small", seed: int = 7, config: str | None = None, weeks: int = 3) -> int:
    from capplan.reporting.console import print_run, print_scaling

    from .refresh import RefreshOptions, pipeline_flow

    step = _Steps(7)
    data, path = _generate(out, size, seed, step)
    cfg = load_config(config or path)
    end = pd.Timestamp(data.end)
    past = end - pd.Timedelta(weeks=weeks)
    step(
        f"Past vintages: train as of {past:%Y-%m-%d} with {', '.join(QUICK_MODELS)}, then re-forecast "
        f"weekly up to {end - pd.Timedelta(weeks=1):%Y-%m-%d} (the ledger's accuracy by week)"
    )
    first = pipeline_flow(
        cfg, RefreshOptions(retrain=True, as_of=past, models=QUICK_MODELS, through="forecast")
    )
    print_run(first)
    for k in range(weeks - 1, 0, -1):  # the same champions, re-fitted on each week's data
        week = pipeline_flow(
            cfg, RefreshOptions(retrain=False, as_of=end - pd.Timedelta(weeks=k), through="forecast")
        )
        print(f"      vintage as of {end - pd.Timedelta(weeks=k):%Y-%m-%d}: {week.publication.forecast_id}")
    csv = cfg.resolve(cfg.export.out_dir) / "forecast.csv"
    result = pipeline_flow(
        cfg,
        RefreshOptions(retrain=True, forecast_csv=str(csv)),
        progress=lambda s: s != "ingest" and step(_SAY[s]),
    )
    print_run(replace(result, ingest=None))  # the files were loaded by the first run
    if result.plan is not None:
        print_scaling(result.plan.tables.autoscaling, result.plan.tables.scaling_schedule)
    paths = result.exports or {}
    print(f"\nDone in {time.perf_counter() - step.t0:.0f} s. Results:")
    print(f"  workbook     {paths.get('xlsx')}")
    print(f"  report       {paths.get('html')}")
    print(f"  charts       {len(paths.get('png') or [])} PNG files next to the workbook (capplan_*.png)")
    print(f"  forecast CSV {csv}")
    print(f"  warehouse    {cfg.warehouse_path}   (duckdb {cfg.warehouse_path} -c 'SELECT * FROM runway')")
    print("  UIs          make ui   then open http://127.0.0.1:5000 (MLflow) and :4200 (Prefect)")
    conf = out / "capplan.toml"
    print(
        f"  next         .venv/bin/capplan plan --config {conf}   |   .venv/bin/capplan status --config {conf}"
    )
    return 1 if any(r["status"] == "rejected" for r in first.ingest) else 0
