"""Ingest benchmark: validated, idempotent loading of long metric rows from Parquet.

Target (the issue): 10 million long-format metric rows from Parquet, validated and loaded at
>= 1 million rows/s end to end with peak memory < 4 GB, reported as a ratio against a plain DuckDB
``INSERT ... SELECT * FROM read_parquet(...)`` of the same file in the same run (target: within
3x). Re-ingesting the same file costs < 5 % of the first load.

Usage::

    python benchmarks/ingest.py [--rows 10000000] [--out benchmarks/results/ingest.json] [--quick]

Data: the ``large`` demo (8 services x 5 metrics, 5-minute grid, 2 years, ~8.4M rows), cut to
``--rows`` or extended with renamed copies of its services (``web-2``, ``api-2``, ...) until it
has ``--rows`` rows. Deterministic in ``--seed``. Two Parquet files are written to a temporary
folder: the full file and a re-delivery of its last 10 % of time with every other value changed.

Phases, each in a fresh subprocess so its peak memory (VmHWM) is its own; the time of a phase is
connect + load + close (the checkpoint), without interpreter start-up and imports:

* ``baseline_plain``: fresh DuckDB file, ``CREATE TABLE`` with the Parquet's columns, then
  ``INSERT INTO t SELECT * FROM read_parquet(...)``: the reference for the ratio target.
* ``baseline_keyed``: the same into an ``observations``-like table (``unique_id, ds, y``) with a
  DuckDB ``PRIMARY KEY``: what an index-enforced key would cost. capplan's ``observations`` has
  no index; the loader enforces the key (see ``capplan/warehouse/schema.py``).
* ``capplan_first``: ``ingest_file`` on a fresh warehouse (hash, read, type + check, grid,
  upsert, gaps, audit), ``capplan_same``: the same file again (must be ``unchanged``),
  ``capplan_overlap``: the re-delivered overlapping file (the update path).
* ``capplan_profile``: ``capplan_first`` again on another fresh warehouse under cProfile, with
  every SQL statement timed, for the breakdown of where the time goes (profiling adds overhead).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from _common import (
    RESULTS_DIR,
    current_rss_mb,
    format_table,
    machine_info,
    peak_rss_mb,
    verdict,
    write_json,
)

TARGET_ROWS_PER_S = 1_000_000
TARGET_PEAK_MB = 4096
TARGET_RATIO = 3.0
TARGET_REINGEST_SHARE = 0.05
OVERLAP_SHARE = 0.10
FULL_ROWS = 10_000_000
QUICK_ROWS = 1_000_000
PHASES = (
    "baseline_plain",
    "baseline_keyed",
    "capplan_first",
    "capplan_same",
    "capplan_overlap",
    "capplan_profile",
)
_MARK = "@@phase-result "


# --- data ---------------------------------------------------------------------------------------


def metrics_frame(rows: int, seed: int):
    """(demo data, metrics frame of exactly ``rows`` rows): the large demo cut or extended."""
    import numpy as np
    import pandas as pd

    from capplan.demo import generate_demo

    data = generate_demo(seed, size="large")
    base = data.metrics
    if rows <= len(base):
        return data, base.iloc[:rows].reset_index(drop=True)
    services = list(base["service"].cat.categories)
    codes = base["service"].cat.codes.to_numpy()
    positions = {s: np.flatnonzero(codes == i) for i, s in enumerate(services)}
    take, new_codes, names = [np.arange(len(base))], [codes.astype(np.int64)], list(services)
    need, copy = rows - len(base), 2
    while need > 0:
        for s in services:
            pos = positions[s][:need]
            names.append(f"{s}-{copy}")
            take.append(pos)
            new_codes.append(np.full(len(pos), len(names) - 1, dtype=np.int64))
            need -= len(pos)
            if need == 0:
                break
        copy += 1
    frame = base.iloc[np.concatenate(take)].reset_index(drop=True)
    frame["service"] = pd.Categorical.from_codes(np.concatenate(new_codes), categories=names)
    return data, frame


def overlap_frame(frame):
    """The last ``OVERLAP_SHARE`` of time of every series, every other value changed (a re-delivery)."""
    ts = frame["ts"]
    cutoff = (ts.min() + (ts.max() - ts.min()) * (1 - OVERLAP_SHARE)).floor("5min")
    out = frame[ts >= cutoff].reset_index(drop=True)
    value = out["value"].to_numpy().copy()
    value[::2] = value[::2] * 1.01 + 0.001
    out["value"] = value
    return out


def prepare(workdir: Path, rows: int, seed: int) -> dict:
    """Write ``metrics.parquet`` and ``overlap.parquet`` into ``workdir``; describe them."""
    from capplan.demo import write_metrics_parquet

    t0 = time.perf_counter()
    data, frame = metrics_frame(rows, seed)
    over = overlap_frame(frame)
    full_path = write_metrics_parquet(replace(data, metrics=frame), workdir / "metrics.parquet")
    over_path = write_metrics_parquet(replace(data, metrics=over), workdir / "overlap.parquet")
    return {
        "rows": len(frame),
        "series": int(frame.groupby(["service", "metric"], observed=True).ngroups),
        "overlap_rows": len(over),
        "overlap_changed_rows": (len(over) + 1) // 2,
        "file_mb": round(full_path.stat().st_size / 1024**2, 1),
        "overlap_file_mb": round(over_path.stat().st_size / 1024**2, 1),
        "prepare_s": round(time.perf_counter() - t0, 2),
    }


# --- phases (each runs in its own process) ---------------------------------------------------------


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _baseline(workdir: Path, keyed: bool) -> dict:
    import duckdb

    db = workdir / ("baseline_keyed.duckdb" if keyed else "baseline_plain.duckdb")
    src = _sql_path(workdir / "metrics.parquet")
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    if keyed:
        con.execute(
            "CREATE TABLE observations (unique_id VARCHAR NOT NULL, ds TIMESTAMP NOT NULL, "
            "y DOUBLE NOT NULL, PRIMARY KEY (unique_id, ds))"
        )
        con.execute(
            "INSERT INTO observations SELECT concat_ws(':', service, metric, region), "
            f"ts::TIMESTAMP, value FROM read_parquet({src})"
        )
        table = "observations"
    else:
        con.execute(
            "CREATE TABLE t (ts TIMESTAMPTZ, service VARCHAR, metric VARCHAR, value DOUBLE, "
            "unit VARCHAR, region VARCHAR)"
        )
        con.execute(f"INSERT INTO t SELECT * FROM read_parquet({src})")
        table = "t"
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.close()
    seconds = time.perf_counter() - t0
    rows = duckdb.connect(str(db), read_only=True).execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return {"seconds": seconds, "rows": rows, "duckdb_threads": threads}


def _config(workdir: Path):
    from capplan.core.config import config_from_dict

    return config_from_dict(
        {
            "warehouse": {"path": "warehouse.duckdb"},
            "sources": [{"name": "bench", "kind": "metrics", "path": "metrics.parquet", "format": "parquet"}],
        },
        base_dir=workdir,
    )


def _capplan(workdir: Path, file: str, warehouse: str, engine: str, con_wrapper=None) -> dict:
    from capplan.warehouse.connection import connect
    from capplan.warehouse.load import ingest_file

    cfg = _config(workdir)
    source = cfg.sources[0]
    t0 = time.perf_counter()
    con = connect(workdir / warehouse)
    t1 = time.perf_counter()
    report = ingest_file(con_wrapper(con) if con_wrapper else con, workdir / file, source, cfg, engine=engine)
    t2 = time.perf_counter()
    con.close()
    t3 = time.perf_counter()
    counts = connect(workdir / warehouse, read_only=True).execute(
        "SELECT (SELECT count(*) FROM observations), (SELECT count(*) FROM gaps)"
    )
    observations, gaps = counts.fetchall()[0]
    fields = ("status", "engine", "rows_in", "rows_loaded", "rows_quarantined", "rows_inserted")
    fields += ("rows_updated", "rows_unchanged", "rows_duplicate", "rows_regridded", "message")
    return {
        "seconds": t3 - t0,
        "connect_s": t1 - t0,
        "ingest_file_s": t2 - t1,
        "close_s": t3 - t2,
        "rows": report.rows_in if report.status != "unchanged" else 0,
        "report": {f: getattr(report, f) for f in fields},
        "observations_after": observations,
        "gaps_after": gaps,
    }


class _TimedResult:
    """Wraps what ``execute`` returns so that fetching (``fetchall``/``df``) counts to the statement."""

    def __init__(self, res, times: dict, label: str):
        self._res, self._times, self._label = res, times, label

    def _timed(self, name: str, *args):
        t = time.perf_counter()
        try:
            return getattr(self._res, name)(*args)
        finally:
            self._times[self._label] += time.perf_counter() - t

    def fetchall(self):
        return self._timed("fetchall")

    def fetchone(self):
        return self._timed("fetchone")

    def df(self):
        return self._timed("df")

    def __getattr__(self, name):
        return getattr(self._res, name)


_SQL_LABELS = (
    (r"^SELECT count\(\*\) FILTER.*_stage_observations", "sql: classify rows (join vs observations)"),
    (r"^INSERT INTO observations", "sql: insert observations (series new to the warehouse)"),
    (r"^MERGE INTO observations", "sql: merge observations by key (update / insert)"),
    (r"_stage_series", "sql: upsert series"),
    (r"JOIN _touched", "sql: gaps, read back observations (to pandas)"),
    (r"^DELETE FROM gaps", "sql: gaps, delete old"),
    (r"^INSERT INTO gaps", "sql: gaps, insert"),
    (r"^COMMIT", "sql: COMMIT"),
    (r"load_batches", "sql: batch audit"),
    (r"FROM series", "sql: series lookups"),
    (r"^INSERT INTO quarantine", "sql: quarantine"),
)


def _sql_label(sql: str) -> str:
    text = " ".join(sql.split())
    for pattern, label in _SQL_LABELS:
        if re.search(pattern, text):
            return label
    return "sql: " + text[:40]


class _TimedConnection:
    """A DuckDB connection that adds each statement's time (execute + fetch) to ``times``.

    ``memory`` records (statement, RSS MB, peak RSS MB so far) just *before* each statement, so
    the peak reached by the pandas stages and by each statement can be told apart.
    """

    def __init__(self, con):
        self._con = con
        self.times: dict[str, float] = defaultdict(float)
        self.memory: list[tuple[str, float, float]] = []

    def execute(self, sql: str, params=None):
        label = _sql_label(sql)
        self.memory.append((label, round(current_rss_mb()), round(peak_rss_mb())))
        t = time.perf_counter()
        res = self._con.execute(sql) if params is None else self._con.execute(sql, params)
        self.times[label] += time.perf_counter() - t
        return _TimedResult(res, self.times, label)

    def register(self, name: str, frame):
        t = time.perf_counter()
        out = self._con.register(name, frame)
        self.times["sql: register frames"] += time.perf_counter() - t
        return out

    def __getattr__(self, name):
        return getattr(self._con, name)


# Python stages of ingest_file: (label, module, function); cumulative time from cProfile.
_STAGES = (
    ("hash file (sha256)", "load", "file_hash"),
    ("read Parquet record batches -> raw chunks", "readers", "chunks"),
    ("type columns (parse ts, text, numbers)", "validation", "typed_frame"),
    ("derive unique_id / expected unit", "validation", "_prepare_metrics"),
    ("check_frame total (typed + derive + checks + split)", "validation", "check_frame"),
    ("read + check, chunk by chunk (read_checked total)", "load", "read_checked"),
    ("dedupe by key (last wins)", "load", "_dedupe_last"),
    ("infer frequencies", "grid", "infer_frequencies"),
    ("place on grid", "grid", "place_on_grid"),
    ("combine samples on grid", "load", "_combine_on_grid"),
    ("strings -> object for DuckDB (_plain)", "load", "_plain"),
    ("_upsert total (series + observations)", "load", "_upsert"),
    ("gaps total (_refresh_gaps)", "load", "_refresh_gaps"),
    ("find_gaps (pandas)", "grid", "find_gaps"),
    ("_load_metrics total", "load", "_load_metrics"),
    ("ingest_file total", "load", "ingest_file"),
)


def _stage_times(stats: pstats.Stats) -> dict[str, float]:
    by_name: dict[tuple[str, str], float] = defaultdict(float)
    for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        parts = Path(file).parts
        if len(parts) >= 2 and parts[-2] == "warehouse":
            by_name[(Path(file).stem, func)] += ct
    return {label: by_name.get((mod, func), 0.0) for label, mod, func in _STAGES}


def _profile(workdir: Path, engine: str) -> dict:
    wrapped: list[_TimedConnection] = []

    def wrap(con):
        wrapped.append(_TimedConnection(con))
        return wrapped[0]

    prof = cProfile.Profile()
    prof.enable()
    out = _capplan(workdir, "metrics.parquet", "warehouse_profile.duckdb", engine, con_wrapper=wrap)
    prof.disable()
    stats = pstats.Stats(prof)
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(15)
    checks = _stage_times(stats)
    check_only = checks["check_frame total (typed + derive + checks + split)"] - (
        checks["type columns (parse ts, text, numbers)"] + checks["derive unique_id / expected unit"]
    )
    out["stages"] = {**checks, "checks + good/bad split (check_frame rest)": check_only}
    out["sql"] = dict(sorted(wrapped[0].times.items(), key=lambda kv: -kv[1]))
    out["top15_cumulative"] = text.getvalue()
    out["memory_before_statement"] = wrapped[0].memory
    return out


def run_phase(phase: str, workdir: Path, engine: str) -> dict:
    """Run one phase in this process and return its figures (with this process's peak memory).

    The libraries every phase may use are imported first, outside the timed region, so the
    baseline and capplan pay the same (zero) import cost; ``imports_s`` reports it.
    """
    t0 = time.perf_counter()
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import capplan.warehouse.load  # noqa: F401

    imports_s = time.perf_counter() - t0
    rss_before = current_rss_mb()
    if phase == "baseline_plain":
        out = _baseline(workdir, keyed=False)
    elif phase == "baseline_keyed":
        out = _baseline(workdir, keyed=True)
    elif phase in ("capplan_first", "capplan_same"):
        out = _capplan(workdir, "metrics.parquet", "warehouse.duckdb", engine)
    elif phase == "capplan_overlap":
        out = _capplan(workdir, "overlap.parquet", "warehouse.duckdb", engine)
    elif phase == "capplan_profile":
        out = _profile(workdir, engine)
    else:
        raise ValueError(f"unknown phase {phase!r}")
    return {
        "phase": phase,
        **out,
        "imports_s": imports_s,
        "rss_before_mb": rss_before,
        "peak_mb": peak_rss_mb(),
    }


def _child(phase: str, workdir: Path, engine: str) -> dict:
    """Run ``phase`` in a fresh interpreter; its last stdout line carries the figures."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--workdir", str(workdir)]
    cmd += ["--engine", engine]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise RuntimeError(f"phase {phase} failed (exit {proc.returncode})")
    out = json.loads(lines[-1][len(_MARK) :])
    out["process_s"] = wall
    return out


