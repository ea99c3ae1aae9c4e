"""Property-based fuzz of every input format through ``ingest_file`` (issue 8).

Each example writes one file of known valid and invalid rows in one format, with the hostile
shapes that broke ingest (BOM, blank lines, trailing commas, ragged rows, unix seconds, nested
JSON, wrong JSON shapes) and asserts: no exception escapes; the accounting is exact (a loaded
file's rows in = loaded + quarantined = rows written, a rejected file loads nothing); no valid row
is quarantined and no invalid row loads. Example counts stay small (``make test``); the ``ci``
profile in ``conftest.py`` makes them deterministic.
"""

from __future__ import annotations

import json

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.core.config import config_from_dict
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_file

T0 = 1735689600  # 2025-01-01T00:00:00Z

valid_row = st.tuples(
    st.integers(0, 200).map(lambda h: T0 + 3600 * h),
    st.sampled_from(["web", "api", "db", "é-svc", "a b"]),
    st.sampled_from(["cpu", "memory", "rps"]),
    st.floats(0, 1e6, allow_nan=False).map(lambda v: round(v, 3)),
)
bad_cell = st.sampled_from(["ts", "service", "metric", "value"])
bad_value = {
    "ts": ["notatime", "2025-13-45T00:00:00Z", "9999999999999"],
    "service": ["", "a:b", "x\x1by", "\x00"],
    "metric": ["", "c:d", "m\x07"],
    "value": ["abc", "-1", "1e400", "1.7e308", "nan", "inf"],
}
row = st.one_of(
    valid_row.map(lambda r: (True, r)),
    st.tuples(valid_row, bad_cell, st.integers(0, 5)).map(
        lambda x: (False, _spoil(x[0], x[1], bad_value[x[1]][x[2] % len(bad_value[x[1]])]))
    ),
)


def _spoil(r, col, text):
    r = list(r)
    r[("ts", "service", "metric", "value").index(col)] = text
    return tuple(r)


def _iso(t) -> str:
    return pd.Timestamp(int(t), unit="s").strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(t, int) else t


# --- writers: each returns (file name, format, bytes); rows are (ts, service, metric, value) ------


def _csv(rows, shape):
    lines = [",".join([_iso(t) if shape != "unix" else str(t), s, m, str(v)]) for t, s, m, v in rows]
    if shape == "trailing_comma":
        lines = [ln + "," for ln in lines]
    if shape == "blank_lines":
        lines = [x for ln in lines for x in (ln, "")]
    text = "\n".join(["ts,service,metric,value", *lines]) + "\n"
    return "m.csv", "csv", (("\ufeff" + text) if shape == "bom" else text).encode()


def _parquet(rows, shape, tmp):
    df = pd.DataFrame(
        [[_iso(t), s, m, str(v)] for t, s, m, v in rows], columns=["ts", "service", "metric", "value"]
    )
    df.to_parquet(tmp / "m.parquet")
    return "m.parquet", "parquet", None


def _prometheus(rows, shape):
    groups: dict = {}
    for t, s, m, v in rows:
        groups.setdefault((s, m), []).append([t if isinstance(t, int) else t, str(v)])
    result = [{"metric": {"service": s, "__name__": m}, "values": vals} for (s, m), vals in groups.items()]
    return "p.json", "prometheus", json.dumps({"status": "success", "data": {"result": result}}).encode()


def _cloudwatch(rows, shape):
    groups: dict = {}
    for t, s, m, v in rows:
        ts, vs = groups.setdefault(f"{s}:{m}", ([], []))
        ts.append(_iso(t))
        vs.append(v if isinstance(v, float) else str(v))
    results = [{"Label": k, "Timestamps": ts, "Values": vs} for k, (ts, vs) in groups.items()]
    return "c.json", "cloudwatch", json.dumps({"MetricDataResults": results}).encode()


