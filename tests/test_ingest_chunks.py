"""Chunked ingest: reading and checking a file in chunks of ``[ingest] chunk_rows`` rows loads and
quarantines exactly the rows of checking it as one batch (accounting, reasons, lines, values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from capplan.core.config import config_from_dict
from capplan.warehouse import grid
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_file


def _rows() -> pd.DataFrame:
    """Hourly rows of three series, interleaved, with bad rows, duplicates and off-grid samples
    spread over the file, so every chunk of 7 rows holds some of them."""
    ts = pd.date_range("2025-01-01", periods=30, freq="h")
    series = [("web", "cpu", "cores"), ("api", "cpu", "cores"), ("db", "memory", "GiB")]
    rows = [
        {"ts": t.isoformat(), "service": s, "metric": m, "value": str(1.0 + i + 0.1 * k), "unit": u}
        for i, t in enumerate(ts)
        for k, (s, m, u) in enumerate(series)
    ]
    odd = [
        (3, {"ts": "notatime", "service": "web", "metric": "cpu", "value": "1", "unit": "cores"}),
        (
            11,
            {"ts": "2025-01-01T04:00:00", "service": "web", "metric": "cpu", "value": "-3", "unit": "cores"},
        ),
        (19, {"ts": "2025-01-01T05:00:00", "service": "", "metric": "cpu", "value": "2", "unit": "cores"}),
        (
            26,
            {"ts": "2025-01-01T06:00:00", "service": "api", "metric": "cpu", "value": "abc", "unit": "cores"},
        ),
        # a new series: its first unit (in the first chunk) is the one every later chunk must use
        (2, {"ts": "2025-01-01T00:00:00", "service": "new", "metric": "cpu", "value": "5", "unit": "cores"}),
        (
            40,
            {
                "ts": "2025-01-01T01:00:00",
                "service": "new",
                "metric": "cpu",
                "value": "6",
                "unit": "millicores",
            },
        ),
        (75, {"ts": "2025-01-01T02:00:00", "service": "new", "metric": "cpu", "value": "7", "unit": "cores"}),
        # a key sent again much later (the last arrival wins) and two off-grid samples of one hour
        (
            60,
            {"ts": "2025-01-01T01:00:00", "service": "web", "metric": "cpu", "value": "99", "unit": "cores"},
        ),
        (33, {"ts": "2025-01-01T03:27:00", "service": "db", "metric": "memory", "value": "8", "unit": "GiB"}),
        (88, {"ts": "2025-01-01T03:10:00", "service": "db", "metric": "memory", "value": "4", "unit": "GiB"}),
    ]
    for at, row in sorted(odd, key=lambda p: p[0], reverse=True):
        rows.insert(at, row)
    frame = pd.DataFrame(rows)
    frame = frame[
        ~((frame["service"] == "db") & (frame["ts"] == ts[3].isoformat()))
    ]  # only off-grid at 03:00
    return frame.reset_index(drop=True)


def _write(tmp_path, fmt: str) -> str:
    frame = _rows()
    if fmt == "csv":
        frame.to_csv(tmp_path / "m.csv", index=False)
        return "m.csv"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, tmp_path / "m.parquet", row_group_size=16)
    return "m.parquet"


def _ingest(tmp_path, name: str, fmt: str, chunk_rows: int, engine: str) -> tuple[object, dict]:
    cfg = config_from_dict(
        {
            "warehouse": {"path": str(tmp_path / f"{chunk_rows}.duckdb")},
            "ingest": {"chunk_rows": chunk_rows},
            "sources": [{"name": "usage", "kind": "metrics", "path": name, "format": fmt}],
        },
        base_dir=tmp_path,
    )
    con = connect(cfg.warehouse_path)
    try:
        report = ingest_file(con, tmp_path / name, cfg.sources[0], cfg, engine=engine)
        tables = {
            "observations": "SELECT unique_id, ds, y FROM observations ORDER BY ALL",
            "quarantine": 'SELECT line, raw, "check", reason FROM quarantine ORDER BY CAST(line AS INTEGER)',
            "series": "SELECT * FROM series ORDER BY unique_id",
            "gaps": "SELECT * FROM gaps ORDER BY ALL",
        }
        return report, {k: con.execute(sql).df() for k, sql in tables.items()}
    finally:
        con.close()


@pytest.mark.parametrize(
    ("fmt", "engine", "chunk_rows"),
    [("parquet", "vectorized", 7), ("csv", "vectorized", 7), ("parquet", "gx", 40)],
)
def test_chunked_ingest_loads_and_quarantines_the_rows_of_one_batch(
    tmp_path, monkeypatch, fmt, engine, chunk_rows
):
    name = _write(tmp_path, fmt)
    whole, whole_tables = _ingest(tmp_path, name, fmt, 1_000_000, engine)
    monkeypatch.setattr(grid, "_BLOCK_ROWS", 5)  # per-series kernels over blocks of a few rows, too
    chunked, chunked_tables = _ingest(tmp_path, name, fmt, chunk_rows, engine)
    n = len(_rows())
    assert whole.status == chunked.status == "loaded"
    assert (whole.rows_in, whole.rows_loaded, whole.rows_quarantined) == (n, n - 5, 5)
    assert chunked.rows_in == chunked.rows_loaded + chunked.rows_quarantined
    for field in (
        "rows_in",
        "rows_loaded",
        "rows_quarantined",
        "rows_inserted",
        "rows_duplicate",
        "rows_regridded",
    ):
        assert getattr(chunked, field) == getattr(whole, field), field
    assert (
        chunked.quarantine_reasons
        == whole.quarantine_reasons
        == {
            "ts_parseable": 1,
            "value_non_negative": 1,
            "service_present": 1,
            "value_numeric": 1,
            "unit_consistent": 1,
        }
    )
    assert whole.engine == chunked.engine == engine
    for table, frame in whole_tables.items():
        pd.testing.assert_frame_equal(chunked_tables[table], frame, obj=table)
    q = whole_tables["quarantine"]
    assert "millicores" in q.loc[q["check"] == "unit_consistent", "reason"].iloc[0]
    obs = whole_tables["observations"].set_index(["unique_id", "ds"])["y"]
    assert obs[("web:cpu", pd.Timestamp("2025-01-01T01:00"))] == 99.0  # the later arrival, in another chunk
    assert obs[("db:memory", pd.Timestamp("2025-01-01T03:00"))] == 6.0  # mean of 8 and 4 (gauge)
    assert obs[("new:cpu", pd.Timestamp("2025-01-01T02:00"))] == 7.0


def test_series_blocks_never_split_a_series_and_kernels_agree_with_one_block(monkeypatch):
    rng = np.random.default_rng(3)
    codes = np.repeat(np.arange(6), [1, 9, 2, 14, 3, 7]).astype(np.int16)
    assert grid.series_blocks(codes, rows=4) == [(0, 10), (10, 26), (26, 36)]
    assert grid.series_blocks(codes[:0], rows=4) == []
    steps = np.array([300, 3600, 86400], dtype="timedelta64[s]")[rng.integers(0, 3, len(codes))]
    ds = np.datetime64("2025-01-01") + np.cumsum(steps).astype("timedelta64[ns]")
    frame = pd.DataFrame(
        {"unique_id": pd.Categorical.from_codes(codes, [f"s{i}" for i in range(6)]), "ds": ds}
    )
    whole = (
        grid.infer_frequencies(frame),
        grid.finest_frequencies(frame),
        grid.find_gaps_sorted(frame, {f"s{i}": 300 for i in range(6)}),
    )
    assert grid.is_key_sorted(codes, ds)
    monkeypatch.setattr(grid, "_BLOCK_ROWS", 4)
    assert grid.is_key_sorted(codes, ds)
    for i in (3, 4):  # two rows of series 1 swapped, inside a block and across a block boundary
        swapped = ds.copy()
        swapped[[i, i + 1]] = swapped[[i + 1, i]]
        assert not grid.is_key_sorted(codes, swapped)
    blocked = (
        grid.infer_frequencies(frame),
        grid.finest_frequencies(frame),
        grid.find_gaps_sorted(frame, {f"s{i}": 300 for i in range(6)}),
    )
    assert blocked[0] == whole[0] and blocked[1] == whole[1]
    assert len(whole[2]) > 3
    pd.testing.assert_frame_equal(blocked[2], whole[2])