# --- report --------------------------------------------------------------------------------------


def _summary(data: dict, phases: dict[str, dict]) -> tuple[list[list], list[dict]]:
    base = phases["baseline_plain"]["seconds"]
    first = phases["capplan_first"]
    rows = []
    for name in PHASES:
        p = phases[name]
        n = p["rows"] if name != "capplan_same" else data["rows"]
        rate = n / p["seconds"] if p["seconds"] > 0 else float("inf")
        status = p.get("report", {}).get("status", "")
        rows.append(
            [
                name,
                f"{n:,}",
                f"{p['seconds']:.2f}",
                f"{rate:,.0f}" if name != "capplan_same" else "-",
                f"{p['peak_mb']:,.0f}",
                f"{p['seconds'] / base:.2f}x",
                status,
            ]
        )
    rate = data["rows"] / first["seconds"]
    ratio = first["seconds"] / base
    share = phases["capplan_same"]["seconds"] / first["seconds"]
    targets = [
        {
            "target": "end-to-end throughput >= 1,000,000 rows/s",
            "value": round(rate),
            "ok": rate >= TARGET_ROWS_PER_S,
        },
        {
            "target": "peak memory < 4 GB (first load)",
            "value": round(first["peak_mb"]),
            "ok": first["peak_mb"] < TARGET_PEAK_MB,
        },
        {
            "target": "peak memory < 4 GB (overlapping re-delivery)",
            "value": round(phases["capplan_overlap"]["peak_mb"]),
            "ok": phases["capplan_overlap"]["peak_mb"] < TARGET_PEAK_MB,
        },
        {
            "target": "time within 3x of plain DuckDB INSERT ... SELECT * FROM read_parquet",
            "value": round(ratio, 2),
            "ok": ratio <= TARGET_RATIO,
        },
        {
            "target": "re-ingesting the same file < 5% of the first load",
            "value": round(share, 4),
            "ok": share < TARGET_REINGEST_SHARE and phases["capplan_same"]["report"]["status"] == "unchanged",
        },
    ]
    return rows, targets


