"""``capplan demo``: generate the embedded demo company and run the whole pipeline on it."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

from capplan.core.config import Config, config_from_dict, load_config


def demo_config(out: Path, config: str | None) -> Config:
    """The generated config, with MLflow tracking into ./mlruns so `make ui` shows the runs."""
    if config:
        return load_config(config)
    path = out / "capplan.toml"
    data = tomllib.loads(path.read_text())
    mlruns = Path("mlruns").resolve()
    data.setdefault("mlflow", {})
    data["mlflow"]["tracking_uri"] = f"sqlite:///{mlruns / 'mlflow.db'}"
    data["mlflow"]["artifact_location"] = str(mlruns / "artifacts")
    return config_from_dict(data, source=str(path), base_dir=out.resolve())


def run_demo(out: Path, size: str = "small", seed: int = 7, config: str | None = None) -> int:
    from .demo import generate_demo, write_demo

    t0 = time.perf_counter()
    print(f"[1/2] Generating the demo company (size {size}, seed {seed}) into {out}/ ...", flush=True)
    data = generate_demo(seed=seed, size=size)
    write_demo(data, out, warehouse_path="warehouse.duckdb")
    print(f"      {len(data.metrics):,} metric rows, {len(data.services)} services", flush=True)
    cfg = demo_config(out, config)

    print("[2/2] Ingesting into DuckDB (validated with Great Expectations) ...", flush=True)
    from .ingest import ingest_flow

    reports = ingest_flow(cfg)
    loaded = sum(r["rows_loaded"] for r in reports)
    quarantined = sum(r["rows_quarantined"] for r in reports)
    rejected = [r for r in reports if r["status"] == "rejected"]
    print(
        f"      {loaded:,} rows loaded, {quarantined} quarantined (planted bad rows), {len(rejected)} files rejected"
    )

    print(f"\nDone in {time.perf_counter() - t0:.0f} s. Results:")
    print(f"  warehouse   {cfg.warehouse_path}")
    print(f"  config      {out / 'capplan.toml'}")
    print(
        f"  query it    .venv/bin/python -c \"import duckdb; print(duckdb.connect('{cfg.warehouse_path}', read_only=True).sql('SELECT * FROM load_batches'))\""
    )
    print(f"  status      .venv/bin/capplan status --config {out / 'capplan.toml'}")
    return 1 if rejected else 0
