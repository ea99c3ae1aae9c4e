"""Idempotent, audited loading of input files into the warehouse.

Per file: hash the content (a file already loaded with the same hash is skipped and changes
nothing); read every row; type and check them (``validation.py``); put metric rows on their
series' grid; then, in ONE transaction, upsert the good rows by key, write failed rows to
``quarantine`` with their reason, and record the batch in ``load_batches``. A failure anywhere
rolls the whole batch back.

Accounting invariant for every batch: ``rows_in = rows_loaded + rows_quarantined``. Of the loaded
rows, ``rows_duplicate`` were superseded by a later row with the same key in the same batch (the
last arrival wins) and the rest were ``inserted``, ``updated`` (a different value was stored
before) or ``unchanged``; ``rows_regridded`` counts off-grid timestamps moved onto the grid.
Values from data reach DuckDB only as registered frames or bound parameters, never as SQL text.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from glob import glob
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.core.config import Config, SourceConfig
from capplan.core.errors import InputError

from .grid import find_gaps, frequency_seconds, infer_frequencies, place_on_grid
from .readers import read_raw
from .validation import Engine, check_frame

TABLE_KEYS = {
    "kpis": ("kpis", ("kpi", "ds"), ("value",)),
    "events": ("events", ("name", "start"), ("kind", "end", "services", "expected_uplift")),
    "inventory": (
        "inventory",
        ("service", "resource"),
        (
            "capacity_per_instance",
            "unit",
            "instances",
            "target_utilization",
            "max_instances",
            "cost_per_instance_hour",
            "instance_type",
        ),
    ),
    "loadtests": (
        "loadtests",
        ("service", "point"),
        ("instances", "concurrency", "throughput", "latency_p99_ms"),
    ),
}


@dataclass
class BatchReport:
    source: str
    path: str
    status: str  # loaded | unchanged | rejected
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_duplicate: int = 0
    rows_regridded: int = 0
    message: str = ""
    batch_id: str = ""
    engine: str = ""
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def as_row(self) -> dict:
        d = asdict(self)
        d.pop("quarantine_reasons")
        d.pop("engine")
        return d


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_files(source: SourceConfig, cfg: Config) -> list[Path]:
    pattern = str(cfg.resolve(source.path))
    return [Path(p) for p in sorted(glob(pattern, recursive=True))]


def ingest_file(
    con, path: Path, source: SourceConfig, cfg: Config, *, engine: Engine = "auto"
) -> BatchReport:
    """Load one file of ``source``. Never raises for a user's bad input: reports it instead."""
    path = Path(path)
    try:
        digest = file_hash(path)
    except OSError as err:
        return BatchReport(source.name, str(path), "rejected", message=f"{path}: cannot read file: {err}")
    if _already_loaded(con, source.name, digest):
        return BatchReport(source.name, str(path), "unchanged", message="same content already loaded")
    try:
        raw = read_raw(path, source)
    except InputError as err:
        report = BatchReport(source.name, str(path), "rejected", message=str(err))
        _record_rejection(con, report, source, digest)
        return report
    checked = check_frame(raw, source, cfg, series_units=_series_units(con), engine=engine)
    report = BatchReport(
        source.name,
        str(path),
        "loaded",
        rows_in=len(raw),
        rows_loaded=len(checked.good),
        rows_quarantined=len(checked.bad),
        batch_id=uuid.uuid4().hex[:16],
        engine=checked.engine,
        quarantine_reasons=checked.bad["check"].value_counts().to_dict() if len(checked.bad) else {},
    )
    assert report.rows_in == report.rows_loaded + report.rows_quarantined
    con.execute("BEGIN TRANSACTION")
    try:
        if source.kind == "metrics":
            _load_metrics(con, checked.good, source, cfg, report)
        else:
            _load_table(con, checked.good, source, report)
        _write_quarantine(con, checked.bad, source, path, report)
        _write_batch(con, report, source, digest)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def _already_loaded(con, source: str, digest: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM load_batches WHERE source = ? AND content_hash = ? AND status IN ('loaded','rejected')",
        [source, digest],
    ).fetchall()[0]
    return bool(row[0])


