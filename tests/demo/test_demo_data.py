"""The deterministic demo company (capplan.demo): signal, gaps, files, config."""

from __future__ import annotations

import csv
import json
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capplan.core.config import config_from_dict, load_config
from capplan.demo import (
    DEMO_END,
    DemoData,
    demo_config,
    generate_demo,
    write_demo,
    write_metrics_parquet,
)
from capplan.demo.config import to_toml, write_config

SMALL_SERVICES = {"web", "api", "checkout", "search", "payments", "auth"}
METRICS = {"cpu": "cores", "memory": "GiB", "storage": "GiB", "network": "Mbps", "rps": "req/s"}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo()


@pytest.fixture(scope="module")
def out(demo, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    write_demo(demo, folder)
    return folder


def _series(demo: DemoData, service: str, metric: str) -> pd.Series:
    m = demo.metrics
    return m[(m.service == service) & (m.metric == metric)].set_index("ts")["value"]


def _read_usage(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"ts": str, "service": str}, keep_default_na=False)


# ------------------------------------------------------------------ determinism and shape


def test_same_seed_gives_identical_frames(demo):
    again = generate_demo(seed=7, size="small")
    assert demo.metrics.equals(again.metrics)  # assert_frame_equal is slow on categoricals
    for name in ("kpis", "events", "inventory", "loadtests", "usl", "gaps", "bad_rows"):
        pd.testing.assert_frame_equal(getattr(demo, name), getattr(again, name), obj=name)


def test_different_seed_differs(demo):
    other = generate_demo(seed=8)
    a, b = _series(demo, "web", "rps"), _series(other, "web", "rps")
    common = a.index.intersection(b.index)
    assert len(common) > 8000
    assert (a[common] != b[common]).mean() > 0.9
    assert not demo.gaps.equals(other.gaps)


def test_grid_ends_at_the_fixed_end_not_today(demo):
    assert demo.end == DEMO_END == pd.Timestamp("2026-11-18 00:00")
    ts = demo.metrics.ts
    assert ts.dt.tz is None
    assert ts.max() == DEMO_END - pd.Timedelta(hours=1)
    assert ts.min() == DEMO_END - pd.Timedelta(days=730)
    assert set(ts.dt.minute.unique()) == {0}


def test_end_argument_is_floored_to_the_hour_and_made_naive():
    d = generate_demo(end=pd.Timestamp("2025-06-01 10:30", tz="Europe/Paris"))  # 08:30 UTC
    assert d.end == pd.Timestamp("2025-06-01 08:00")
    assert d.metrics.ts.max() == pd.Timestamp("2025-06-01 07:00")


def test_unknown_size_is_refused():
    with pytest.raises(ValueError, match="size must be one of"):
        generate_demo(size="huge")


def test_services_metrics_units_regions(demo):
    m = demo.metrics
    assert list(m.columns) == ["ts", "service", "metric", "value", "unit", "region"]
    assert set(m.service.unique()) == SMALL_SERVICES
    pairs = m.groupby(["service", "metric"], observed=True).size()
    assert len(pairs) == 6 * 5
    units = m[["metric", "unit"]].drop_duplicates().astype(str)
    assert dict(zip(units.metric, units.unit, strict=True)) == METRICS
    assert m.groupby("service", observed=True)["region"].nunique().eq(1).all()
    # two years hourly, minus the gap rows
    assert 6 * 5 * 17520 - 500 < len(m) <= 6 * 5 * 17520


def test_medium_has_eight_services_over_two_years():
    d = generate_demo(size="medium")
    assert set(d.metrics.service.unique()) == SMALL_SERVICES | {"catalog", "worker"}
    assert d.metrics.ts.min() == DEMO_END - pd.Timedelta(days=730)
    assert d.freq == "h"


def test_values_nonnegative_and_finite(demo):
    for frame, col in ((demo.metrics, "value"), (demo.kpis, "value"), (demo.loadtests, "throughput")):
        v = frame[col].to_numpy(dtype=float)
        assert np.isfinite(v).all()
        assert (v >= 0).all()


# ------------------------------------------------------------------ signal


