"""Property-based fuzz of readers + checks: malformed rows never crash and are never lost."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.core.config import config_from_dict
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_file
from capplan.warehouse.validation import check_frame

CFG = config_from_dict({"sources": [{"name": "m", "kind": "metrics", "path": "*.csv"}]})
SRC = CFG.sources[0]

junk = st.sampled_from(
    ["", " ", "abc", "-1", "1e400", "nan", "inf", "2025-13-45", "NULL", "a:b", ",", '"', "\n", "é", "0"]
)
ts = st.one_of(
    st.datetimes(
        min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2035-01-01").to_pydatetime(),
    ).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    junk,
    st.text(max_size=12),
)
value = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), junk, st.text(max_size=6))
name = st.one_of(st.sampled_from(["web", "api", "db"]), junk, st.text(max_size=8))
row = st.tuples(
    ts,
    name,
    st.sampled_from(["cpu", "memory", "rps", ""]) | name,
    value,
    st.sampled_from(["", "cores", "GiB", "x"]),
)


def _raw(rows):
    df = pd.DataFrame(rows, columns=["ts", "service", "metric", "value", "unit"], dtype=object)
    df["region"] = ""
    df["_line"] = [str(i + 2) for i in range(len(df))]
    return df


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=40))
def test_checks_account_for_every_row(rows):
    raw = _raw(rows)
    out = check_frame(raw, SRC, CFG, engine="vectorized")
    assert len(out.good) + len(out.bad) == len(raw)
    assert set(out.bad["line"]).isdisjoint(set(raw.loc[out.good.index, "_line"]))
    assert out.good["ds"].notna().all() and np.isfinite(out.good["y"]).all() and (out.good["y"] >= 0).all()
    assert out.bad["reason"].str.len().gt(0).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=25))
def test_great_expectations_and_vectorized_engines_agree(rows):
    raw = _raw(rows)
    a = check_frame(raw, SRC, CFG, engine="gx")
    b = check_frame(raw, SRC, CFG, engine="vectorized")
    assert (
        a.bad[["line", "check"]]
        .reset_index(drop=True)
        .equals(b.bad[["line", "check"]].reset_index(drop=True))
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.lists(st.one_of(ts, value, name, junk), min_size=0, max_size=7), min_size=1, max_size=20))
def test_malformed_csv_files_never_crash_the_loader(tmp_path_factory, lines):
    tmp = tmp_path_factory.mktemp("fuzz")
    body = (
        "ts,service,metric,value,unit\n"
        + "\n".join(",".join(x.replace("\n", " ") for x in ln) for ln in lines)
        + "\n"
    )
    path = tmp / "f.csv"
    path.write_text(body)
    cfg = config_from_dict(
        {
            "warehouse": {"path": str(tmp / "w.duckdb")},
            "sources": [{"name": "m", "kind": "metrics", "path": "*.csv"}],
        }
    )
    with connect(cfg.warehouse_path) as con:
        r = ingest_file(con, path, cfg.sources[0], cfg, engine="vectorized")
        if r.status == "loaded":
            assert r.rows_in == r.rows_loaded + r.rows_quarantined
            q = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
            assert q == r.rows_quarantined
        else:
            assert r.status == "rejected" and "f.csv" in r.message