@st.composite
def case(draw):
    fmt = draw(st.sampled_from(["csv", "parquet", "prometheus", "cloudwatch", "csv_wide"]))
    tagged = draw(st.lists(row, min_size=1, max_size=25))
    if fmt in ("prometheus", "cloudwatch"):  # label text cannot hold what a JSON key cannot
        tagged = [(ok, r) for ok, r in tagged if ":" not in r[1] + r[2] or not ok]
        tagged = [(ok, r) for ok, r in tagged if r[1] and r[2]] or [(True, (T0, "web", "cpu", 1.0))]
    if fmt == "cloudwatch":  # the label is 'service:metric': a ':' in a name moves the split
        tagged = [(ok, r) for ok, r in tagged if ":" not in r[1] + r[2]] or [(True, (T0, "web", "cpu", 1.0))]
    shape = draw(st.sampled_from(["plain", "bom", "blank_lines", "trailing_comma", "unix"]))
    return fmt, tagged, shape


def _cfg(tmp, fmt, name):
    return config_from_dict(
        {
            "warehouse": {"path": str(tmp / "w.duckdb")},
            "sources": [{"name": "s", "kind": "metrics", "path": name, "format": fmt}],
        },
        base_dir=tmp,
    )


def _wide(tagged, shape):
    """A wide CSV of valid names: a cell is a row; an empty cell is no row."""
    cols = ["web:cpu", "api:memory"]
    lines, n_ok, n_bad = [], 0, 0
    for i, (ok, (t, _, _, v)) in enumerate(tagged):
        cells = [str(v), "" if i % 3 else str(v)]
        lines.append(",".join([_iso(t) if shape != "unix" else str(t), *cells]))
        n = sum(1 for c in cells if c)
        n_ok, n_bad = (n_ok + n, n_bad) if ok else (n_ok, n_bad + n)
    text = "\n".join(["ts," + ",".join(cols), *lines]) + "\n"
    return ("\ufeff" + text if shape == "bom" else text).encode(), n_ok, n_bad


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case())
def test_every_format_accounts_for_every_row(tmp_path_factory, c):
    fmt, tagged, shape = c
    tmp = tmp_path_factory.mktemp("fuzz")
    rows = [r for _, r in tagged]
    n_ok = sum(ok for ok, _ in tagged)
    n_bad = len(tagged) - n_ok
    if fmt == "csv":
        name, fmt, data = _csv(rows, shape)
    elif fmt == "parquet":
        name, fmt, data = _parquet(rows, shape, tmp)
    elif fmt == "prometheus":
        name, fmt, data = _prometheus(rows, shape)
    elif fmt == "cloudwatch":
        name, fmt, data = _cloudwatch(rows, shape)
    else:
        # in a wide file a bad ts spoils the whole line, a bad name is not expressible: values only
        tagged = [(ok, r) for ok, r in tagged if ok or r[0] in bad_value["ts"] or not _num_ok(r[3])]
        tagged = tagged or [(True, (T0, "web", "cpu", 1.0))]
        (data, n_ok, n_bad), name, fmt = _wide(tagged, shape), "w.csv", "csv_wide"
    if data is not None:
        (tmp / name).write_bytes(data)
    cfg = _cfg(tmp, fmt, name)
    with connect(cfg.warehouse_path) as con:
        r = ingest_file(con, tmp / name, cfg.sources[0], cfg, engine="vectorized")
        stored = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    assert r.status == "loaded", r.message
    assert r.rows_in == r.rows_loaded + r.rows_quarantined == n_ok + n_bad
    assert (r.rows_loaded, r.rows_quarantined) == (n_ok, n_bad), r.quarantine_reasons
    assert stored == r.rows_quarantined
    assert r.rows_inserted + r.rows_updated + r.rows_unchanged + r.rows_duplicate == r.rows_loaded


def _num_ok(v) -> bool:
    try:
        x = float(v)
    except ValueError:
        return False
    return 0 <= x <= 1e15