def test_black_friday_peak_in_checkout_rps(demo):
    bf = pd.Timestamp("2025-11-28")  # the day after the 4th Thursday of November 2025
    for service, least in (("checkout", 4.0), ("web", 3.5), ("api", 3.5)):
        s = _series(demo, service, "rps")
        peak = s[bf : bf + pd.Timedelta(hours=23)].max()
        week_before = s[bf - pd.Timedelta(days=7) : bf - pd.Timedelta(hours=1)].max()
        assert peak / week_before >= least, service


def test_daily_and_weekly_seasonality(demo):
    rps = _series(demo, "web", "rps")
    by_hour = rps.groupby(rps.index.hour).mean()
    assert by_hour[20] > 3 * by_hour[4]  # evening peak, night trough
    users = demo.kpis[demo.kpis.kpi == "active_users"].set_index("ts")["value"]
    by_day = users.groupby(users.index.day_of_week).median()
    assert by_day[5] < by_day[1]  # Saturday below Tuesday


def test_active_users_grow_about_forty_percent_a_year(demo):
    users = demo.kpis[demo.kpis.kpi == "active_users"]["value"].to_numpy()
    ratio = np.median(users[-14:]) / np.median(users[:14])
    expected = 1.40 ** (716 / 365.25)  # 716 days between the two windows' centres
    assert ratio == pytest.approx(expected, rel=0.08)


def test_kpis_daily_with_orders_peaking_on_black_friday(demo):
    k = demo.kpis
    assert list(k.columns) == ["ts", "kpi", "value"]
    assert sorted(k.kpi.unique()) == ["active_users", "orders", "signups"]
    assert k.groupby("kpi").size().eq(730).all()
    orders = k[k.kpi == "orders"].set_index("ts")["value"]
    assert orders.idxmax() in (pd.Timestamp("2025-11-28"), pd.Timestamp("2025-12-01"))


def test_gaps_are_missing_rows_and_nothing_else(demo):
    grid = pd.date_range(DEMO_END - pd.Timedelta(days=730), DEMO_END, freq="h", inclusive="left")
    assert len(demo.gaps) >= 5
    counts = demo.metrics.groupby(["service", "metric"], observed=True).size()
    for (service, metric), n in counts.items():
        g = demo.gaps[(demo.gaps.service == service) & (demo.gaps.metric == metric)]
        windows = [pd.date_range(r.start, r.end, freq="h", inclusive="left") for r in g.itertuples()]
        missing = pd.DatetimeIndex(sorted({t for w in windows for t in w}))
        assert n == len(grid) - len(missing), (service, metric)
        present = _series(demo, service, metric).index
        assert not present.isin(missing).any()
    outages = demo.events[demo.events.kind == "outage"]
    assert len(outages) == 3
    for e in outages.itertuples():
        for service in e.services:
            rows = _series(demo, service, "rps")
            assert rows[e.start : e.end - pd.Timedelta(hours=1)].empty


def test_events(demo):
    ev = demo.events
    assert set(ev.kind) == {"launch", "campaign", "sale", "holiday", "outage"}
    bf = ev[ev.name == "black_friday"]
    assert list(bf.start) == pd.to_datetime(["2024-11-29", "2025-11-28", "2026-11-27", "2027-11-26"]).tolist()
    # the two last years, and the next two: the short horizon's and the long-range plan's
    assert bf.expected_uplift.isna().all()
    assert (bf.services == "*").all()
    assert ev.expected_uplift.notna().sum() >= 5
    for s in ev.services:
        assert s == "*" or (isinstance(s, tuple) and set(s) <= SMALL_SERVICES)
    assert (ev.end > ev.start).all()


# ------------------------------------------------------------------ inventory and load tests


def _recent_peak(demo, service, metric):
    s = _series(demo, service, metric)
    return s[s.index >= demo.end - pd.Timedelta(days=7)].max()


