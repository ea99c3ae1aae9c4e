"""How the whole pipeline's cost grows with the number of series.

Synthetic hourly panels (daily and weekly cycles, growth, noise; one series per service x metric)
of each size go through the real CLI in fresh processes: ``ingest``, ``train``, ``forecast``,
``plan``. Per size and step: wall seconds, CPU seconds (children's user + system) and peak
memory (children's max RSS). Then: time per series, the log-log slope of total wall time against
series count (target about 1: linear), and the orchestration overhead, read from the Prefect
database each step's flow wrote (``PREFECT_HOME`` is the case folder, so a size's runs are its
own): the flow runs' wall time minus the time of their task runs (what Prefect costs between and
around tasks; target under 10%), and apart from it the process start (imports, Prefect's
temporary server: the step's wall time minus its flow's).

Usage::

    python benchmarks/scale.py [--sizes 1000,3000,10000] [--days 365] [--models seasonal_naive,lightgbm]
    python benchmarks/scale.py --quick          # 100 and 300 series, 60 days, quick models

Targets (issue): 10,000 series end to end within 30 minutes on 2 cores and under 12 GB.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from _common import RESULTS_DIR, format_table, machine_info, verdict, write_json  # noqa: E402

STEPS = ("ingest", "train", "forecast", "plan", "export")
METRICS = (("cpu", "cores", 0.02), ("memory", "GiB", 0.05), ("rps", "req/s", 1.0))
TARGET_S, TARGET_GB = 30 * 60, 12.0


def panel(n_series: int, days: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_series`` hourly series (services x 3 metrics) and an inventory sized at ~60% of peak."""
    parts, inventory = [], []
    for part, inv in _panel_parts(n_series, days, seed):
        parts.append(part.to_pandas())
        inventory.extend(inv)
    return pd.concat(parts, ignore_index=True), pd.DataFrame(inventory)


def _panel_parts(n_series: int, days: int, seed: int = 7, services_per_part: int = 50):
    """The panel as pyarrow tables of ``services_per_part`` services each, with their inventory rows.

    Names and units are dictionary-encoded (Parquet writes them as dictionaries): one part holds
    ``services_per_part x 3`` series, so writing any size needs the memory of one part only.
    """
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    n_services = math.ceil(n_series / len(METRICS))
    end = pd.Timestamp("2026-11-01")
    ds = pd.date_range(end - pd.Timedelta(days=days), end, freq="h", inclusive="left").to_numpy()
    t = np.arange(len(ds))
    daily = 1 + 0.4 * np.sin(2 * np.pi * (t % 24) / 24)
    weekly = 1 + 0.1 * np.sin(2 * np.pi * (t % 168) / 168)
    done = 0
    for first in range(0, n_services, services_per_part):
        names, values, inventory = [], [], []
        for s in range(first, min(first + services_per_part, n_services)):
            base = rng.uniform(50, 500) * daily * weekly * (1 + rng.uniform(0, 0.002) * t / 24)
            rps = base * rng.normal(1, 0.04, len(t))
            for k, (metric, unit, factor) in enumerate(METRICS):
                if done == n_series:
                    break
                done += 1
                y = np.maximum(rps * factor, 0)
                names.append((f"svc{s:05d}", k))
                values.append(y)
                cap = float(np.percentile(y, 99)) / 0.6 / 4
                inventory.append(
                    {"service": f"svc{s:05d}", "resource": metric, "capacity_per_instance": cap, "unit": unit,
                     "instances": 4, "target_utilization": 0.7, "max_instances": 200, "cost_per_instance_hour": 0.1}
                )  # fmt: skip
        if not names:
            break
        n = len(t)
        services = sorted({svc for svc, _ in names})
        svc_code = {svc: i for i, svc in enumerate(services)}
        svc_idx = np.repeat(np.array([svc_code[svc] for svc, _ in names], dtype=np.int32), n)
        met_idx = np.repeat(np.array([k for _, k in names], dtype=np.int32), n)
        table = pa.table(
            {
                "ts": pa.array(np.tile(ds, len(names))),
                "service": pa.DictionaryArray.from_arrays(svc_idx, pa.array(services)),
                "metric": pa.DictionaryArray.from_arrays(met_idx, pa.array([m for m, _, _ in METRICS])),
                "value": pa.array(np.concatenate(values)),
                "unit": pa.DictionaryArray.from_arrays(met_idx, pa.array([u for _, u, _ in METRICS])),
            }
        )
        yield table, inventory


