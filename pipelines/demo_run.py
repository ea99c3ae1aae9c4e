"""``capplan demo``: generate the embedded demo company and run the whole pipeline on it.

Steps: generate -> ingest -> train "as of" two weeks before the end of the data with the
quick models and publish that forecast (a past vintage) -> train on all data with every
configured model and publish (the champion alias moves on; the previous version stays as
``fallback``) -> score the past vintage against the two weeks of actuals -> plan -> export.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pandas as pd

from capplan.core.config import Config, load_config

QUICK_MODELS = ("seasonal_naive", "seasonal_profile", "theta")


def demo_config(out: Path, config: str | None) -> Config:
    """The generated config, rewritten to track into this folder's ``mlruns/`` (what `make ui`
    serves), so later commands with ``--config <out>/capplan.toml`` use the same MLflow store."""
    if config:
        return load_config(config)
    path = out / "capplan.toml"
    mlruns = Path(os.path.relpath(Path("mlruns").resolve(), out.resolve()))
    text = path.read_text()
    text = re.sub(
        r'(?m)^tracking_uri = ".*"$', f'tracking_uri = "sqlite:///{(mlruns / "mlflow.db").as_posix()}"', text
    )
    text = re.sub(
        r'(?m)^artifact_location = ".*"$', f'artifact_location = "{(mlruns / "artifacts").as_posix()}"', text
    )
    path.write_text(text)
    return load_config(path)


class _Steps:
    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.n += 1
        print(f"\n[{self.n}/{self.total}] {text}  (+{time.perf_counter() - self.t0:.0f} s)", flush=True)


def run_demo(out: Path, size: str = "small", seed: int = 7, config: str | None = None) -> int:
    from .cli import with_models
    from .demo import generate_demo, write_demo

    step = _Steps(8)
    step(f"Generating the demo company (size {size}, seed {seed}) into {out}/")
    data = generate_demo(seed=seed, size=size)
    write_demo(data, out, warehouse_path="warehouse.duckdb")
    print(f"      {len(data.metrics):,} metric rows, {len(data.services)} services, up to {data.end}")
    cfg = demo_config(out, config)

    step("Ingesting into DuckDB (validated with Great Expectations)")
    from .ingest import ingest_flow

    reports = ingest_flow(cfg, quiet=True)
    rejected = [r for r in reports if r["status"] == "rejected"]
    print(
        f"      {sum(r['rows_loaded'] for r in reports):,} rows loaded, "
        f"{sum(r['rows_quarantined'] for r in reports)} quarantined (the planted bad rows), {len(rejected)} files rejected"
    )

    from .forecast import forecast_flow, score_flow
    from .train import train_flow

    past = pd.Timestamp(data.end) - pd.Timedelta(days=14)
    step(
        f"Training as of {past:%Y-%m-%d} with quick models ({', '.join(QUICK_MODELS)}) and publishing that forecast"
    )
    s = train_flow(with_models(cfg, QUICK_MODELS), as_of=past)
    forecast_flow(cfg)
    print(f"      past vintage published (run {s.run_id[:8]}, champions v{s.model_version})")

    step(f"Training on all data with {', '.join(cfg.forecast.models)}")
    s = train_flow(cfg)
    print(s.leaderboard.to_string(index=False))
    print(
        "      champions: " + ", ".join(f"{k} {v}" for k, v in s.champions["champion"].value_counts().items())
    )

    step("Publishing the champions' forecast")
    csv = cfg.resolve(cfg.export.out_dir) / "forecast.csv"
    pub = forecast_flow(cfg, out=str(csv))
    print(
        f"      {pub.forecasts['unique_id'].nunique()} series, champions v{pub.model_version} (previous kept as 'fallback')"
    )

    step("Scoring published forecasts against the actuals that arrived since")
    health = score_flow(cfg)
    scored = health[health["reference"].notna()] if len(health) else health
    print(
        f"      {len(scored)} series scored; {int(health['degraded'].sum()) if len(health) else 0} flagged for retraining"
    )

    step("Planning capacity per scenario")
    from .plan import plan_flow

    plan = plan_flow(cfg)
    alerts = plan.tables["alerts"]
    print(
        f"      {len(plan.tables['runway'])} runways, {(alerts['severity'] == 'critical').sum()} critical alerts"
    )

    step("Exporting the workbook, CSV tables and HTML report")
    from capplan.reporting import export_bundle
    from capplan.warehouse.connection import warehouse

    from .report import bundle_from_warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        paths = export_bundle(
            bundle_from_warehouse(con, cfg), cfg.resolve(cfg.export.out_dir), cfg.export.formats
        )

    conf = out / "capplan.toml"
    print(f"\nDone in {time.perf_counter() - step.t0:.0f} s. Results:")
    print(f"  workbook     {paths.get('xlsx')}")
    print(f"  report       {paths.get('html')}")
    print(f"  forecast CSV {csv}")
    print(f"  warehouse    {cfg.warehouse_path}   (duckdb {cfg.warehouse_path} -c 'SELECT * FROM runway')")
    print("  MLflow UI    make ui   then open http://127.0.0.1:5000")
    print(
        f"  next         .venv/bin/capplan plan --config {conf}   |   .venv/bin/capplan status --config {conf}"
    )
    return 1 if rejected else 0