def _print_breakdown(prof: dict) -> None:
    total = prof["stages"]["ingest_file total"] or 1.0
    print(f"\nWhere capplan's time goes (profiled first load, {prof['seconds']:.2f} s with cProfile on):")
    rows = [[label, f"{s:.2f}", f"{100 * s / total:.0f}%"] for label, s in prof["stages"].items()]
    print(format_table(["python stage (cumulative)", "s", "of ingest_file"], rows))
    rows = [[label, f"{s:.2f}", f"{100 * s / total:.0f}%"] for label, s in prof["sql"].items() if s >= 0.005]
    print()
    print(format_table(["DuckDB statement (execute + fetch)", "s", "of ingest_file"], rows))
    print(f"close (checkpoint): {prof['close_s']:.2f} s\n")
    rows = [[label, f"{rss:,}", f"{hwm:,}"] for label, rss, hwm in prof["memory_before_statement"]]
    rows.append(["(after close)", "", f"{prof['peak_mb']:,.0f}"])
    print(format_table(["memory just before statement", "RSS MB", "peak MB so far"], rows))
    print("\ncProfile, top 15 by cumulative time:")
    text = prof["top15_cumulative"]
    start = text.find("   ncalls")
    print(text[start:] if start >= 0 else text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=None, help=f"rows in the file (default {FULL_ROWS:,})")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows unless --rows is given")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON (default results/ingest.json, ingest_quick.json if fewer rows)",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engine", default="auto", choices=("auto", "gx", "vectorized"))
    ap.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temp dir)")
    ap.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.phase:
        out = run_phase(args.phase, args.workdir, args.engine)
        print(_MARK + json.dumps(out, default=str))
        return 0

    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    out_path = args.out or RESULTS_DIR / ("ingest.json" if rows >= FULL_ROWS else "ingest_quick.json")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="capplan-bench-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("*.duckdb*"):
        old.unlink()
    try:
        print(f"ingest benchmark: preparing {rows:,} rows in {workdir} ...", flush=True)
        data = prepare(workdir, rows, args.seed)
        print(
            f"  {data['rows']:,} rows, {data['series']} series, {data['file_mb']} MB Parquet; "
            f"overlap file {data['overlap_rows']:,} rows ({data['overlap_changed_rows']:,} changed); "
            f"{data['prepare_s']} s",
            flush=True,
        )
        phases = {}
        load_before = os.getloadavg()
        for phase in PHASES:
            phases[phase] = _child(phase, workdir, args.engine)
            p = phases[phase]
            print(f"  {phase}: {p['seconds']:.2f} s, peak {p['peak_mb']:,.0f} MB", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    table, targets = _summary(data, phases)
    print()
    headers = ["phase", "rows", "seconds", "rows/s", "peak MB", "vs baseline", "status"]
    print(format_table(headers, table))
    print(
        "\n(seconds: connect + load + close in a fresh process, imports excluded; peak MB: that "
        f"process's VmHWM, imports included; load average before/after: {load['before'][0]}/{load['after'][0]} "
        f"on {os.cpu_count()} CPUs)"
    )
    over = phases["capplan_overlap"]["report"]
    print(
        f"overlap re-delivery: {over['rows_updated']:,} updated, {over['rows_unchanged']:,} unchanged, "
        f"{over['rows_inserted']:,} inserted"
    )
    print("\nTargets:")
    for t in targets:
        print(f"  {verdict(t['ok'])}  {t['target']}: {t['value']:,}")
    _print_breakdown(phases["capplan_profile"])
    payload = {
        "benchmark": "ingest",
        "engine": args.engine,
        "data": data,
        "machine": machine_info(),
        "load_average": load,
        "phases": phases,
        "targets": targets,
    }
    print(f"results: {write_json(out_path, payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