def test_inventory_shape_and_sizing_story(demo):
    inv = demo.inventory
    assert set(inv.service) == SMALL_SERVICES
    assert inv.groupby("service").resource.apply(set).eq(set(METRICS)).all()
    assert inv.target_utilization.between(0.6, 0.75).all()
    assert (inv.max_instances > inv.instances).all()
    cpu = inv[inv.resource == "cpu"].set_index("service")
    util = {
        s: _recent_peak(demo, s, "cpu") / (r.instances * r.capacity_per_instance) for s, r in cpu.iterrows()
    }
    assert util["auth"] < 0.25 and util["payments"] < 0.25  # over-provisioned
    api = cpu.loc["api"]
    n_plus_1 = (api.instances - 1) * api.capacity_per_instance * api.target_utilization
    assert 0.85 < _recent_peak(demo, "api", "cpu") / n_plus_1 < 1.0  # runs out within the horizon
    for s in ("web", "checkout", "search"):
        assert util[s] < cpu.loc[s, "target_utilization"]


def test_loadtests_follow_usl_with_known_parameters(demo):
    lt = demo.loadtests
    assert list(lt.columns) == ["service", "instances", "concurrency", "throughput", "latency_p99_ms"]
    for u in demo.usl.itertuples():
        t = lt[lt.service == u.service]
        n = t.instances.to_numpy(dtype=float)
        assert list(n) == list(range(1, 33))
        rel = t.throughput.to_numpy() / u.lam
        # linearised USL: n / X(n) - 1 = sigma (n - 1) + kappa n (n - 1)
        (sigma, kappa), *_ = np.linalg.lstsq(np.c_[n - 1, n * (n - 1)], n / rel - 1, rcond=None)
        assert sigma == pytest.approx(u.sigma, abs=0.01), u.service
        assert kappa == pytest.approx(u.kappa, abs=0.0002), u.service
    one = lt[(lt.service == "web") & (lt.instances == 1)].iloc[0]
    web = demo.usl.set_index("service").loc["web"]
    assert one.throughput == pytest.approx(web.lam, rel=0.08)  # X(1) = lambda


# ------------------------------------------------------------------ files and config


def test_written_files(out):
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [
        "capplan.toml",
        "events.csv",
        "inventory.csv",
        "kpis.csv",
        "loadtests.csv",
        "metrics/cloudwatch_payments.json",
        "metrics/prometheus_search.json",
        "metrics/usage_backend.csv",
        "metrics/usage_frontend.csv",
    ]


def test_config_loads_and_lists_every_file(demo, out):
    cfg = load_config(out / "capplan.toml")
    assert cfg.warehouse_path == out / "warehouse.duckdb"
    kinds = {s.kind for s in cfg.sources}
    assert kinds == {"metrics", "kpis", "events", "inventory", "loadtests"}
    formats = {s.name: s.format for s in cfg.sources}
    assert formats["usage_csv"] == "csv" and formats["prometheus"] == "prometheus"
    assert formats["cloudwatch_payments"] == "cloudwatch"
    matched = set()
    for s in cfg.sources:
        hits = sorted(out.glob(s.path))
        assert hits, s.name
        matched |= {h.relative_to(out).as_posix() for h in hits}
    assert matched == {p.relative_to(out).as_posix() for p in out.rglob("*.*") if p.name != "capplan.toml"}
    assert cfg.forecast.horizon == "14D"
    assert set(cfg.scenarios) == {"conservative", "expected", "aggressive", "black_friday"}
    assert cfg.scenarios["black_friday"].event_uplift["black_friday"] == 6.0
    assert cfg.mlflow.tracking_uri == "sqlite:///mlruns/mlflow.db"
    assert set(cfg.planning.latency_slo_ms) == SMALL_SERVICES


def test_config_dict_loads_with_config_from_dict(demo, tmp_path):
    data = demo_config(demo, warehouse_path="wh/demo.duckdb", mlruns="../../mlruns")
    assert isinstance(data, dict) and "base_dir" not in data
    cfg = config_from_dict(data, base_dir=tmp_path)
    assert cfg.warehouse_path == tmp_path / "wh" / "demo.duckdb"
    assert cfg.mlflow.tracking_uri == "sqlite:///../../mlruns/mlflow.db"
    assert cfg.mlflow.artifact_location == "../../mlruns/artifacts"
    assert cfg.mlflow.experiment == "capplan-demo"
    assert [s.name for s in cfg.sources] == [s["name"] for s in data["sources"]]
    default = demo_config(demo)
    assert default["warehouse"]["path"] == "warehouse.duckdb"
    assert default["mlflow"]["tracking_uri"] == "sqlite:///mlruns/mlflow.db"
    assert default["mlflow"]["artifact_location"] == "mlruns/artifacts"