def write_panel(folder: Path, n_series: int, days: int) -> tuple[Path, Path]:
    """Write the panel to ``metrics.parquet`` (one row group per part) and ``inventory.csv``."""
    import pyarrow.parquet as pq

    metrics_path, inventory = folder / "metrics.parquet", []
    writer = None
    try:
        for table, inv in _panel_parts(n_series, days):
            if writer is None:
                writer = pq.ParquetWriter(metrics_path, table.schema)
            writer.write_table(table)
            inventory.extend(inv)
    finally:
        if writer is not None:
            writer.close()
    pd.DataFrame(inventory).to_csv(folder / "inventory.csv", index=False)
    return metrics_path, folder / "inventory.csv"


def write_case(
    folder: Path, n_series: int, days: int, models: list[str], window: str | None = None, batch_size: int = 0
) -> Path:
    """The panel and a config: horizon 48 h, 2 folds, and otherwise capplan's defaults (the default
    model set, training window and series batch size unless ``models`` / ``window`` / ``batch_size``
    say otherwise)."""
    write_panel(folder, n_series, days)
    quoted = ", ".join(f'"{m}"' for m in models)
    extra = (f"models = [{quoted}]\n" if models else "") + (f'train_window = "{window}"\n' if window else "")
    cfg = folder / "capplan.toml"
    cfg.write_text(
        '[warehouse]\npath = "wh.duckdb"\n'
        '[[sources]]\nname = "metrics"\nkind = "metrics"\npath = "metrics.parquet"\nformat = "parquet"\n'
        '[[sources]]\nname = "inventory"\nkind = "inventory"\npath = "inventory.csv"\n'
        f'[forecast]\nhorizon = 48\nfrequency = "h"\n{extra}'
        "[forecast.backtest]\nfolds = 2\n"
        '[mlflow]\ntracking_uri = "sqlite:///mlruns/mlflow.db"\nartifact_location = "mlruns/artifacts"\n'
        'experiment = "scale"\n[export]\nout_dir = "exports"\n'
        + (f"[orchestration]\nbatch_size = {batch_size}\n" if batch_size else "")
    )
    return cfg


def _utc(seconds: float) -> str:
    """Unix seconds as Prefect's database writes times (UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def orchestration(db: Path, since: float, until: float) -> dict:
    """From Prefect's SQLite database ``db``: the top-level flow runs started in ``[since, until]``
    (Unix seconds) and their task runs: ``flow_s`` (their wall seconds), ``tasks_s`` (the task
    runs' seconds, summed), ``covered_s`` (the flows' seconds during which at least one of their
    task runs ran: tasks running side by side count once), ``tasks`` (how many). Zeros when the
    database or the runs are not there."""
    import sqlite3

    empty = {"flow_s": 0.0, "tasks_s": 0.0, "covered_s": 0.0, "tasks": 0}
    if not db.exists():
        return empty
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        flows = con.execute(
            "SELECT id, (julianday(end_time) - julianday(start_time)) * 86400 FROM flow_run "
            "WHERE parent_task_run_id IS NULL AND end_time IS NOT NULL "
            "AND start_time >= ? AND start_time <= ?",
            [_utc(since), _utc(until)],
        ).fetchall()
        if not flows:
            return empty
        marks = ",".join("?" * len(flows))
        runs = con.execute(
            "SELECT flow_run_id, julianday(start_time) * 86400, julianday(end_time) * 86400 "
            f"FROM task_run WHERE end_time IS NOT NULL AND flow_run_id IN ({marks})",
            [f for f, _ in flows],
        ).fetchall()
    except sqlite3.Error:
        return empty
    finally:
        con.close()
    by_flow: dict = {}
    for flow_id, start, end in runs:
        by_flow.setdefault(flow_id, []).append((start, end))
    return {
        "flow_s": float(sum(w for _, w in flows)),
        "tasks_s": float(sum(end - start for _, start, end in runs)),
        "covered_s": float(sum(covered(v) for v in by_flow.values())),
        "tasks": len(runs),
    }


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds inside at least one of ``intervals`` (the length of their union)."""
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def tree_peak_mb(proc: subprocess.Popen, every_s: float = 0.5) -> float:
    """Wait for ``proc``; the peak of the summed resident memory of it and all its descendants
    (worker processes included), sampled every ``every_s`` seconds."""
    import psutil

    peak = 0.0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = []
        total = 0
        for q in procs:
            with contextlib.suppress(psutil.Error):
                total += q.memory_info().rss
        peak = max(peak, total / 2**20)
        time.sleep(every_s)
    return peak


