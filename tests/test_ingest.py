"""Ingestion: readers, validation, quarantine, idempotency, locking, accounting."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.core.config import config_from_dict
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_file, ingest_source

GOOD = """ts,service,metric,value,unit,region
2025-01-01T00:00:00Z,web,cpu,1.5,cores,
2025-01-01T01:00:00Z,web,cpu,1.7,cores,
2025-01-01T02:27:00Z,web,cpu,1.9,cores,
2025-01-01T06:00:00Z,web,cpu,2.5,cores,
2025-01-01T06:00:00Z,web,cpu,2.6,cores,
"""
BAD_ROWS = """2025-01-01T04:00:00Z,web,cpu,-3,cores,
2025-01-01T05:00:00Z,web,cpu,2.2,MiB,
notatime,web,cpu,2,cores,
2025-01-01T07:00:00Z,,cpu,2,cores,
2025-01-01T08:00:00Z,web,cpu,abc,cores,
2025-01-01T09:00:00Z,web,cpu,1,cores,,,
"""


def _cfg(tmp_path, sources):
    return config_from_dict(
        {"warehouse": {"path": str(tmp_path / "w.duckdb")}, "sources": sources}, base_dir=tmp_path
    )


def _metrics_source(path="*.csv", fmt="csv", **kw):
    return {"name": "usage", "kind": "metrics", "path": path, "format": fmt, **kw}


@pytest.fixture
def con_cfg(tmp_path):
    (tmp_path / "m.csv").write_text(GOOD + BAD_ROWS)
    cfg = _cfg(tmp_path, [_metrics_source()])
    con = connect(cfg.warehouse_path)
    yield con, cfg, tmp_path
    con.close()


@pytest.mark.parametrize("engine", ["gx", "vectorized"])
def test_bad_rows_are_quarantined_with_reasons_and_nothing_is_lost(con_cfg, engine):
    con, cfg, tmp = con_cfg
    [r] = ingest_source(con, cfg.sources[0], cfg, engine=engine)
    assert r.status == "loaded"
    assert r.rows_in == 11 and r.rows_quarantined == 6 and r.rows_loaded == 5
    assert r.rows_in == r.rows_loaded + r.rows_quarantined
    assert r.rows_duplicate == 1  # 06:00 delivered twice: last arrival wins
    assert r.rows_regridded == 1  # 02:27 -> 02:00
    q = con.execute('SELECT line, "check", reason FROM quarantine ORDER BY CAST(line AS INT)').df()
    assert q["check"].tolist() == [
        "value_non_negative",
        "unit_consistent",
        "ts_parseable",
        "service_present",
        "value_numeric",
        "row_well_formed",
    ]
    assert q["line"].tolist() == ["7", "8", "9", "10", "11", "12"]
    assert "found '-3'" in q["reason"][0]
    assert "'cores'" in q["reason"][1] and "'MiB'" in q["reason"][1]
    assert "'notatime'" in q["reason"][2]
    obs = con.execute("SELECT ds, y FROM observations WHERE unique_id = 'web:cpu' ORDER BY ds").df()
    assert obs["y"].tolist() == [1.5, 1.7, 1.9, 2.6]
    assert obs["ds"].iloc[2] == pd.Timestamp("2025-01-01 02:00")
    batch = con.execute("SELECT rows_in, rows_loaded, rows_quarantined FROM load_batches").fetchall()
    assert batch == [(11, 5, 6)]


def test_gaps_are_recorded_not_filled(con_cfg):
    con, cfg, _ = con_cfg
    ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
    gaps = con.execute("SELECT gap_start, gap_end, missing_steps FROM gaps").fetchall()
    assert gaps == [(pd.Timestamp("2025-01-01 03:00"), pd.Timestamp("2025-01-01 05:00"), 3)]
    assert con.execute("SELECT count(*) FROM observations").fetchall()[0][0] == 4


def test_loading_the_same_file_twice_changes_nothing(con_cfg):
    con, cfg, _ = con_cfg
    ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
    before = {
        t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").df()
        for t in ("observations", "quarantine", "load_batches", "series")
    }
    [r] = ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
    assert r.status == "unchanged"
    for t, df in before.items():
        pd.testing.assert_frame_equal(con.execute(f"SELECT * FROM {t} ORDER BY ALL").df(), df)


def test_redelivered_overlap_updates_in_place_and_is_counted(con_cfg):
    con, cfg, tmp = con_cfg
    ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
    (tmp / "m2.csv").write_text(
        "ts,service,metric,value,unit\n2025-01-01T00:00:00Z,web,cpu,9.0,cores\n"
        "2025-01-01T01:00:00Z,web,cpu,1.7,cores\n2025-01-01T07:00:00Z,web,cpu,3.0,cores\n"
    )
    r = ingest_file(con, tmp / "m2.csv", cfg.sources[0], cfg, engine="vectorized")
    assert (r.rows_inserted, r.rows_updated, r.rows_unchanged) == (1, 1, 1)
    assert con.execute("SELECT y FROM observations WHERE ds = '2025-01-01 00:00'").fetchall() == [(9.0,)]


def test_rejected_file_names_file_and_column_and_others_still_load(tmp_path):
    (tmp_path / "a.csv").write_text("ts,service,value\n2025-01-01T00:00:00Z,web,1\n")
    (tmp_path / "b.csv").write_text("ts,service,metric,value\n2025-01-01T00:00:00Z,web,cpu,1\n")
    (tmp_path / "c.csv").write_text("")
    cfg = _cfg(tmp_path, [_metrics_source()])
    with connect(cfg.warehouse_path) as con:
        reports = {r.path.split("/")[-1]: r for r in ingest_source(con, cfg.sources[0], cfg)}
        assert reports["a.csv"].status == "rejected"
        assert "a.csv" in reports["a.csv"].message and "metric" in reports["a.csv"].message
        assert reports["c.csv"].status == "rejected" and "empty" in reports["c.csv"].message
        assert reports["b.csv"].status == "loaded"
        assert con.execute("SELECT count(*) FROM observations").fetchall()[0][0] == 1


def test_failure_mid_load_leaves_no_partial_batch(con_cfg, monkeypatch):
    con, cfg, _ = con_cfg
    import capplan.warehouse.load as load

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(load, "write_batch", boom)
    with pytest.raises(RuntimeError):
        ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
    for t in ("observations", "series", "quarantine", "load_batches", "gaps"):
        assert con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] == 0, t


def test_prometheus_cloudwatch_wide_and_parquet_readers(tmp_path):
    prom = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "cpu", "job": "search", "region": "eu"},
                    "values": [[1735689600, "0.5"], [1735693200, "0.7"]],
                }
            ],
        },
    }
    (tmp_path / "p.json").write_text(json.dumps(prom))
    cw = {
        "MetricDataResults": [
            {
                "Id": "m1",
                "Label": "payments:rps",
                "Timestamps": ["2025-01-01T01:00:00+00:00", "2025-01-01T00:00:00+00:00"],
                "Values": [20.0, 10.0],
                "StatusCode": "Complete",
            }
        ]
    }
    (tmp_path / "c.json").write_text(json.dumps(cw))
    (tmp_path / "w.csv").write_text(
        "ts,web:memory,api:memory\n2025-01-01T00:00:00Z,4,\n2025-01-01T01:00:00Z,5,7\n"
    )
    pd.DataFrame(
        {
            "ts": pd.to_datetime(["2025-01-01 00:00", "2025-01-01 01:00"]),
            "service": "db",
            "metric": "storage",
            "value": [1.0, 2.0],
        }
    ).to_parquet(tmp_path / "x.parquet")
    cfg = _cfg(
        tmp_path,
        [
            _metrics_source("p.json", "prometheus", name="prom", service_label="job"),
            _metrics_source("c.json", "cloudwatch", name="cw"),
            _metrics_source("w.csv", "csv_wide", name="wide", unit="GiB"),
            _metrics_source("x.parquet", "parquet", name="pq"),
        ],
    )
    with connect(cfg.warehouse_path) as con:
        for s in cfg.sources:
            [r] = ingest_source(con, s, cfg, engine="vectorized")
            assert r.status == "loaded" and r.rows_quarantined == 0, r
        got = con.execute(
            "SELECT unique_id, count(*), sum(y) FROM observations GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert got == [
            ("api:memory", 1, 7.0),
            ("db:storage", 2, 3.0),
            ("payments:rps", 2, 30.0),
            ("search:cpu:eu", 2, 1.2),
            ("web:memory", 2, 9.0),
        ]
        units = dict(con.execute("SELECT unique_id, unit FROM series").fetchall())
        assert units["web:memory"] == "GiB" and units["payments:rps"] == "req/s"


def test_wrong_json_shape_is_rejected_with_expectation(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"foo": 1}))
    cfg = _cfg(tmp_path, [_metrics_source("p.json", "prometheus")])
    with connect(cfg.warehouse_path) as con:
        [r] = ingest_source(con, cfg.sources[0], cfg)
    assert r.status == "rejected" and "p.json" in r.message and "query_range" in r.message


def test_names_from_data_never_reach_sql(tmp_path):
    evil = "x'); DROP TABLE observations; --"
    (tmp_path / "m.csv").write_text(f'ts,service,metric,value\n2025-01-01T00:00:00Z,"{evil}",cpu,1\n')
    cfg = _cfg(tmp_path, [_metrics_source()])
    with connect(cfg.warehouse_path) as con:
        [r] = ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
        assert r.rows_loaded == 1
        assert con.execute("SELECT service FROM series").fetchall() == [(evil,)]


def test_naive_timestamps_are_read_in_the_configured_zone(tmp_path):
    (tmp_path / "m.csv").write_text(
        "ts,service,metric,value\n2025-07-01 12:00,web,cpu,1\n2025-07-01T12:00:00Z,web,cpu,2\n"
    )
    cfg = _cfg(tmp_path, [_metrics_source(timezone="Europe/Berlin")])
    with connect(cfg.warehouse_path) as con:
        ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
        got = con.execute("SELECT ds, y FROM observations ORDER BY ds").fetchall()
    assert got == [(pd.Timestamp("2025-07-01 10:00"), 1.0), (pd.Timestamp("2025-07-01 12:00"), 2.0)]


def test_other_kinds_load_with_keys(tmp_path):
    (tmp_path / "k.csv").write_text("ts,kpi,value\n2025-01-01,active_users,100\n2025-01-02,active_users,-1\n")
    (tmp_path / "e.csv").write_text(
        "name,kind,start,end,services,expected_uplift\n"
        "BF,sale,2025-11-28,2025-11-29,web;api,\nX,party,2025-01-01,2025-01-02,*,2\nY,launch,2025-02-02,2025-02-01,*,1.5\n"
    )
    (tmp_path / "i.csv").write_text(
        "service,resource,capacity_per_instance,unit,instances,target_utilization,max_instances,cost_per_instance_hour\n"
        "web,cpu,4,cores,10,0.7,40,0.2\nweb,gpu,4,cores,10,0.7,40,0.2\n"
    )
    (tmp_path / "l.csv").write_text(
        "service,instances,throughput,latency_p99_ms\nweb,1,100,20\nweb,2,190,21\n"
    )
    cfg = _cfg(
        tmp_path,
        [
            {"name": "k", "kind": "kpis", "path": "k.csv"},
            {"name": "e", "kind": "events", "path": "e.csv"},
            {"name": "i", "kind": "inventory", "path": "i.csv"},
            {"name": "l", "kind": "loadtests", "path": "l.csv"},
        ],
    )
    with connect(cfg.warehouse_path) as con:
        got = {s.name: ingest_source(con, s, cfg, engine="vectorized")[0] for s in cfg.sources}
        assert (got["k"].rows_loaded, got["k"].rows_quarantined) == (1, 1)
        assert (got["e"].rows_loaded, got["e"].rows_quarantined) == (1, 2)
        assert (got["i"].rows_loaded, got["i"].rows_quarantined) == (1, 1)
        assert got["l"].rows_loaded == 2
        assert con.execute("SELECT services, expected_uplift FROM events").fetchall() == [
            (["web", "api"], None)
        ]
        checks = sorted(r[0] for r in con.execute('SELECT "check" FROM quarantine').fetchall())
        assert checks == ["end_after_start", "kind_allowed", "resource_allowed", "value_non_negative"]


def test_second_writer_gets_a_clear_locked_error(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({str(path)!r})
                print("ready", flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        from capplan.core.errors import WarehouseLockedError

        with pytest.raises(WarehouseLockedError, match=rf"locked by process {holder.pid}"):
            connect(path, lock_timeout_s=0.5)
    finally:
        holder.communicate("\n", timeout=10)


def test_weekly_series_get_a_fixed_seven_day_grid(tmp_path):
    ds = pd.date_range("2025-01-06", periods=6, freq="7D")
    lines = "".join(f"{d:%Y-%m-%dT%H:%M:%SZ},db,storage,{i}\n" for i, d in enumerate(ds))
    (tmp_path / "m.csv").write_text("ts,service,metric,value\n" + lines)
    cfg = _cfg(tmp_path, [_metrics_source()])
    with connect(cfg.warehouse_path) as con:
        [r] = ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
        assert r.rows_loaded == 6 and r.rows_regridded == 0
        assert con.execute("SELECT frequency FROM series").fetchall() == [("7D",)]


def test_duplicate_keys_finds_a_repeated_observation_key(con_cfg):
    from capplan.warehouse.schema import duplicate_keys

    con, cfg, _ = con_cfg
    ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
    assert duplicate_keys(con) == 0
    con.execute("INSERT INTO observations SELECT * FROM observations WHERE ds = '2025-01-01 01:00'")
    assert duplicate_keys(con) == 1
    comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'observations'").fetchall()
    assert "(unique_id, ds)" in comment[0][0]


_HOURS = st.integers(0, 30)
_BATCH = st.lists(
    st.tuples(st.sampled_from(["web", "api"]), _HOURS, st.integers(0, 50)), min_size=1, max_size=25
)


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(_BATCH, min_size=1, max_size=4))
def test_overlapping_batches_keep_one_row_per_key_with_the_last_value(tmp_path_factory, batches):
    """The loader enforces the observations key: any sequence of overlapping re-deliveries (with
    in-batch repeats) leaves exactly one row per (unique_id, ds), holding the last value sent."""
    from capplan.warehouse.schema import duplicate_keys

    tmp = tmp_path_factory.mktemp("keys")
    cfg = config_from_dict(
        {
            "warehouse": {"path": str(tmp / "w.duckdb")},
            "ingest": {"frequencies": {"web:cpu": "h", "api:cpu": "h"}},
            "sources": [_metrics_source()],
        },
        base_dir=tmp,
    )
    expected: dict[tuple[str, pd.Timestamp], float] = {}
    t0 = pd.Timestamp("2025-01-01")
    sent: set[str] = set()
    with connect(cfg.warehouse_path) as con:
        for i, batch in enumerate(batches):
            rows = [(f"{s}:cpu", t0 + pd.Timedelta(hours=h), float(v)) for s, h, v in batch]
            text = "ts,service,metric,value\n" + "".join(
                f"{ts.isoformat()}Z,{uid.split(':')[0]},cpu,{v}\n" for uid, ts, v in rows
            )
            (tmp / f"b{i}.csv").write_text(text)
            r = ingest_file(con, tmp / f"b{i}.csv", cfg.sources[0], cfg, engine="vectorized")
            # Each batch is a new path: even with content sent before it is a new delivery and
            # applies again (the last value sent wins); only a path's own last content is skipped.
            assert r.status == "loaded"
            if text in sent:
                assert r.rows_inserted == 0
            sent.add(text)
            expected.update({(uid, ts): v for uid, ts, v in rows})
            assert r.rows_in == r.rows_loaded == len(batch)
            assert r.rows_inserted + r.rows_updated + r.rows_unchanged + r.rows_duplicate == len(batch)
        assert duplicate_keys(con) == 0
        got = con.execute("SELECT unique_id, ds, y FROM observations").fetchall()
    assert {(u, pd.Timestamp(d)): y for u, d, y in got} == expected
    assert len(got) == len(expected)


@pytest.mark.parametrize("engine", ["gx", "vectorized"])
def test_inventory_lead_time_column_is_optional_checked_and_loaded(tmp_path, engine):
    (tmp_path / "i.csv").write_text(
        "service,resource,capacity_per_instance,unit,instances,target_utilization,max_instances,"
        "cost_per_instance_hour,lead_time_days\n"
        "search,cpu,8,cores,10,0.7,40,0.4,45\nweb,cpu,4,cores,10,0.7,40,0.2,\n"
        "api,cpu,4,cores,10,0.7,40,0.2,soon\ndb,cpu,4,cores,10,0.7,40,0.2,-3\n"
    )
    cfg = _cfg(tmp_path, [{"name": "i", "kind": "inventory", "path": "i.csv"}])
    with connect(cfg.warehouse_path) as con:
        got = ingest_source(con, cfg.sources[0], cfg, engine=engine)[0]
        assert (got.rows_loaded, got.rows_quarantined) == (2, 2)
        rows = con.execute("SELECT service, lead_time_days FROM inventory ORDER BY service").fetchall()
        assert rows == [("search", 45.0), ("web", None)]  # empty: [planning] lead_time_days applies
        checks = sorted(r[0] for r in con.execute('SELECT "check" FROM quarantine').fetchall())
        assert checks == ["lead_time_numeric", "lead_time_range"]
