"""Hardening of ingest (issue 8): hostile names, wrong-shaped JSON, CSV shapes pandas misreads,
numbers that wrap, input limits, and the "already loaded" key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capplan.core.config import config_from_dict
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_file, ingest_source


def _cfg(tmp_path, sources, **ingest):
    data = {"warehouse": {"path": str(tmp_path / "w.duckdb")}, "sources": sources}
    if ingest:
        data["ingest"] = ingest
    return config_from_dict(data, base_dir=tmp_path)


def _src(path="*.csv", fmt="csv", kind="metrics", **kw):
    return {"name": "s", "kind": kind, "path": path, "format": fmt, **kw}


def _load(tmp_path, name: str, text: str | bytes, **src):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    cfg = _cfg(tmp_path, [_src(path=name, **src)])
    with connect(cfg.warehouse_path) as con:
        [r] = ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
        q = con.execute('SELECT line, "check", reason FROM quarantine ORDER BY line').fetchall()
        obs = con.execute("SELECT unique_id, ds, y FROM observations ORDER BY unique_id, ds").fetchall()
    return r, q, obs


def _prom(results) -> str:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": results}})


# --- 1. names with control characters ----------------------------------------------------------


@pytest.mark.parametrize("bad", ["web\x00", "we\x1b[31mb", "web\nx", "a\x9bb"])
def test_names_with_control_characters_are_quarantined(tmp_path, bad):
    doc = _prom(
        [
            {"metric": {"service": bad, "__name__": "cpu"}, "values": [[1735689600, "1"]]},
            {"metric": {"service": "web", "__name__": "cpu"}, "values": [[1735689600, "2"]]},
        ]
    )
    r, q, obs = _load(tmp_path, "p.json", doc, fmt="prometheus")
    assert r.status == "loaded" and r.rows_loaded == 1 and r.rows_quarantined == 1
    assert q[0][1] == "service_valid" and "control characters" in q[0][2]
    assert "\x1b" not in q[0][2] and "\x00" not in q[0][2]  # the reason quotes it escaped
    assert [o[0] for o in obs] == ["web:cpu"]


def test_console_tables_escape_control_characters():
    from capplan.reporting import file_line, safe_text, table

    out = table([{"a": "x\x1b[2Jy", "b": "\x00"}], [("a", "a"), ("b", "b")])
    assert "\x1b" not in out and "\x00" not in out and "\\x1b[2J" in out
    assert safe_text("line\nnext\x07") == "line\nnext\\x07"
    from capplan.warehouse.load import BatchReport

    line = file_line(BatchReport("s", "/x/f\x1b.csv", "rejected", message="bad \x1b]0;title\x07"))
    assert "\x1b" not in line and "\x07" not in line


# --- 4. wrong-shaped JSON is one rejected file, the rest load ----------------------------------

_GOOD_PROM = _prom([{"metric": {"service": "web", "__name__": "cpu"}, "values": [[1735689600, "1"]]}])


@pytest.mark.parametrize(
    "doc",
    [
        {"data": []},
        {"data": "x"},
        {"data": {"result": "x"}},
        {"data": {"result": [{"metric": ["service", "web"], "values": [[1, "1"]]}]}},
        {"data": {"result": [{"metric": {"service": {"nested": 1}}, "values": [[1, "1"]]}]}},
        {"data": {"result": [{"metric": {"service": ["web"]}, "values": [[1, "1"]]}]}},
        {"data": {"result": [1]}},
        [1, 2],
        "deep",
    ],
)
def test_wrong_shaped_prometheus_is_rejected_and_later_files_load(tmp_path, doc):
    text = "[" * 100_000 + "]" * 100_000 if doc == "deep" else json.dumps(doc)
    (tmp_path / "a_bad.json").write_text(text)
    (tmp_path / "b_good.json").write_text(_GOOD_PROM)
    cfg = _cfg(tmp_path, [_src(path="*.json", fmt="prometheus")])
    with connect(cfg.warehouse_path) as con:
        bad, good = ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
        batches = con.execute("SELECT status FROM load_batches ORDER BY path").fetchall()
    assert bad.status == "rejected" and "a_bad.json" in bad.message
    assert good.status == "loaded" and good.rows_loaded == 1
    assert batches == [("rejected",), ("loaded",)]


@pytest.mark.parametrize(
    "doc",
    [
        {"MetricDataResults": [1]},
        {"MetricDataResults": "x"},
        {"MetricDataResults": [{"Label": ["web", "cpu"], "Timestamps": [], "Values": []}]},
        {"MetricDataResults": [{"Label": "web:cpu", "Timestamps": [1], "Values": [1, 2]}]},
    ],
)
def test_wrong_shaped_cloudwatch_is_rejected_naming_the_file(tmp_path, doc):
    r, q, obs = _load(tmp_path, "cw.json", json.dumps(doc), fmt="cloudwatch")
    assert r.status == "rejected" and "cw.json" in r.message and not obs


def test_nested_json_values_are_quarantined_rows_not_crashes(tmp_path):
    doc = _prom(
        [
            {
                "metric": {"service": "web", "__name__": "cpu"},
                "values": [[1735689600, {"v": 1}], [1, 2, 3], [1735693200, "2"]],
            }
        ]
    )
    r, q, obs = _load(tmp_path, "p.json", doc, fmt="prometheus")
    assert (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) == ("loaded", 3, 1, 2)


# --- 5. CSV shapes pandas misreads ---------------------------------------------------------------

HEAD = "ts,service,metric,value\n"


def test_extra_field_on_first_row_is_one_ragged_row_not_an_index(tmp_path):
    body = HEAD + "2025-01-01T00:00:00Z,web,cpu,1,EXTRA\n2025-01-01T01:00:00Z,web,cpu,2\n"
    r, q, obs = _load(tmp_path, "m.csv", body)
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (2, 1, 1)
    assert q[0][:2] == ("2", "row_well_formed")
    assert obs[0][0] == "web:cpu" and obs[0][2] == 2.0


def test_trailing_comma_on_every_row_loads_every_row(tmp_path):
    body = HEAD + "2025-01-01T00:00:00Z,web,cpu,1,\n2025-01-01T01:00:00Z,web,cpu,2,\n"
    r, q, obs = _load(tmp_path, "m.csv", body)
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (2, 2, 0)
    assert [o[2] for o in obs] == [1.0, 2.0]


def test_bom_header_with_a_ragged_row_still_loads(tmp_path):
    body = "\ufeff" + HEAD + "2025-01-01T00:00:00Z,web,cpu,1\n2025-01-01T01:00:00Z,web,cpu,2,x\n"
    r, q, obs = _load(tmp_path, "m.csv", body.encode("utf-8"))
    assert r.status == "loaded" and (r.rows_loaded, r.rows_quarantined) == (1, 1)


def test_unix_seconds_in_csv_are_timestamps(tmp_path):
    r, q, obs = _load(tmp_path, "m.csv", HEAD + "1735689600,web,cpu,1\n1735693200,web,cpu,2\n")
    assert (r.rows_loaded, r.rows_quarantined) == (2, 0)
    assert str(obs[0][1]) == "2025-01-01 00:00:00"


@pytest.mark.parametrize("header", ["ts,service,metric,value,value", "ts,ts,service,metric,value"])
def test_duplicate_column_rejects_the_file_naming_it(tmp_path, header):
    r, q, obs = _load(tmp_path, "m.csv", header + "\n2025-01-01T00:00:00Z,web,cpu,1,2\n")
    col = header.split(",")[-1] if header.endswith("value,value") else "ts"
    assert r.status == "rejected" and f"'{col}'" in r.message and "more than once" in r.message


def test_duplicate_wide_column_is_rejected_not_a_phantom_series(tmp_path):
    body = "ts,web:cpu,web:cpu\n2025-01-01T00:00:00Z,1,2\n"
    r, q, obs = _load(tmp_path, "w.csv", body, fmt="csv_wide")
    assert r.status == "rejected" and "web:cpu" in r.message and not obs


def test_blank_lines_are_not_rows_and_lines_are_physical(tmp_path):
    body = HEAD + "\n2025-01-01T00:00:00Z,web,cpu,1\n\n\n2025-01-01T01:00:00Z,web,cpu,-1\n\n"
    r, q, obs = _load(tmp_path, "m.csv", body)
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (2, 1, 1)
    assert q == [("6", "value_non_negative", q[0][2])]


def test_quoted_newline_keeps_physical_line_numbers(tmp_path):
    body = HEAD + '2025-01-01T00:00:00Z,"we\nb",cpu,1\n2025-01-01T01:00:00Z,web,cpu,abc\n'
    r, q, obs = _load(tmp_path, "m.csv", body)
    assert [(line, check) for line, check, _ in q] == [("2", "service_valid"), ("4", "value_numeric")]


def test_dst_gap_and_overlap_are_named(tmp_path):
    body = HEAD + "2025-03-30 02:30,web,cpu,1\n2025-10-26 02:30,web,cpu,1\n2025-10-26 05:00,web,cpu,1\n"
    r, q, obs = _load(tmp_path, "m.csv", body, timezone="Europe/Paris")
    assert r.rows_quarantined == 2
    reasons = {line: reason for line, _, reason in q}
    assert "does not exist" in reasons["2"] and "DST" in reasons["2"]
    assert "twice" in reasons["3"] and "DST" in reasons["3"]


def test_rows_merged_on_a_grid_point_are_counted(tmp_path):
    body = HEAD + "".join(f"2025-01-01T0{h}:{m}:00Z,web,cpu,1\n" for h in range(4) for m in ("00", "20"))
    (tmp_path / "m.csv").write_text(body)
    cfg = _cfg(tmp_path, [_src(path="m.csv")], frequencies={"web:cpu": "h"})
    with connect(cfg.warehouse_path) as con:
        r = ingest_file(con, tmp_path / "m.csv", cfg.sources[0], cfg, engine="vectorized")
        n = con.execute("SELECT count(*) FROM observations").fetchall()[0][0]
    assert n == 4 and r.rows_loaded == 8 and r.rows_regridded == 4 and r.rows_duplicate == 4
    assert r.rows_inserted + r.rows_updated + r.rows_unchanged + r.rows_duplicate == r.rows_loaded


# --- 6. numbers that wrap ------------------------------------------------------------------------


def test_huge_numbers_are_quarantined_not_wrapped(tmp_path):
    body = HEAD + "2025-01-01T00:00:00Z,web,cpu,1.7e308\n2025-01-01T00:00:00Z,web,cpu,1.7e308\n"
    r, q, obs = _load(tmp_path, "m.csv", body)
    assert r.rows_quarantined == 2 and not obs
    inv = (
        "service,resource,capacity_per_instance,unit,instances,target_utilization,max_instances,"
        "cost_per_instance_hour\nweb,cpu,4,cores,1e20,0.6,10,0.2\nweb,memory,4,GiB,2,0.6,10,0.2\n"
    )
    (tmp_path / "inv.csv").write_text(inv)
    ev = "name,kind,start,end,services,expected_uplift\nbf,sale,2025-11-28,2025-11-29,*,1e300\n"
    (tmp_path / "ev.csv").write_text(ev)
    cfg = _cfg(
        tmp_path,
        [
            {"name": "inv", "kind": "inventory", "path": "inv.csv"},
            {"name": "ev", "kind": "events", "path": "ev.csv"},
        ],
    )
    with connect(cfg.warehouse_path) as con:
        a = ingest_file(con, tmp_path / "inv.csv", cfg.sources[0], cfg, engine="vectorized")
        b = ingest_file(con, tmp_path / "ev.csv", cfg.sources[1], cfg, engine="vectorized")
        stored = con.execute("SELECT instances FROM inventory").fetchall()
    assert (a.rows_loaded, a.rows_quarantined) == (1, 1) and stored == [(2,)]
    assert (b.rows_loaded, b.rows_quarantined) == (0, 1)


# --- 3. input limits -----------------------------------------------------------------------------


def test_inputs_must_be_regular_files_under_the_size_limit(tmp_path):
    (tmp_path / "big.csv").write_text(HEAD + "2025-01-01T00:00:00Z,web,cpu,1\n" * 40_000)
    cfg = _cfg(tmp_path, [_src(path="big.csv")], max_file_mb=1)
    with connect(cfg.warehouse_path) as con:
        big = ingest_file(con, tmp_path / "big.csv", cfg.sources[0], cfg)
        dev = ingest_file(con, Path("/dev/zero"), cfg.sources[0], cfg)
        (tmp_path / "dir.csv").mkdir()
        folder = ingest_file(con, tmp_path / "dir.csv", cfg.sources[0], cfg)
    assert big.status == "rejected" and "max_file_mb" in big.message
    assert dev.status == "rejected" and "not a regular file" in dev.message
    assert folder.status == "rejected" and "not a regular file" in folder.message


# --- 7. the "already loaded" key -----------------------------------------------------------------


def test_fixed_options_reverted_files_and_rejected_files_load_again(tmp_path):
    a = HEAD + "2025-01-01 00:00,web,cpu,1\n"
    b = HEAD + "2025-01-01 00:00,web,cpu,5\n"
    p = tmp_path / "m.csv"
    utc = _cfg(tmp_path, [_src(path="m.csv")])
    paris = _cfg(tmp_path, [_src(path="m.csv", timezone="Europe/Paris")])
    with connect(utc.warehouse_path) as con:

        def load(text, cfg):
            p.write_text(text)
            return ingest_file(con, p, cfg.sources[0], cfg, engine="vectorized")

        def y():
            return con.execute("SELECT y FROM observations").fetchall()

        assert load(a, utc).status == "loaded"
        assert load(a, utc).status == "unchanged"
        assert load(a, paris).status == "loaded"  # same bytes, fixed timezone: parsed again
        assert load(b, utc).status == "loaded"
        assert load(a, utc).status == "loaded" and (1.0,) in y()  # reverted content applies again
        p.write_text("")
        first = ingest_file(con, p, utc.sources[0], utc)
        again = ingest_file(con, p, utc.sources[0], utc)
        assert first.status == again.status == "rejected" and again.message == first.message
        n = con.execute("SELECT count(*) FROM load_batches WHERE status = 'rejected'").fetchall()[0][0]
        assert n == 1  # reported again, recorded once


# --- 11. sparse series ---------------------------------------------------------------------------


def test_sparse_hourly_series_read_as_daily_is_reported(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    hours = pd.date_range("2025-01-01", periods=24 * 120, freq="h")
    kept = hours[rng.random(len(hours)) < 0.1]
    body = HEAD + "".join(f"{t.isoformat()}Z,web,cpu,1\n" for t in kept)
    r, q, obs = _load(tmp_path, "m.csv", body)
    assert r.status == "loaded" and r.notes and "web:cpu" in r.message and "'h'" in r.message
    cfg = _cfg(tmp_path, [_src(path="m.csv")])
    from capplan.warehouse import store

    with connect(cfg.warehouse_path, read_only=True) as con:
        st = store.status(con)
    assert "sparse" in st["batches"]["message"].iloc[0]