def _series_units(con) -> dict[str, str]:
    return dict(con.execute("SELECT unique_id, unit FROM series WHERE unit IS NOT NULL").fetchall())


def _series_frequencies(con) -> dict[str, str]:
    return dict(con.execute("SELECT unique_id, frequency FROM series").fetchall())


def _dedupe_last(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, int]:
    dup = frame.duplicated(subset=keys, keep="last")
    return frame[~dup], int(dup.sum())


def _load_metrics(con, good: pd.DataFrame, source: SourceConfig, cfg: Config, report: BatchReport) -> None:
    if good.empty:
        return
    frame = good[["unique_id", "service", "metric", "region", "unit", "ds", "y"]]
    frame, report.rows_duplicate = _dedupe_last(frame, ["unique_id", "ds"])
    known = _series_frequencies(con)
    inferred = infer_frequencies(frame)
    fallback = pd.Series(list(inferred.values())).mode()
    default = fallback.iloc[0] if len(fallback) else "h"
    uids = frame["unique_id"].unique()
    freq_of = {u: cfg.ingest.frequencies.get(u) or known.get(u) or inferred.get(u) or default for u in uids}
    freq = frame["unique_id"].map(freq_of)
    grid = place_on_grid(frame["ds"], freq, cfg.ingest.grid_rule)
    report.rows_regridded = int((grid != frame["ds"]).sum())
    frame = frame.assign(ds=grid)
    kinds = {m: cfg.metric_spec(str(m)).kind for m in frame["metric"].unique()}
    obs = _combine_on_grid(frame, kinds)
    series = frame.drop_duplicates("unique_id", keep="last")[
        ["unique_id", "service", "metric", "region", "unit"]
    ]
    series = series.assign(
        kind=series["metric"].map(kinds),
        frequency=series["unique_id"].map(freq_of),
        source=source.name,
    )
    _upsert(
        con,
        "series",
        _plain(series),
        ("unique_id",),
        ("service", "metric", "region", "unit", "kind", "frequency", "source"),
    )
    ins, upd, same = _upsert(con, "observations", obs, ("unique_id", "ds"), ("y",))
    report.rows_inserted, report.rows_updated, report.rows_unchanged = ins, upd, same
    _refresh_gaps(con, list(uids), {u: frequency_seconds(f) for u, f in freq_of.items()})


