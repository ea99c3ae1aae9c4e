"""The warehouse writes of a load, all inside the caller's transaction: upserts by key,
observations merged by ``(unique_id, ds)``, gaps refreshed within the touched window, quarantined
rows and the batch record. Values from data reach DuckDB only as registered frames or bound
parameters, never as SQL text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.core.config import SourceConfig

from .grid import find_gaps_sorted


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upsert(con, table: str, frame: pd.DataFrame, keys: tuple, values: tuple) -> tuple[int, int, int]:
    """Insert-or-update ``frame`` by ``keys``; returns (inserted, updated, unchanged)."""
    if frame.empty:
        return 0, 0, 0
    stage = f"_stage_{table}"
    con.register(stage, frame)
    try:
        on = " AND ".join(f"s.{q(k)} = t.{q(k)}" for k in keys)
        differs = " OR ".join(f"s.{q(v)} IS DISTINCT FROM t.{q(v)}" for v in values)
        first_key = q(keys[0])
        ins, upd, same = con.execute(
            f"""SELECT count(*) FILTER (WHERE t.{first_key} IS NULL),
                       count(*) FILTER (WHERE t.{first_key} IS NOT NULL AND ({differs})),
                       count(*) FILTER (WHERE t.{first_key} IS NOT NULL AND NOT ({differs}))
                FROM {stage} s LEFT JOIN {table} t ON {on}"""
        ).fetchall()[0]
        cols = ", ".join(q(c) for c in (*keys, *values))
        sets = ", ".join(f"{q(v)} = excluded.{q(v)}" for v in values)
        con.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {sets}"
        )
    finally:
        con.unregister(stage)
    return int(ins), int(upd), int(same)


def touched_windows(con, obs: pd.DataFrame, step_of: dict[str, int], refreq: dict[str, bool]) -> pd.DataFrame:
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


def upsert_observations(con, obs: pd.DataFrame, touched: pd.DataFrame) -> tuple[int, int, int]:
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


def new_series_gaps(obs: pd.DataFrame, touched: pd.DataFrame, step_of: dict[str, int]) -> pd.DataFrame:
    """Gaps of the series new to the warehouse: their stored rows are exactly ``obs``'s."""
    new = set(touched.loc[touched["stored"] == 0, "unique_id"])
    if len(new) < len(touched):
        obs = obs[obs["unique_id"].isin(new).to_numpy()]
    return find_gaps_sorted(obs, step_of)


def refresh_gaps(con, touched: pd.DataFrame, new_gaps: pd.DataFrame) -> None:
    """Recompute ``gaps`` of the touched series: those new to the warehouse from ``new_gaps``,
    the others in SQL, each within its window (see ``touched_windows``).

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


def write_quarantine(con, bad: pd.DataFrame, source: SourceConfig, path: Path, report) -> None:
    if bad.empty:
        return
    q = bad.assign(batch_id=report.batch_id, source=source.name, path=str(path))
    q = q[["batch_id", "source", "path", "line", "raw", "check", "reason"]].astype(object)
    con.register("_quarantine", q)
    try:
        con.execute("INSERT INTO quarantine SELECT * FROM _quarantine")
    finally:
        con.unregister("_quarantine")


def write_batch(con, report, source: SourceConfig, digest: str) -> None:
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
