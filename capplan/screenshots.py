"""Screenshots of the Prefect and MLflow UIs after a real pipeline run (``make screenshots``).

Starts a Prefect server and an MLflow server on free 127.0.0.1 ports (:mod:`capplan.servers`),
runs ``capplan refresh`` on the small demo company against both (quick models), then opens
the pages a person looks at in headless Chromium and saves them as PNG files (default
``demo/screenshots/``, what the README shows): the Prefect flow runs, the pipeline run with its
subflows, its artifacts, the MLflow experiment and the registered champions. Both servers are
stopped by pid at the end. Needs ``chromium`` (``apt-get install chromium``).

    python -m capplan.screenshots [--out demo/screenshots]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from pathlib import Path

from capplan.servers import BIN, free_port, start_mlflow, start_prefect

QUICK_MODELS = ["seasonal_naive", "seasonal_profile", "theta"]
SIZE = (1440, 900)
START_S = 300.0  # a busy machine starts the servers slowly


def chromium() -> str | None:
    return next(
        (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None
    )


def screenshot(browser: str, url: str, out: Path, wait_ms: int = 20000) -> Path:
    """One page as PNG, after ``wait_ms`` of virtual time so single-page apps finish rendering."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size={SIZE[0]},{SIZE[1]}",
             f"--virtual-time-budget={wait_ms}", f"--screenshot={out}", url],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
    return out


def _post(url: str, body: dict):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _company(folder: Path, mlflow_url: str) -> Path:
    from capplan.demo import generate_demo, write_demo
    from capplan.demo.config import write_config

    path = write_demo(generate_demo(seed=7, size="small"), folder)
    cfg = tomllib.loads(path.read_text())
    cfg["forecast"]["models"] = QUICK_MODELS
    cfg["mlflow"]["tracking_uri"] = mlflow_url
    return write_config(cfg, path, "capplan demo company for the UI screenshots")


def run(out: Path) -> list[Path]:
    browser = chromium()
    if browser is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prefect = start_prefect(free_port(), tmp / "prefect-home", timeout=START_S)
        mlflow = None
        try:
            mlflow = start_mlflow(free_port(), tmp / "mlruns", timeout=START_S)
            cfg = _company(tmp / "company", mlflow.url)
            env = {**os.environ, "PREFECT_API_URL": prefect.url, "PREFECT_HOME": str(tmp / "client-home")}
            print("running capplan refresh on the demo company against both servers ...", flush=True)
            subprocess.run(
                [str(BIN / "capplan"), "refresh", "--config", str(cfg), "--retrain", "--quiet"],
                env=env, check=True, timeout=1800,
            )  # fmt: skip
            ui = prefect.url.removesuffix("/api")
            runs = _post(f"{prefect.url}/flow_runs/filter", {"sort": "START_TIME_DESC"})
            pipeline = next(r for r in runs if r["flow_id"] and r["parent_task_run_id"] is None)
            exp = json.loads(
                urllib.request.urlopen(
                    f"{mlflow.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=capplan-demo",
                    timeout=10,
                ).read()
            )["experiment"]["experiment_id"]
            pages = {
                "prefect-runs.png": f"{ui}/runs",
                "prefect-pipeline-run.png": f"{ui}/runs/flow-run/{pipeline['id']}",
                "prefect-artifacts.png": f"{ui}/runs/flow-run/{pipeline['id']}?tab=Artifacts",
                "mlflow-experiment.png": f"{mlflow.url}/#/experiments/{exp}/runs",
                "mlflow-models.png": f"{mlflow.url}/#/models/capplan-demo-champions",
            }
            shots = []
            for name, url in pages.items():
                print(f"  {name:28} {url}", flush=True)
                shots.append(screenshot(browser, url, out / name))
            return shots
        finally:
            prefect.stop()
            if mlflow is not None:
                mlflow.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", default="demo/screenshots", help="folder for the PNG files (default: %(default)s)"
    )
    args = ap.parse_args(argv)
    for p in run(Path(args.out)):
        print(f"wrote {p} ({p.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