def _combine_on_grid(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Several samples on one grid point: sum for counters, mean for gauges and rates."""
    counters = frame["metric"].map(kinds).eq("counter").to_numpy()
    parts = []
    for is_counter, part in ((True, frame[counters]), (False, frame[~counters])):
        if part.empty:
            continue
        if not part.duplicated(["unique_id", "ds"]).any():
            parts.append(part[["unique_id", "ds", "y"]])
            continue
        agg = "sum" if is_counter else "mean"
        parts.append(part.groupby(["unique_id", "ds"], as_index=False, sort=False)["y"].agg(agg))
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out.reset_index(drop=True)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns for DuckDB registration (pandas' string dtype with NA -> None)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.StringDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _load_table(con, good: pd.DataFrame, source: SourceConfig, report: BatchReport) -> None:
    table, keys, values = TABLE_KEYS[source.kind]
    frame = good.copy()
    if source.kind == "events":
        frame["services"] = [
            [p.strip() for p in str(t).replace(",", ";").split(";") if p.strip()]
            for t in frame["services_text"]
        ]
    if source.kind == "inventory":
        frame["instances"] = frame["instances"].round().astype("int64")
        frame["max_instances"] = frame["max_instances"].round().astype("int64")
    frame = frame[[*keys, *values]]
    frame, report.rows_duplicate = _dedupe_last(frame, list(keys))
    ins, upd, same = _upsert(con, table, _plain(frame), keys, values)
    report.rows_inserted, report.rows_updated, report.rows_unchanged = ins, upd, same


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _upsert(con, table: str, frame: pd.DataFrame, keys: tuple, values: tuple) -> tuple[int, int, int]:
    """Insert-or-update ``frame`` by ``keys``; returns (inserted, updated, unchanged)."""
    if frame.empty:
        return 0, 0, 0
    stage = f"_stage_{table}"
    con.register(stage, frame)
    try:
        on = " AND ".join(f"s.{_q(k)} = t.{_q(k)}" for k in keys)
        differs = " OR ".join(f"s.{_q(v)} IS DISTINCT FROM t.{_q(v)}" for v in values)
        first_key = _q(keys[0])
        ins, upd, same = con.execute(
            f"""SELECT count(*) FILTER (WHERE t.{first_key} IS NULL),
                       count(*) FILTER (WHERE t.{first_key} IS NOT NULL AND ({differs})),
                       count(*) FILTER (WHERE t.{first_key} IS NOT NULL AND NOT ({differs}))
                FROM {stage} s LEFT JOIN {table} t ON {on}"""
        ).fetchall()[0]
        cols = ", ".join(_q(c) for c in (*keys, *values))
        sets = ", ".join(f"{_q(v)} = excluded.{_q(v)}" for v in values)
        con.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({', '.join(_q(k) for k in keys)}) DO UPDATE SET {sets}"
        )
    finally:
        con.unregister(stage)
    return int(ins), int(upd), int(same)


def _refresh_gaps(con, uids: list[str], step_seconds: dict[str, int]) -> None:
    touched = pd.DataFrame({"unique_id": uids})
    con.register("_touched", touched)
    try:
        obs = con.execute(
            "SELECT o.unique_id, o.ds FROM observations o JOIN _touched t USING (unique_id) ORDER BY 1, 2"
        ).df()
        con.execute("DELETE FROM gaps WHERE unique_id IN (SELECT unique_id FROM _touched)")
    finally:
        con.unregister("_touched")
    gaps = find_gaps(obs, step_seconds)
    if not gaps.empty:
        con.register("_gaps", gaps)
        try:
            con.execute("INSERT INTO gaps SELECT unique_id, gap_start, gap_end, missing_steps FROM _gaps")
        finally:
            con.unregister("_gaps")


def _write_quarantine(con, bad: pd.DataFrame, source: SourceConfig, path: Path, report: BatchReport) -> None:
    if bad.empty:
        return
    q = bad.assign(batch_id=report.batch_id, source=source.name, path=str(path))
    q = q[["batch_id", "source", "path", "line", "raw", "check", "reason"]].astype(object)
    con.register("_quarantine", q)
    try:
        con.execute("INSERT INTO quarantine SELECT * FROM _quarantine")
    finally:
        con.unregister("_quarantine")


def _write_batch(con, report: BatchReport, source: SourceConfig, digest: str) -> None:
    con.execute(
        """INSERT INTO load_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            report.batch_id,
            source.name,
            source.kind,
            report.path,
            digest,
            report.rows_in,
            report.rows_loaded,
            report.rows_quarantined,
            report.rows_inserted,
            report.rows_updated,
            report.rows_unchanged,
            report.rows_duplicate,
            report.rows_regridded,
            report.status,
            report.message,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


def _record_rejection(con, report: BatchReport, source: SourceConfig, digest: str) -> None:
    report.batch_id = uuid.uuid4().hex[:16]
    _write_batch(con, report, source, digest)


def ingest_source(
    con, source: SourceConfig, cfg: Config, *, engine: Engine = "auto", paths=None
) -> list[BatchReport]:
    """Load every file matching ``source.path``; a source matching no file is itself rejected."""
    files = list(paths) if paths is not None else source_files(source, cfg)
    if not files:
        return [
            BatchReport(
                source.name,
                str(cfg.resolve(source.path)),
                "rejected",
                message=f"source '{source.name}': no file matches {cfg.resolve(source.path)}",
            )
        ]
    return [ingest_file(con, p, source, cfg, engine=engine) for p in files]


__all__ = ["BatchReport", "ingest_file", "ingest_source", "source_files", "file_hash", "np"]