BAD_SHAPES = [
    ("prometheus", {"data": []}),
    ("prometheus", {"data": "x"}),
    ("prometheus", {"data": {"result": [{"metric": {"service": ["web"]}, "values": [[1, "1"]]}]}}),
    ("prometheus", {"data": {"result": [{"metric": {"service": {"a": {"b": 1}}}, "values": []}]}}),
    ("prometheus", [[[[[[[[1]]]]]]]]),
    ("cloudwatch", {"MetricDataResults": [1]}),
    ("cloudwatch", {"MetricDataResults": [{"Label": 3, "Timestamps": [], "Values": []}]}),
    ("cloudwatch", {"MetricDataResults": None}),
]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(BAD_SHAPES), st.lists(st.sampled_from([1, "x", None, [], {}]), max_size=4))
def test_wrong_json_shapes_are_rejected_files_never_crashes(tmp_path_factory, shape, noise):
    fmt, doc = shape
    tmp = tmp_path_factory.mktemp("shape")
    if isinstance(doc, dict) and noise:
        doc = {**doc, "extra": noise}
    (tmp / "f.json").write_text(json.dumps(doc))
    cfg = _cfg(tmp, fmt, "f.json")
    with connect(cfg.warehouse_path) as con:
        r = ingest_file(con, tmp / "f.json", cfg.sources[0], cfg, engine="vectorized")
        n = con.execute("SELECT count(*) FROM observations").fetchall()[0][0]
    assert r.status == "rejected" and "f.json" in r.message and n == 0


OTHER_KINDS = {
    "kpis": (
        "ts,kpi,value",
        "2025-01-01T00:00:00Z,orders,5",
        [
            "2025-01-01T00:00:00Z,orders,-5",
            "x,orders,1",
            "2025-01-01T00:00:00Z,or:ders,1",
            "2025-01-01T00:00:00Z,orders,1e300",
        ],
    ),
    "events": (
        "name,kind,start,end,services,expected_uplift",
        "bf,sale,2025-11-28,2025-11-29,*,1.5",
        [
            "bf,party,2025-11-28,2025-11-29,*,",
            "bf,sale,2025-11-29,2025-11-28,*,",
            "bf,sale,2025-11-28,2025-11-29,*,1e300",
        ],
    ),
    "inventory": (
        "service,resource,capacity_per_instance,unit,instances,target_utilization,max_instances,cost_per_instance_hour",
        "web,cpu,4,cores,3,0.6,10,0.2",
        [
            "web,cpu,4,cores,1e20,0.6,10,0.2",
            "web,gpu,4,cores,3,0.6,10,0.2",
            "web,cpu,4,cores,3,1.5,10,0.2",
            "web\x1b,cpu,4,cores,3,0.6,10,0.2",
        ],
    ),
    "loadtests": (
        "service,instances,throughput,latency_p99_ms",
        "web,2,100,50",
        ["web,0,100,50", "web,2,-1,50", "web,2,100,1e300"],
    ),
}


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from(sorted(OTHER_KINDS)), st.lists(st.integers(-1, 3), min_size=1, max_size=8), st.booleans()
)
def test_other_kinds_account_for_every_row(tmp_path_factory, kind, picks, bom):
    header, good, bads = OTHER_KINDS[kind]
    lines = [good if p < 0 else bads[p % len(bads)] for p in picks]
    tmp = tmp_path_factory.mktemp(kind)
    (tmp / "f.csv").write_bytes((("\ufeff" if bom else "") + "\n".join([header, *lines]) + "\n").encode())
    cfg = config_from_dict(
        {
            "warehouse": {"path": str(tmp / "w.duckdb")},
            "sources": [{"name": "k", "kind": kind, "path": "f.csv"}],
        },
        base_dir=tmp,
    )
    with connect(cfg.warehouse_path) as con:
        r = ingest_file(con, tmp / "f.csv", cfg.sources[0], cfg, engine="vectorized")
    n_good = sum(p < 0 for p in picks)
    assert r.status == "loaded", r.message
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (len(picks), n_good, len(picks) - n_good)
