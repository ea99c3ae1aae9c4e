"""The fast ingest paths give the same results as the plain definitions.

* gaps computed in SQL (windowed to what a batch can change) equal ``grid.find_gaps`` over all
  stored observations, after a first load and after re-deliveries;
* a categorical (Parquet dictionary) input frame is checked exactly like a string-typed one;
* frequency inference on codes equals the median-spacing definition, sorted or not;
* samples sharing a grid point are summed (counters) or averaged (gauges).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.core.config import config_from_dict
from capplan.warehouse.connection import connect
from capplan.warehouse.grid import find_gaps, find_gaps_sorted, frequency_seconds, infer_frequencies
from capplan.warehouse.load import ingest_file
from capplan.warehouse.readers import read_raw
from capplan.warehouse.validation import check_frame

T0 = pd.Timestamp("2025-01-01")
LABELS = ["service", "metric", "unit", "region"]


def _cfg(tmp_path, fmt="csv", frequencies=None):
    return config_from_dict(
        {
            "warehouse": {"path": str(tmp_path / "w.duckdb")},
            "sources": [{"name": "m", "kind": "metrics", "path": "*", "format": fmt}],
            "ingest": {"frequencies": frequencies or {}},
        },
        base_dir=tmp_path,
    )


def _csv(path, rows):
    pd.DataFrame(rows, columns=["ts", "service", "metric", "value", "unit"]).to_csv(path, index=False)
    return path


def _series_rows(service, metric, step, steps, value=1.0):
    return [((T0 + i * step).isoformat() + "Z", service, metric, value + abs(i), "") for i in steps]


def _gaps_table(con):
    return con.execute("SELECT unique_id, gap_start, gap_end, missing_steps FROM gaps ORDER BY 1, 2").df()


def _gaps_by_find_gaps(con):
    obs = con.execute("SELECT unique_id, ds FROM observations ORDER BY 1, 2").df()
    steps = {
        u: frequency_seconds(f) for u, f in con.execute("SELECT unique_id, frequency FROM series").fetchall()
    }
    out = find_gaps(obs, steps).sort_values(["unique_id", "gap_start"]).reset_index(drop=True)
    return out.astype({"missing_steps": "int64"})


def _assert_same_gaps(con):
    sql, ref = _gaps_table(con), _gaps_by_find_gaps(con)
    pd.testing.assert_frame_equal(sql, ref, check_dtype=False)
    return sql


FIVE, HOUR = pd.Timedelta("5min"), pd.Timedelta("1h")


def test_sql_gaps_equal_find_gaps_on_first_load_and_redeliveries(tmp_path):
    cfg = _cfg(tmp_path)
    web = [i for i in range(40) if not (10 <= i < 13 or i == 30)]  # gaps: 3 steps, 1 step
    api = [i for i in range(30) if not (5 <= i < 9)]  # hourly counter, gap of 4
    first = _csv(
        tmp_path / "a.csv", _series_rows("web", "cpu", FIVE, web) + _series_rows("api", "requests", HOUR, api)
    )
    with connect(cfg.warehouse_path) as con:
        r = ingest_file(con, first, cfg.sources[0], cfg, engine="vectorized")
        assert (r.rows_inserted, r.rows_updated, r.rows_unchanged) == (len(web) + len(api), 0, 0)
        got = _assert_same_gaps(con)
        assert got.values.tolist() == [
            ["api:requests", T0 + 5 * HOUR, T0 + 8 * HOUR, 4],
            ["web:cpu", T0 + 10 * FIVE, T0 + 12 * FIVE, 3],
            ["web:cpu", T0 + 30 * FIVE, T0 + 30 * FIVE, 1],
        ]
        # Re-delivery: fills part of web's first gap (leaving 10 and 12), changes a value, extends
        # past the end with a new gap (40..44), and adds api points before its start.
        again = _series_rows("web", "cpu", FIVE, [11, 20, 45, 46]) + _series_rows(
            "api", "requests", HOUR, [-3, 0]
        )
        again[1] = (again[1][0], "web", "cpu", 99.0, "")
        r = ingest_file(con, _csv(tmp_path / "b.csv", again), cfg.sources[0], cfg, engine="vectorized")
        assert (r.rows_inserted, r.rows_updated, r.rows_unchanged) == (4, 1, 1)
        got = _assert_same_gaps(con)
        assert got.values.tolist() == [
            ["api:requests", T0 - 2 * HOUR, T0 - 1 * HOUR, 2],
            ["api:requests", T0 + 5 * HOUR, T0 + 8 * HOUR, 4],
            ["web:cpu", T0 + 10 * FIVE, T0 + 10 * FIVE, 1],
            ["web:cpu", T0 + 12 * FIVE, T0 + 12 * FIVE, 1],
            ["web:cpu", T0 + 30 * FIVE, T0 + 30 * FIVE, 1],
            ["web:cpu", T0 + 40 * FIVE, T0 + 44 * FIVE, 5],
        ]
        # Closing the last gaps leaves none for web.
        fill = _series_rows("web", "cpu", FIVE, [10, 12, 30, *range(40, 45)])
        ingest_file(con, _csv(tmp_path / "c.csv", fill), cfg.sources[0], cfg, engine="vectorized")
        got = _assert_same_gaps(con)
        assert got["unique_id"].tolist() == ["api:requests", "api:requests"]


def _raw(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["ts", "service", "metric", "value", "unit", "region"], dtype="string")
    df["_line"] = [str(i + 2) for i in range(len(df))]
    return df


def _categorical(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.astype({c: "category" for c in LABELS})


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


def _check_both(raw):
    cfg = config_from_dict({"sources": [{"name": "m", "kind": "metrics", "path": "*.csv"}]})
    a = check_frame(raw, cfg.sources[0], cfg, engine="vectorized", series_units={"db:disk": "GiB"})
    b = check_frame(
        _categorical(raw), cfg.sources[0], cfg, engine="vectorized", series_units={"db:disk": "GiB"}
    )
    pd.testing.assert_frame_equal(a.bad, b.bad)
    cols = ["unique_id", "service", "metric", "region", "unit", "expected_unit", "ds", "y"]
    pd.testing.assert_frame_equal(_as_objects(a.good[cols]), _as_objects(b.good[cols]))
    return a


def test_categorical_input_is_checked_like_strings():
    ts = "2025-01-01T00:00:00Z"
    rows = [
        (ts, "web", "cpu", "1", "cores", ""),
        (ts, " web ", "cpu", "2", "", "eu"),  # stripped; missing unit -> metric default 'cores'
        (ts, "web", "cpu", "3", "MiB", ""),  # unit differs from the first one seen
        (ts, "we:b", "cpu", "4", "cores", ""),  # ':' in a name
        (ts, "", "cpu", "5", "cores", ""),  # no service
        (ts, "api", " ", "6", "x", ""),  # no metric
        (ts, "db", "disk", "7", "TiB", ""),  # stored unit is GiB
        (ts, "db", "disk", "-1", "GiB", ""),  # negative
        ("nope", "db", "disk", "1", "GiB", None),
    ]
    out = _check_both(_raw(rows))
    assert out.bad[["line", "check"]].values.tolist() == [
        ["4", "unit_consistent"],
        ["5", "service_valid"],
        ["6", "service_present"],
        ["7", "metric_present"],
        ["8", "unit_consistent"],
        ["9", "value_non_negative"],
        ["10", "ts_parseable"],
    ]
    assert "'MiB'" in out.bad["reason"].iloc[0] and "'cores'" in out.bad["reason"].iloc[0]
    assert out.good["unique_id"].astype(object).tolist() == ["web:cpu", "web:cpu:eu"]
    assert out.good["unit"].astype(object).tolist() == ["cores", "cores"]


name = st.sampled_from(["web", " web", "api", "", " ", "a:b", "cpu", "memory", "x y"])
row = st.tuples(
    st.sampled_from(["2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "bad", ""]),
    name,
    name,
    st.sampled_from(["1", "-1", "abc", "2.5", ""]),
    st.sampled_from(["", "cores", "GiB", " cores"]),
    st.sampled_from(["", "eu", " eu ", None]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=30))
def test_categorical_and_string_inputs_agree_on_fuzzed_rows(rows):
    _check_both(_raw(rows))


def test_parquet_labels_are_read_as_categoricals_and_load_like_csv(tmp_path):
    rows = _series_rows("web", "cpu", FIVE, [0, 1, 2, 4]) + [
        ("x", "web", "cpu", "1", ""),
        (T0.isoformat(), "a:b", "cpu", "1", ""),
    ]
    _csv(tmp_path / "m.csv", rows)
    frame = pd.read_csv(tmp_path / "m.csv", dtype=str, keep_default_na=False)
    frame["value"] = pd.to_numeric(frame["value"])
    frame.to_parquet(tmp_path / "m.parquet")
    out = {}
    for fmt, file in (("csv", "m.csv"), ("parquet", "m.parquet")):
        cfg = _cfg(tmp_path / fmt, fmt)
        source = cfg.sources[0]
        if fmt == "parquet":
            raw = read_raw(tmp_path / file, source)
            assert isinstance(raw["service"].dtype, pd.CategoricalDtype)
        with connect(cfg.warehouse_path) as con:
            r = ingest_file(con, tmp_path / file, source, cfg, engine="vectorized")
            out[fmt] = (
                (r.rows_loaded, r.rows_quarantined),
                con.execute("SELECT * FROM observations ORDER BY ALL").fetchall(),
                con.execute('SELECT "check" FROM quarantine ORDER BY ALL').fetchall(),
                _gaps_table(con).values.tolist(),
            )
    assert out["csv"] == out["parquet"]
    assert out["csv"][0] == (4, 2)
    assert out["csv"][3] == [["web:cpu", T0 + 3 * FIVE, T0 + 3 * FIVE, 1]]


@pytest.mark.parametrize("shuffle", [False, True])
def test_frequency_inference_on_codes_matches_median_spacing(shuffle):
    ds = list(T0 + FIVE * np.array([0, 1, 2, 3, 5, 5]))  # median 5 min (duplicate ignored)
    ds += list(T0 + HOUR * np.array([0, 1, 3, 4]))  # spacings 1, 2, 1 h -> h
    ds += list(T0 + pd.Timedelta("1D") * np.array([0, 1]))
    ds += [T0]  # one timestamp only: no frequency
    uid = ["a"] * 6 + ["b"] * 4 + ["c"] * 2 + ["d"]
    frame = pd.DataFrame({"unique_id": uid, "ds": ds})
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=1)
    assert infer_frequencies(frame) == {"a": "5min", "b": "h", "c": "D"}


def test_samples_on_one_grid_point_are_summed_for_counters_and_averaged_for_gauges(tmp_path):
    cfg = _cfg(tmp_path, frequencies={"api:requests": "h", "api:cpu": "h"})
    rows = [
        ("2025-01-01T00:00:00Z", "api", "requests", "1", ""),
        ("2025-01-01T01:00:00Z", "api", "requests", "10", ""),
        ("2025-01-01T01:20:00Z", "api", "requests", "20", ""),
        ("2025-01-01T01:40:00Z", "api", "requests", "40", ""),
        ("2025-01-01T02:00:00Z", "api", "requests", "5", ""),
        ("2025-01-01T00:00:00Z", "api", "cpu", "1", ""),
        ("2025-01-01T01:00:00Z", "api", "cpu", "2", ""),
        ("2025-01-01T01:30:00Z", "api", "cpu", "4", ""),
        ("2025-01-01T01:30:00Z", "api", "cpu", "6", ""),  # same key again: last arrival wins
        ("2025-01-01T02:00:00Z", "api", "cpu", "3", ""),
    ]
    with connect(cfg.warehouse_path) as con:
        r = ingest_file(con, _csv(tmp_path / "m.csv", rows), cfg.sources[0], cfg, engine="vectorized")
        # 1 superseded key + 3 samples combined onto a shared grid point: loaded = inserted + duplicate
        assert (r.rows_duplicate, r.rows_regridded, r.rows_inserted) == (4, 3, 6)
        assert r.rows_loaded == r.rows_inserted + r.rows_duplicate
        got = con.execute("SELECT unique_id, hour(ds), y FROM observations ORDER BY 1, 2").fetchall()
    assert got == [
        ("api:cpu", 0, 1.0),
        ("api:cpu", 1, 4.0),
        ("api:cpu", 2, 3.0),
        ("api:requests", 0, 1.0),
        ("api:requests", 1, 70.0),
        ("api:requests", 2, 5.0),
    ]


def test_changed_frequency_recomputes_the_whole_series_in_sql(tmp_path):
    rows = _series_rows("web", "cpu", FIVE, [0, 1, 2, 4, 5, 9, 10])  # 5-min gaps at 3 and 6..8
    with connect(tmp_path / "w.duckdb") as con:
        cfg = _cfg(tmp_path)
        ingest_file(con, _csv(tmp_path / "a.csv", rows), cfg.sources[0], cfg, engine="vectorized")
        assert _assert_same_gaps(con)["missing_steps"].tolist() == [1, 3]
        cfg = _cfg(tmp_path, frequencies={"web:cpu": "10min"})  # now a 10-minute series
        more = _series_rows("web", "cpu", FIVE, [12])
        ingest_file(con, _csv(tmp_path / "b.csv", more), cfg.sources[0], cfg, engine="vectorized")
        got = _assert_same_gaps(con)
    # stored 0,5,10,20,25,45,50,60 min on a 10-minute step: only 25 -> 45 leaves a point out (35)
    assert got.values.tolist() == [["web:cpu", T0 + 7 * FIVE, T0 + 7 * FIVE, 1]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_gap_kernel_equals_find_gaps(seed):
    rng = np.random.default_rng(seed)
    uids = ["a", "b", "c"]
    steps = {"a": 300, "b": 3600, "c": 60}
    parts = []
    for u in uids:
        k = np.unique(rng.integers(0, 400, size=200))
        parts.append(pd.DataFrame({"unique_id": u, "ds": T0 + pd.to_timedelta(k * steps[u], unit="s")}))
    obs = pd.concat(parts, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)
    ref = find_gaps(obs, steps).reset_index(drop=True)
    got = find_gaps_sorted(obs.astype({"unique_id": "category"}), steps)
    assert len(ref) > 10
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)
