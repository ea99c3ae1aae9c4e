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
from capplan.core.tables import TABLES

from .grid import (
    find_gaps_sorted,
    frequency_seconds,
    infer_frequencies,
    is_key_sorted,
    key_order,
    place_on_grid,
)
from .readers import read_raw
from .validation import Engine, check_frame


def _keys_and_values(kind: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The table an input kind loads into, its key and its other columns (from the declaration)."""
    t = TABLES[kind]
    return kind, t.key, tuple(c for c in t.column_names if c not in t.key)


TABLE_KEYS = {kind: _keys_and_values(kind) for kind in ("kpis", "events", "inventory", "loadtests")}


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
    """Metric rows -> ``series``, ``observations`` and ``gaps``, computed on series codes.

    The rows are sorted once by (series, ds), arrival order kept within a key; dedupe, frequency
    inference, grid placement and combining all work on that order, on arrays, never per row on
    the ``unique_id`` text.
    """
    if good.empty:
        return
    rows, arrival, last_row, report.rows_duplicate = _sorted_rows(good)
    names = rows["unique_id"].cat.categories
    used = np.flatnonzero(last_row >= 0)
    series = _plain(good.iloc[last_row[used]][["unique_id", "service", "metric", "region", "unit"]])
    known = _series_frequencies(con)
    freq_of = _frequencies(rows, cfg, known, [names[k] for k in used])
    step_of = {u: frequency_seconds(f) for u, f in freq_of.items()}
    grid = place_on_grid(rows["ds"], _per_row(rows["unique_id"], freq_of), cfg.ingest.grid_rule)
    report.rows_regridded = int((grid != rows["ds"]).sum())
    rows["ds"] = grid
    del grid
    series["kind"] = [cfg.metric_spec(str(m)).kind for m in series["metric"]]
    series["frequency"] = [freq_of[u] for u in series["unique_id"]]
    series["source"] = source.name
    kind_of = dict(zip(series["unique_id"], series["kind"], strict=True))
    obs = _combine_on_grid(rows, arrival, _per_code(rows["unique_id"], kind_of) == "counter")
    del rows, arrival
    touched = _touched(con, obs, step_of, {u: known.get(u) != f for u, f in freq_of.items()})
    _upsert(
        con,
        "series",
        series,
        ("unique_id",),
        ("service", "metric", "region", "unit", "kind", "frequency", "source"),
    )
    ins, upd, same = _upsert_observations(con, obs, touched)
    report.rows_inserted, report.rows_updated, report.rows_unchanged = ins, upd, same
    _refresh_gaps(con, touched, _new_series_gaps(obs, touched, step_of))


def _sorted_rows(good: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """``good``'s (unique_id, ds, y) sorted by key, keeping each key's last arrival only.

    Also returns each kept row's arrival position, per series code the position of its last row
    (-1 for a code without rows) and how many rows a later arrival superseded.
    """
    uid = good["unique_id"].astype("category")
    codes = uid.cat.codes.to_numpy()
    ds = good["ds"].to_numpy(dtype="datetime64[ns]")
    y = good["y"].to_numpy(dtype="float64")
    order = np.arange(len(codes))
    if not is_key_sorted(codes, ds):
        order = key_order(codes, ds)
        codes, ds, y = codes[order], ds[order], y[order]
    last_row = _last_rows(codes, order)
    keep = np.r_[(codes[1:] != codes[:-1]) | (ds[1:] != ds[:-1]), True]
    duplicates = int(len(keep) - keep.sum())
    if duplicates:
        codes, ds, y, order = codes[keep], ds[keep], y[keep], order[keep]
    unique_id = pd.Categorical.from_codes(codes, categories=uid.cat.categories)
    return pd.DataFrame({"unique_id": unique_id, "ds": ds, "y": y}, copy=False), order, last_row, duplicates


def _last_rows(codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per code, the largest arrival position among its rows (``codes`` sorted, ``order`` aligned)."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    out[codes[starts]] = np.maximum.reduceat(order, starts)
    return out


def _frequencies(rows: pd.DataFrame, cfg: Config, known: dict[str, str], uids: list[str]) -> dict[str, str]:
    """unique_id -> frequency: configured, else stored, else inferred, else the batch's usual one.

    Inference (on the key-sorted rows) runs only when some series has neither of the first two.
    """
    set_freq = {u: cfg.ingest.frequencies.get(u) or known.get(u) for u in uids}
    if all(set_freq.values()):
        return set_freq
    inferred = infer_frequencies(rows)
    fallback = pd.Series(list(inferred.values())).mode()
    default = fallback.iloc[0] if len(fallback) else "h"
    return {u: set_freq[u] or inferred.get(u) or default for u in uids}


def _per_code(uid: pd.Series, value_of: dict[str, object]) -> np.ndarray:
    """Per category of the categorical ``uid``, ``value_of[name]`` (None where absent)."""
    return np.array([value_of.get(u) for u in uid.cat.categories], dtype=object)


def _per_row(uid: pd.Series, value_of: dict[str, str]) -> pd.Series:
    """``uid.map(value_of)`` as a categorical, through the codes (one lookup per series)."""
    codes, values = pd.factorize(_per_code(uid, value_of))
    row_codes = np.append(codes, -1)[uid.cat.codes.to_numpy()]
    return pd.Series(pd.Categorical.from_codes(row_codes, categories=values), index=uid.index)


def _combine_on_grid(rows: pd.DataFrame, arrival: np.ndarray, counter: np.ndarray) -> pd.DataFrame:
    """Several samples on one grid point: sum for counters, mean for gauges and rates.

    ``rows`` are sorted by key, ``arrival`` is each row's arrival position and ``counter`` says
    per series code whether it is a counter. Samples are combined in arrival order by pandas'
    groupby, so the values are bit-for-bit those of a groupby over the whole batch.
    """
    codes = rows["unique_id"].cat.codes.to_numpy()
    ds = rows["ds"].to_numpy()
    first = np.r_[True, (codes[1:] != codes[:-1]) | (ds[1:] != ds[:-1])]
    if first.all():
        return rows
    group = np.cumsum(first) - 1
    shared = np.bincount(group)[group] > 1
    y = rows["y"].to_numpy()[first]
    part = pd.DataFrame(
        {"group": group[shared], "y": rows["y"].to_numpy()[shared], "counter": counter[codes[shared]]},
        index=arrival[shared],
    ).sort_index()
    for is_counter, agg in ((True, "sum"), (False, "mean")):
        sel = part[part["counter"] == is_counter]
        if len(sel):
            combined = sel.groupby("group", sort=False)["y"].agg(agg)
            y[combined.index.to_numpy()] = combined.to_numpy()
    out = rows[first].reset_index(drop=True)
    out["y"] = y
    return out


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns for DuckDB registration (string or categorical dtype with NA -> None)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.StringDtype | pd.CategoricalDtype):
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


def _touched(con, obs: pd.DataFrame, step_of: dict[str, int], refreq: dict[str, bool]) -> pd.DataFrame:
    """Per series of the batch: its step, whether it holds observations already, and its gap window.

    ``obs`` is sorted by key. Gaps can only change between the last stored observation before
    the batch's first timestamp and the first one after its last (``lo``..``hi``); a series new
    to the warehouse or whose frequency changed (``refreq``) is redone whole (``full``).
    """
    codes = obs["unique_id"].cat.codes.to_numpy()
    ds = obs["ds"].to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)] - 1
    names = obs["unique_id"].cat.categories[codes[starts]].astype(object)
    touched = pd.DataFrame(
        {
            "unique_id": names,
            "step": np.array([step_of[u] for u in names], dtype=np.int64),
            "lo": ds[starts],
            "hi": ds[ends],
        }
    )
    con.register("_touched", touched)
    try:
        stored = con.execute(
            """SELECT t.unique_id, count(o.ds), max(o.ds) FILTER (WHERE o.ds < t.lo),
                      min(o.ds) FILTER (WHERE o.ds > t.hi)
               FROM _touched t LEFT JOIN observations o ON o.unique_id = t.unique_id
               GROUP BY t.unique_id"""
        ).df()
    finally:
        con.unregister("_touched")
    stored.columns = ["unique_id", "stored", "before", "after"]
    touched = touched.merge(stored, on="unique_id", how="left", validate="one_to_one")
    touched["full"] = (touched["stored"] == 0) | touched["unique_id"].map(refreq).astype(bool)
    touched["lo"] = touched["before"].fillna(touched["lo"]).where(~touched["full"])
    touched["hi"] = touched["after"].fillna(touched["hi"]).where(~touched["full"])
    return touched[["unique_id", "step", "lo", "hi", "stored", "full"]]


def _upsert_observations(con, obs: pd.DataFrame, touched: pd.DataFrame) -> tuple[int, int, int]:
    """Merge ``obs`` (unique keys) into ``observations`` by ``(unique_id, ds)``.

    ``observations`` has no index (see :mod:`capplan.warehouse.schema`): a batch of series without
    stored rows is a plain ``INSERT``; otherwise one ``MERGE`` updates changed values and inserts
    new keys, so the key stays unique. Returns (inserted, updated, unchanged).
    """
    con.register("_stage_observations", obs)
    try:
        if int(touched["stored"].sum()) == 0:
            con.execute("INSERT INTO observations SELECT unique_id, ds, y FROM _stage_observations")
            return len(obs), 0, 0
        ins, upd, same = con.execute(
            """SELECT count(*) FILTER (WHERE t.ds IS NULL),
                      count(*) FILTER (WHERE t.ds IS NOT NULL AND s.y IS DISTINCT FROM t.y),
                      count(*) FILTER (WHERE t.ds IS NOT NULL AND s.y IS NOT DISTINCT FROM t.y)
               FROM _stage_observations s
               LEFT JOIN observations t ON s.unique_id = t.unique_id AND s.ds = t.ds"""
        ).fetchall()[0]
        con.execute(
            """MERGE INTO observations t USING _stage_observations s
               ON (t.unique_id = s.unique_id AND t.ds = s.ds)
               WHEN MATCHED AND t.y IS DISTINCT FROM s.y THEN UPDATE SET y = s.y
               WHEN NOT MATCHED THEN INSERT (unique_id, ds, y) VALUES (s.unique_id, s.ds, s.y)"""
        ).fetchall()
    finally:
        con.unregister("_stage_observations")
    return int(ins), int(upd), int(same)


_GAPS_SQL = """
    INSERT INTO gaps
    SELECT unique_id, prev + to_seconds(step), ds - to_seconds(step),
           CAST(round_even(CAST(epoch_us(ds) - epoch_us(prev) AS DOUBLE)
                           / CAST(step * 1000000 AS DOUBLE), 0) AS BIGINT) - 1
    FROM (
        SELECT o.unique_id, o.ds, t.step, lag(o.ds) OVER (PARTITION BY o.unique_id ORDER BY o.ds) AS prev
        FROM observations o JOIN _touched t ON o.unique_id = t.unique_id
        WHERE t.stored > 0 AND (t."full" OR o.ds BETWEEN t.lo AND t.hi)
    )
    WHERE epoch_us(ds) - epoch_us(prev) > step * 1000000
"""


def _new_series_gaps(obs: pd.DataFrame, touched: pd.DataFrame, step_of: dict[str, int]) -> pd.DataFrame:
    """Gaps of the series new to the warehouse: their stored rows are exactly ``obs``'s."""
    new = set(touched.loc[touched["stored"] == 0, "unique_id"])
    if len(new) < len(touched):
        obs = obs[obs["unique_id"].isin(new).to_numpy()]
    return find_gaps_sorted(obs, step_of)


def _refresh_gaps(con, touched: pd.DataFrame, new_gaps: pd.DataFrame) -> None:
    """Recompute ``gaps`` of the touched series: those new to the warehouse from ``new_gaps``,
    the others in SQL, each within its window (see ``_touched``).

    Both give the gaps :func:`capplan.warehouse.grid.find_gaps` finds in the stored observations.
    """
    con.register("_touched", touched)
    try:
        con.execute(
            """DELETE FROM gaps AS g USING _touched AS t WHERE g.unique_id = t.unique_id
               AND (t."full" OR (g.gap_start > t.lo AND g.gap_end < t.hi))"""
        )
        if int((touched["stored"] > 0).sum()):
            con.execute(_GAPS_SQL)
    finally:
        con.unregister("_touched")
    if len(new_gaps):
        con.register("_gaps", new_gaps)
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


__all__ = ["BatchReport", "ingest_file", "ingest_source", "source_files", "file_hash"]