def run_step(step: str, cfg: Path, dask: int = 0) -> dict:
    """One CLI step in a fresh process: wall and CPU seconds of that process tree (children's
    rusage) and its peak memory: the largest sum of resident memory over the step's process and
    its workers (sampled every 0.5 s), and ``/usr/bin/time``'s largest single process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    args = [str(Path(sys.executable).parent / "capplan"), step, "--config", str(cfg)]
    args += ["--quiet"] if step in ("ingest", "train") else []
    args += ["--dask", str(dask)] if dask and step == "train" else []
    rss = cfg.parent / f"{step}.rss"
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(rss)] if Path("/usr/bin/time").exists() else []
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "CRITICAL"}
    if "PREFECT_API_URL" not in env:  # the temporary server's database: this case's runs only
        env["PREFECT_HOME"] = str(cfg.parent / "prefect")
    started = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(timer + args, stdout=out, stderr=err, text=True, env=env)
        tree_mb = tree_peak_mb(proc)
        wall = time.perf_counter() - t0
        out.seek(0), err.seek(0)
        r = subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{step} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    single = float(rss.read_text().split()[-1]) / 1024 if rss.exists() else after.ru_maxrss / 1024
    peak = max(tree_mb, single)
    # with a server (PREFECT_API_URL), its database when it shares this PREFECT_HOME
    home = Path(env.get("PREFECT_HOME", "~/.prefect")).expanduser()
    orch = orchestration(home / "prefect.db", started - 1, time.time())
    return {
        "step": step, "wall_s": wall, "cpu_s": cpu, "peak_mb": peak, "largest_process_mb": single, **orch,
        "output": r.stdout[-4000:],
    }  # fmt: skip


def measure(
    n_series: int,
    days: int,
    models: list[str],
    steps: tuple[str, ...] = STEPS,
    window: str | None = None,
    dask: int = 0,
    batch_size: int = 0,
    keep: str = "",
) -> list[dict]:
    with contextlib.ExitStack() as stack:
        tmp = Path(keep) / str(n_series) if keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        tmp.mkdir(parents=True, exist_ok=True)
        cfg = write_case(tmp, n_series, days, models, window, batch_size)
        rows = []
        for step in steps:
            row = run_step(step, cfg, dask)
            rows.append({"series": n_series, **row})
            print(
                f"  {n_series:>6} series  {step:8} {row['wall_s']:8.1f} s wall  {row['cpu_s']:8.1f} s CPU  {row['peak_mb'] / 1024:5.1f} GB",
                flush=True,
            )
        return rows


def overhead_table(total: pd.DataFrame) -> str:
    """Per size: the flows' wall seconds, their task runs' seconds (summed, and the time during
    which at least one ran), the orchestration overhead (flow time outside every task run, share
    of the flow; target under 10%: an upper bound, since it holds the flow's own work between tasks
    too, such as MLflow logging) and the process start (step wall minus flow wall: imports and
    Prefect's temporary server)."""
    rows = []
    for n, r in total.iterrows():
        share = (r.flow_s - r.covered_s) / r.flow_s if r.flow_s > 0 else math.nan
        said = "n/a (no flow runs found)" if math.isnan(share) else f"{share:.1%} ({verdict(share < 0.10)})"
        rows.append(
            [
                n,
                f"{r.flow_s:.1f}",
                f"{r.tasks_s:.1f}",
                f"{r.covered_s:.1f}",
                said,
                f"{r.wall_s - r.flow_s:.1f}",
            ]
        )
    head = [
        "series",
        "flow wall s",
        "task runs s",
        "with a task running s",
        "orchestration overhead",
        "process start s",
    ]
    return format_table(head, rows)


def slope(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(series)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0]) if len(sizes) > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,10000")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--models", default="", help="comma-separated (default: capplan's default set)")
    ap.add_argument("--quick", action="store_true", help="100 and 300 series, 60 days, 60-day window")
    ap.add_argument("--steps", default=",".join(STEPS), help=f"a prefix of {','.join(STEPS)}")
    ap.add_argument(
        "--dask",
        type=int,
        default=0,
        help="train on a local Dask cluster of N workers (needs PREFECT_API_URL: a running Prefect server)",
    )
    ap.add_argument(
        "--batch-size",
        type=int,
        default=0,
        help="[orchestration] batch_size (default: capplan's, 500 series a task at most); "
        "set it below the size so that Dask workers have batches to share",
    )
    ap.add_argument(
        "--keep", default="", help="write each size's case (warehouse, config) under KEEP/<size> and keep it"
    )
    args = ap.parse_args(argv)
    sizes = [100, 300] if args.quick else [int(s) for s in args.sizes.split(",")]
    days = 60 if args.quick else args.days
    models = [m for m in args.models.split(",") if m]
    window = "60D" if args.quick else None
    runner = (
        f"local Dask, {args.dask} workers"
        if args.dask
        else "the default ([orchestration] task_runner: processes)"
    )
    named = ", ".join(models) or "the default set"
    print(f"scale: sizes {sizes}, {days} days hourly, models {named}, task runner {runner}", flush=True)
    steps = tuple(args.steps.split(","))
    if steps != STEPS[: len(steps)]:
        raise SystemExit(f"--steps must be a prefix of {','.join(STEPS)}, found {args.steps}")
    rows = [
        r
        for n in sizes
        for r in measure(n, days, models, steps, window, args.dask, args.batch_size, args.keep)
    ]
    frame = pd.DataFrame(rows)
    total = frame.groupby("series").agg(
        wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum"), peak_mb=("peak_mb", "max"),
        flow_s=("flow_s", "sum"), tasks_s=("tasks_s", "sum"), covered_s=("covered_s", "sum"),
    )  # fmt: skip
    total["ms_per_series"] = total["wall_s"] / total.index * 1000
    k = slope(list(total.index), list(total["wall_s"]))
    table = [
        [n, f"{r.wall_s:.1f}", f"{r.cpu_s:.1f}", f"{r.peak_mb:,.0f}", f"{r.ms_per_series:.0f}"]
        for n, r in total.iterrows()
    ]
    print(format_table(["series", "wall s", "CPU s", "peak MB", "ms/series"], table))
    print(f"log-log slope of wall time against series: {k:.2f} (target about 1: {verdict(0.8 <= k <= 1.2)})")
    biggest = total.index.max()
    projected = total.loc[biggest, "wall_s"] * 10_000 / biggest
    print(
        f"10,000 series projected from {biggest}: {projected / 60:.0f} min "
        f"(target {TARGET_S // 60} min: {verdict(projected <= TARGET_S)}); peak memory "
        f"{total['peak_mb'].max() / 1024:.1f} GB at {biggest} (target {TARGET_GB:g} GB at 10,000)"
    )
    per_step = frame.pivot_table(index="series", columns="step", values="wall_s", aggfunc="sum")[list(steps)]
    print(format_table(["series", *steps], [[n, *(f"{v:.1f}" for v in r)] for n, r in per_step.iterrows()]))
    print(overhead_table(total))
    name = f"scale_dask{args.dask}.json" if args.dask else "scale.json"
    if args.batch_size:
        name = name.replace(".json", f"_batch{args.batch_size}.json")
    write_json(
        RESULTS_DIR / name,
        {"machine": machine_info(), "models": models or "default", "days": days, "runner": runner,
         "batch_size": args.batch_size or "default", "steps": rows, "slope": k},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