def test_config_toml_is_the_dict_and_loads(demo, tmp_path):
    data = demo_config(demo, warehouse_path="wh/demo.duckdb", mlruns=Path("..") / "mlruns")
    text = to_toml(data, comment="two\nlines")
    assert text.startswith("# two\n# lines\n\n[warehouse]\n")
    assert tomllib.loads(text) == json.loads(json.dumps(data, default=str))  # tuples as lists
    path = write_config(data, tmp_path / "capplan.toml")
    from_file, from_dict = load_config(path), config_from_dict(data, base_dir=tmp_path)
    assert from_file == from_dict
    assert from_file.mlflow.tracking_uri == "sqlite:///../mlruns/mlflow.db"
    assert from_file.alerts.webhook_url is None  # the [alerts] example is a comment
    example = [line.removeprefix("# ") for line in path.read_text().splitlines() if line.startswith("# ")]
    start = example.index("[alerts]")
    uncommented = path.with_name("alerts.toml")
    uncommented.write_text(path.read_text() + "\n".join(example[start:]) + "\n")
    alerts = load_config(uncommented).alerts
    assert (
        alerts.webhook_url.startswith("https://") and alerts.retries == 3 and alerts.min_severity == "warning"
    )


def test_toml_writer_values_and_keys():
    data = {
        "top": 1,
        "t": {"b": True, "i": 3, "f": 0.1, "inf": math.inf, "s": 'a "q" \\ é\n', "l": (1, 2.5, "x")},
        "odd key": {"a.b": 1, "nested": {"deep": {"x": 1}}},
        "arr": [{"n": 1, "sub": {"y": 2}}, {"n": 2}],
        "empty": {},
    }
    back = tomllib.loads(to_toml(data))
    assert back == {**data, "t": {**data["t"], "l": [1, 2.5, "x"]}}
    with pytest.raises(TypeError, match="cannot write NoneType"):
        to_toml({"x": None})


def test_write_demo_writes_the_mlflow_store_given(demo, tmp_path):
    path = write_demo(demo, tmp_path / "a" / "b", mlruns="../../mlruns")
    assert path == tmp_path / "a" / "b" / "capplan.toml"
    text = path.read_text()
    assert 'tracking_uri = "sqlite:///../../mlruns/mlflow.db"' in text
    assert 'artifact_location = "../../mlruns/artifacts"' in text
    assert text.startswith(
        "# capplan demo configuration: generated by `capplan demo` (seed 7, size 'small')."
    )
    cfg = load_config(path)
    assert cfg.warehouse_path == tmp_path / "a" / "b" / "warehouse.duckdb"


def test_usage_csv_rows_match_the_frame(demo, out):
    frames = [_read_usage(p) for p in sorted((out / "metrics").glob("usage_*.csv"))]
    for f in frames:
        assert list(f.columns) == ["ts", "service", "metric", "value", "unit", "region"]
    both = pd.concat(frames, ignore_index=True)
    ts = pd.to_datetime(both.ts, format="%Y-%m-%dT%H:%M:%SZ", errors="coerce")
    good = both[ts.notna() & (both.service != "") & (both.value >= 0)]
    assert len(good) == len(both) - 3
    m = demo.metrics
    expected = m[m.service.isin(["web", "api", "auth", "checkout"])]
    got = good.assign(ts=pd.to_datetime(good.ts).dt.tz_localize(None))
    key = ["service", "metric", "ts"]
    a = got.sort_values(key, ignore_index=True)
    b = expected.astype({c: str for c in ("service", "metric", "unit", "region")}).sort_values(
        key, ignore_index=True
    )
    pd.testing.assert_frame_equal(a[b.columns], b, check_dtype=False)


def test_exactly_the_planted_rows_are_bad(demo, out):
    bad_by_file = {}
    for path in sorted((out / "metrics").glob("usage_*.csv")):
        f = _read_usage(path)
        ts = pd.to_datetime(f.ts, format="%Y-%m-%dT%H:%M:%SZ", errors="coerce")
        bad = f[ts.isna() | (f.value < 0) | (f.service == "")]
        bad_by_file[path.name] = bad
    assert len(bad_by_file["usage_backend.csv"]) == 0
    bad = bad_by_file["usage_frontend.csv"].reset_index(drop=True)
    assert list(bad.ts) == list(demo.bad_rows.ts)
    assert list(bad.service) == ["web", "web", ""]
    assert list(bad.value) == [-2.5, 4.2, 4.2]
    assert list(demo.bad_rows.problem) == ["negative value", "unparseable timestamp", "empty service"]


def test_prometheus_json_shape(demo, out):
    doc = json.loads((out / "metrics" / "prometheus_search.json").read_text())
    assert doc["status"] == "success" and doc["data"]["resultType"] == "matrix"
    result = doc["data"]["result"]
    assert sorted(r["metric"]["__name__"] for r in result) == sorted(METRICS)
    for r in result:
        assert r["metric"]["service"] == "search" and r["metric"]["region"] == "eu-west-1"
        t = np.array([p[0] for p in r["values"]])
        assert all(isinstance(p[0], int) and isinstance(p[1], str) for p in r["values"][:50])
        assert (np.diff(t) > 0).all()
        s = _series(demo, "search", r["metric"]["__name__"])
        expected_t = s.index.to_numpy().astype("datetime64[s]").astype(np.int64)
        np.testing.assert_array_equal(t, expected_t)
        np.testing.assert_array_equal([float(p[1]) for p in r["values"]], s.to_numpy())
    assert result[0]["values"][0][0] == int((DEMO_END - pd.Timedelta(days=730)).timestamp())


def test_cloudwatch_json_newest_first(demo, out):
    doc = json.loads((out / "metrics" / "cloudwatch_payments.json").read_text())
    results = doc["MetricDataResults"]
    assert sorted(r["Label"] for r in results) == sorted(f"payments:{m}" for m in METRICS)
    for r in results:
        assert r["StatusCode"] == "Complete" and re.match(r"^m\d+$", r["Id"])
        assert r["Timestamps"][0] == "2026-11-17T23:00:00+00:00"
        ts = pd.to_datetime(r["Timestamps"]).tz_localize(None)
        assert (np.diff(ts.asi8) < 0).all()
        s = _series(demo, "payments", r["Label"].split(":")[1])
        np.testing.assert_array_equal(ts[::-1], s.index)
        np.testing.assert_array_equal(r["Values"][::-1], s.to_numpy())


def test_tables_csv_shapes(demo, out):
    with open(out / "events.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["name", "kind", "start", "end", "services", "expected_uplift"]
    bf = [r for r in rows if r["name"] == "black_friday"]
    assert bf[0]["services"] == "*" and bf[0]["expected_uplift"] == "" and ISO_Z.match(bf[0]["start"])
    spring = next(r for r in rows if r["name"] == "spring_sale")
    assert spring["services"] == "web;api;checkout;payments" and float(spring["expected_uplift"]) == 1.8
    inv = pd.read_csv(out / "inventory.csv")
    assert list(inv.columns[:8]) == [
        "service", "resource", "capacity_per_instance", "unit", "instances",
        "target_utilization", "max_instances", "cost_per_instance_hour",
    ]  # fmt: skip
    assert len(inv) == 6 * 5
    kpis = pd.read_csv(out / "kpis.csv")
    assert list(kpis.columns) == ["ts", "kpi", "value"] and len(kpis) == 3 * 730
    assert kpis.ts.str.match(ISO_Z.pattern).all()
    lt = pd.read_csv(out / "loadtests.csv")
    assert list(lt.columns) == ["service", "instances", "concurrency", "throughput", "latency_p99_ms"]
    pd.testing.assert_frame_equal(lt, demo.loadtests, check_dtype=False)


def test_parquet_round_trip(demo, tmp_path):
    path = write_metrics_parquet(demo, tmp_path / "metrics.parquet")
    back = pd.read_parquet(path)
    assert list(back.columns) == ["ts", "service", "metric", "value", "unit", "region"]
    assert str(back.ts.dt.tz) == "UTC"
    expected = demo.metrics.astype({c: str for c in ("service", "metric", "unit", "region")})
    back = back.assign(ts=back.ts.dt.tz_localize(None).astype("datetime64[ns]"))
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
