"""Deterministic demo data: a synthetic e-commerce company, written in the formats users have.

``generate_demo`` is pure (no I/O, no clock): the same ``seed``, ``size`` and ``end`` give
identical frames. ``write_demo`` writes them as long CSVs, Prometheus ``query_range`` and
CloudWatch ``get-metric-data`` JSON, the KPI / event / inventory / load-test CSVs and a
``capplan.toml`` listing every file as a ``[[sources]]`` entry, so ``capplan demo`` goes through
the real readers.

Invariants of :class:`DemoData` (the tests check them):

* ``metrics``: ``ts, service, metric, value, unit, region``; ``ts`` tz-naive UTC on the size's
  grid in ``[end - days, end)``; values finite and >= 0; one region per service; rows missing
  only inside outage windows and a few scrape gaps (``gaps`` lists every missing window).
* The signal: KPI-driven growth (~40 %/year active users), daily and weekly seasonality,
  Black Friday / Cyber Monday peaks (4-8x for web, api, checkout), December holiday season,
  campaigns, launches (``search_v2`` a step, ``mobile_app_v3`` a ramp on api).
* ``inventory`` is sized from the last week of data: ``auth`` and ``payments`` over-provisioned
  (~15 % peak utilisation), ``api`` at ~92 % of its n+1 cpu target and growing ~1 %/day, so it
  runs out of cpu within a 14-day horizon; the rest near 50 %.
* ``loadtests`` follow the Universal Scalability Law with the ``usl`` frame's sigma/kappa.
* ``bad_rows``: exactly three deliberately invalid rows written into one usage CSV.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_END = pd.Timestamp("2026-11-18 00:00")
"""Fixed default end (exclusive): a 14-day horizon from here covers Black Friday 2026."""

SIZES: dict[str, tuple[int, int, str]] = {  # size -> (services, days of history, frequency)
    "small": (6, 365, "h"),
    "medium": (8, 730, "h"),
    "large": (8, 730, "5min"),
}
METRIC_UNITS: dict[str, str] = {
    "cpu": "cores",
    "memory": "GiB",
    "storage": "GiB",
    "network": "Mbps",
    "rps": "req/s",
}
KPIS = ("active_users", "orders", "signups")
USERS_AT_START = 180_000.0
YEARLY_GROWTH = 1.40

# Which file each service's metrics go to; the bad rows go into the first usage group.
USAGE_GROUPS: dict[str, tuple[str, ...]] = {
    "frontend": ("web", "api", "auth"),
    "backend": ("checkout", "worker"),
}
PROMETHEUS_SERVICES = ("search", "catalog")
CLOUDWATCH_SERVICES = ("payments",)
BAD_ROWS_GROUP = "frontend"

_HOUR_PROFILE = np.array(
    [0.55, 0.38, 0.28, 0.22, 0.20, 0.24, 0.38, 0.62, 0.88, 1.05, 1.15, 1.22]
    + [1.30, 1.28, 1.20, 1.17, 1.20, 1.30, 1.45, 1.62, 1.72, 1.60, 1.25, 0.85]
)
_WEEKLY = np.array([1.00, 1.02, 1.01, 0.99, 0.96, 0.86, 0.93])  # Monday .. Sunday


@dataclass(frozen=True)
class _Service:
    name: str
    region: str
    driver: str  # 'users' or 'orders': which KPI the traffic follows
    base_rps: float  # daily mean at the start of the history
    hour_power: float  # how sharp the daily cycle is
    cpu_base: float
    cpu_per_rps: float
    mem_base: float
    mem_per_kuser: float  # GiB per thousand active users
    storage0: float
    fill_per_day: float  # GiB written per day, removed at each cleanup
    cleanup_days: int
    net_per_rps: float  # Mbps per req/s
    cores: int  # per instance
    sizing: str  # 'normal', 'over' (over-provisioned) or 'tight' (runs out of cpu soon)
    target: float  # target utilisation (for 'tight' computed from the data)
    sigma: float  # USL contention
    kappa: float  # USL coherency
    service_time_s: float  # mean latency of one request at low load


_SERVICES: tuple[_Service, ...] = (
    _Service("web", "eu-west-1", "users", 900, 1.0, 2.0, 0.012, 12, 0.05, 80, 0.6, 30, 1.2, 8, "normal", 0.70, 0.03, 0.0004, 0.080),
    _Service("api", "eu-west-1", "users", 2400, 1.0, 3.0, 0.006, 24, 0.08, 40, 0.3, 30, 0.06, 8, "tight", 0.70, 0.02, 0.0003, 0.030),
    _Service("checkout", "eu-west-1", "orders", 90, 1.2, 1.0, 0.05, 6, 0.02, 200, 2.0, 30, 0.05, 4, "normal", 0.65, 0.05, 0.0020, 0.100),
    _Service("search", "eu-west-1", "users", 700, 1.0, 4.0, 0.02, 180, 0.06, 600, 3.0, 14, 0.08, 8, "normal", 0.70, 0.04, 0.0008, 0.050),
    _Service("payments", "us-east-1", "orders", 45, 1.2, 0.5, 0.04, 4, 0.01, 150, 1.5, 30, 0.02, 4, "over", 0.60, 0.06, 0.0010, 0.120),
    _Service("auth", "eu-west-1", "users", 350, 0.8, 1.0, 0.008, 3, 0.02, 20, 0.1, 30, 0.01, 4, "over", 0.75, 0.01, 0.0002, 0.020),
    _Service("catalog", "eu-west-1", "users", 1100, 0.9, 2.0, 0.007, 16, 0.05, 300, 0.8, 60, 0.4, 8, "normal", 0.70, 0.03, 0.0005, 0.040),
    _Service("worker", "eu-central-1", "orders", 150, 0.6, 4.0, 0.03, 8, 0.02, 500, 8.0, 7, 0.2, 16, "normal", 0.75, 0.08, 0.0015, 0.500),
)  # fmt: skip


@dataclass(frozen=True)
class _Event:
    name: str
    kind: str  # launch, campaign, sale, holiday, outage
    start: pd.Timestamp
    end: pd.Timestamp
    services: tuple[str, ...] | str  # '*' for every service
    expected_uplift: float | None = None
    users: float = 1.0  # active-users multiplier inside the window
    conversion: float = 1.0  # orders-per-user multiplier inside the window
    extra: dict[str, float] = field(default_factory=dict)  # per-service traffic multiplier in the window
    step: dict[str, float] = field(default_factory=dict)  # launches: lasting level shift from start
    ramp: dict[str, float] = field(default_factory=dict)  # launches: lasting growth per day from start

    def hits(self, service: str) -> bool:
        return self.services == "*" or service in self.services


@dataclass(frozen=True)
class DemoData:
    """Frames of one demo company; see the module docstring for their invariants."""

    metrics: pd.DataFrame  # ts, service, metric, value, unit, region
    kpis: pd.DataFrame  # ts, kpi, value (daily)
    events: pd.DataFrame  # name, kind, start, end, services (tuple or '*'), expected_uplift (NaN = unknown)
    inventory: pd.DataFrame  # service, resource, capacity_per_instance, unit, instances, ...
    loadtests: pd.DataFrame  # service, instances, concurrency, throughput, latency_p99_ms
    usl: pd.DataFrame  # ground truth: service, sigma, kappa, lam (req/s of one instance), slo_ms
    gaps: pd.DataFrame  # service, metric, start, end (exclusive): windows with no rows
    bad_rows: pd.DataFrame  # ts, service, metric, value, unit, region (as written), problem
    seed: int
    size: str
    end: pd.Timestamp
    freq: str
    services: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# generation (pure)


def generate_demo(seed: int = 7, size: str = "small", end: pd.Timestamp | None = None) -> DemoData:
    """Generate the demo company. Pure and deterministic in ``(seed, size, end)``.

    ``end`` (exclusive, default :data:`DEMO_END`) is floored to the hour; the history covers
    ``SIZES[size]`` days before it.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    n_services, days, freq = SIZES[size]
    end = _normalise_end(DEMO_END if end is None else end)
    start = end - pd.Timedelta(days=days)
    grid = pd.date_range(start, end, freq=freq, inclusive="left")
    services = _SERVICES[:n_services]
    names = tuple(s.name for s in services)
    rng = np.random.default_rng([seed, 0])
    day_noise = np.exp(rng.normal(0.0, 0.03, days + 2))
    events = _calendar(start, end, names)
    events += _outages(rng, start, end, names, events, n=3 if size == "small" else 5)
    gaps = _gap_windows(rng, start, end, names, events)
    series = {s.name: _service_metrics(s, grid, start, events, day_noise, seed) for s in services}
    metrics = _assemble(series, grid, services, gaps)
    inventory, usl = _inventory(metrics, services, end)
    return DemoData(
        metrics=metrics,
        kpis=_kpis(start, end, events, day_noise, rng),
        events=_events_frame(events),
        inventory=inventory,
        loadtests=_loadtests(usl, seed),
        usl=usl,
        gaps=gaps,
        bad_rows=_bad_rows(grid, services),
        seed=seed,
        size=size,
        end=end,
        freq=freq,
        services=names,
    )


def _normalise_end(end: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(end)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.floor("h")


def _black_friday(year: int) -> pd.Timestamp:
    nov1 = pd.Timestamp(year=year, month=11, day=1)
    first_thursday = 1 + (3 - nov1.weekday()) % 7
    return pd.Timestamp(year=year, month=11, day=first_thursday + 22)


def _yearly_events(year: int) -> list[_Event]:
    def d(month: int, day: int) -> pd.Timestamp:
        return pd.Timestamp(year=year, month=month, day=day)

    bf = _black_friday(year)
    cm = bf + pd.Timedelta(days=3)
    one = pd.Timedelta(days=1)
    return [
        _Event("spring_sale", "sale", d(3, 14), d(3, 19), ("web", "api", "checkout", "payments", "worker"), 1.8, 1.3, 1.4),
        _Event("summer_campaign", "campaign", d(7, 1), d(7, 15), ("web", "api", "search", "catalog", "auth"), 1.2, 1.2),
        _Event("back_to_school", "campaign", d(8, 25), d(9, 1), ("web", "api", "checkout", "payments", "catalog"), 1.3, 1.15, 1.1),
        _Event("black_friday", "sale", bf, bf + one, "*", None, 2.4, 2.9, {"web": 2.2, "api": 2.0, "search": 1.3, "catalog": 1.3}),
        _Event("cyber_monday", "sale", cm, cm + one, "*", None, 2.0, 2.4, {"web": 1.6, "api": 1.5}),
        _Event("holiday_season", "holiday", d(12, 1), d(12, 24), "*", 1.3, 1.2, 1.15),
        _Event("christmas", "holiday", d(12, 24), d(12, 27), "*", 0.7, 0.75, 0.8),
    ]  # fmt: skip


def _calendar(start: pd.Timestamp, end: pd.Timestamp, names: tuple[str, ...]) -> list[_Event]:
    """Business events overlapping the history or the 60 days after it, restricted to ``names``."""
    day = end.floor("D")
    week = pd.Timedelta(days=7)
    one_off = [
        _Event("search_v2", "launch", day - pd.Timedelta(days=190), day - pd.Timedelta(days=183),
               ("search", "catalog"), 1.25, step={"search": 1.25, "catalog": 1.1}),
        _Event("mobile_app_v3", "launch", day - pd.Timedelta(days=45), day - pd.Timedelta(days=45) + week,
               ("api", "auth"), None, ramp={"api": 0.010, "auth": 0.004}),
        _Event(f"winter_campaign_{day.year}", "campaign", day + pd.Timedelta(days=3), day + pd.Timedelta(days=10),
               ("web", "api", "checkout"), 1.25, 1.2, 1.05),
    ]  # fmt: skip
    horizon_end = end + pd.Timedelta(days=60)
    events = [e for y in range(start.year, horizon_end.year + 1) for e in _yearly_events(y)] + one_off
    out = []
    for e in events:
        if e.end <= start or e.start >= horizon_end:
            continue
        if e.services != "*":
            kept = tuple(s for s in e.services if s in names)
            if not kept:
                continue
            e = replace(e, services=kept)
        out.append(e)
    return sorted(out, key=lambda e: (e.start, e.name))


def _quiet_days(start: pd.Timestamp, end: pd.Timestamp, events: list[_Event]) -> np.ndarray:
    """Days (as day offsets from ``start``) at least 3 days from any sale or holiday and the edges."""
    days = np.arange(14, (end - start).days - 14)
    dates = start.floor("D") + pd.to_timedelta(days, unit="D")
    ok = np.ones(len(days), dtype=bool)
    pad = pd.Timedelta(days=3)
    for e in events:
        if e.kind in ("sale", "holiday", "launch"):
            ok &= ~((dates >= e.start - pad) & (dates < e.end + pad))
    return days[ok]


def _outages(rng, start, end, names, events, n: int) -> list[_Event]:
    days = np.sort(rng.choice(_quiet_days(start, end, events), size=n, replace=False))
    out = []
    for i, day in enumerate(days):
        t0 = start.floor("D") + pd.Timedelta(days=int(day), hours=int(rng.integers(0, 24)))
        hit = tuple(sorted(rng.choice(names, size=int(rng.integers(1, 3)), replace=False).tolist()))
        dur = pd.Timedelta(hours=int(rng.integers(2, 6)))
        out.append(_Event(f"outage_{t0:%Y%m%d}_{i + 1}", "outage", t0, t0 + dur, hit))
    return out


def _gap_windows(rng, start, end, names, events) -> pd.DataFrame:
    """Missing windows: every metric of an outage's services, plus four single-series scrape gaps."""
    rows = [
        (s, m, e.start, e.end) for e in events if e.kind == "outage" for s in e.services for m in METRIC_UNITS
    ]
    quiet = _quiet_days(start, end, events)
    for day in rng.choice(quiet, size=4, replace=False):
        t0 = start.floor("D") + pd.Timedelta(days=int(day), hours=int(rng.integers(0, 24)))
        service, metric = str(rng.choice(names)), str(rng.choice(list(METRIC_UNITS)))
        rows.append((service, metric, t0, t0 + pd.Timedelta(hours=int(rng.integers(1, 4)))))
    gaps = pd.DataFrame(rows, columns=["service", "metric", "start", "end"])
    return gaps.sort_values(["service", "metric", "start"], ignore_index=True)


def _window(times: pd.DatetimeIndex, t0: pd.Timestamp, t1: pd.Timestamp) -> slice:
    return slice(times.searchsorted(t0, "left"), times.searchsorted(t1, "left"))


def _demand(times: pd.DatetimeIndex, start, events, day_noise, service: _Service | None) -> np.ndarray:
    """Relative demand at ``times``: growth x weekday x day noise x event effects.

    ``service=None`` gives the active-users level (every window event's ``users`` applies);
    otherwise only events that hit the service apply, with conversion for order-driven services,
    per-service extras, and launch steps / ramps.
    """
    origin = start.floor("D")
    days = ((times - origin) / pd.Timedelta(days=1)).to_numpy()
    level = YEARLY_GROWTH ** (days / 365.25) * _WEEKLY[times.day_of_week] * day_noise[days.astype(int)]
    for e in events:
        if e.kind == "outage" or (service is not None and not e.hits(service.name)):
            continue
        w = _window(times, e.start, e.end)
        level[w] *= e.users
        if service is None:
            continue
        if service.driver == "orders":
            level[w] *= e.conversion
        level[w] *= e.extra.get(service.name, 1.0)
        after = slice(w.start, None)
        level[after] *= e.step.get(service.name, 1.0)
        if service.name in e.ramp:
            since = days[after] - (e.start - origin) / pd.Timedelta(days=1)
            level[after] *= 1.0 + e.ramp[service.name] * since
    return level


def _hour_shape(times: pd.DatetimeIndex, power: float) -> np.ndarray:
    """Time-of-day profile with mean 1; ``power`` sharpens (>1) or flattens (<1) it."""
    table = _HOUR_PROFILE**power
    table = table / table.mean()
    hours = (times.hour + times.minute / 60.0).to_numpy()
    return np.interp(hours, np.arange(25), np.append(table, table[0]))


def _service_metrics(s: _Service, grid, start, events, day_noise, seed: int) -> dict[str, np.ndarray]:
    """The five metrics of one service on ``grid`` (no gaps yet), rounded, nonnegative."""
    rng = np.random.default_rng([seed, 1, _SERVICES.index(s)])
    n = len(grid)
    demand = _demand(grid, start, events, day_noise, s)
    shape = _hour_shape(grid, s.hour_power)
    rps = s.base_rps * demand * shape * (1 + rng.normal(0, 0.04, n))
    users_k = USERS_AT_START / 1000.0 * demand * (0.8 + 0.2 * shape)
    days = ((grid - start) / pd.Timedelta(days=1)).to_numpy()
    fill = s.fill_per_day * (days % s.cleanup_days) * YEARLY_GROWTH ** (days / 365.25)
    out = {
        "cpu": s.cpu_base * (1 + rng.normal(0, 0.05, n)) + s.cpu_per_rps * rps * (1 + rng.normal(0, 0.03, n)),
        "memory": (s.mem_base + s.mem_per_kuser * users_k) * (1 + rng.normal(0, 0.015, n)),
        "storage": (s.storage0 * (1 + 0.6 * days / 365.25) + fill) * (1 + rng.normal(0, 0.002, n)),
        "network": 0.5 + s.net_per_rps * rps * (1 + rng.normal(0, 0.04, n)),
        "rps": rps,
    }
    return {m: np.round(np.clip(v, 0.0, None), 3) for m, v in out.items()}


def _assemble(series, grid, services, gaps: pd.DataFrame) -> pd.DataFrame:
    """One long frame sorted by service, metric, ts; rows inside ``gaps`` dropped."""
    names = [s.name for s in services]
    metrics = list(METRIC_UNITS)
    idx, svc, met, vals = [], [], [], []
    for i, s in enumerate(names):
        for j, m in enumerate(metrics):
            keep = np.ones(len(grid), dtype=bool)
            for g in gaps[(gaps.service == s) & (gaps.metric == m)].itertuples():
                keep[_window(grid, g.start, g.end)] = False
            pos = np.flatnonzero(keep)
            idx.append(pos)
            svc.append(np.full(len(pos), i, dtype=np.int8))
            met.append(np.full(len(pos), j, dtype=np.int8))
            vals.append(series[s][m][pos])
    svc_codes, met_codes = np.concatenate(svc), np.concatenate(met)
    regions = sorted({s.region for s in services})
    units = sorted(set(METRIC_UNITS.values()))
    unit_of = np.array([units.index(METRIC_UNITS[m]) for m in metrics], dtype=np.int8)
    region_of = np.array([regions.index(s.region) for s in services], dtype=np.int8)
    return pd.DataFrame(
        {
            "ts": grid.to_numpy()[np.concatenate(idx)],
            "service": pd.Categorical.from_codes(svc_codes, names),
            "metric": pd.Categorical.from_codes(met_codes, metrics),
            "value": np.concatenate(vals),
            "unit": pd.Categorical.from_codes(unit_of[met_codes], units),
            "region": pd.Categorical.from_codes(region_of[svc_codes], regions),
        }
    )


def _kpis(start, end, events, day_noise, rng) -> pd.DataFrame:
    """Daily active_users, orders and signups, consistent with the traffic drivers."""
    days = pd.date_range(start.floor("D"), end, freq="D", inclusive="left")
    users = USERS_AT_START * _demand(days, start, events, day_noise, None)
    conv = np.ones(len(days))
    for e in events:
        conv[_window(days, e.start, e.end)] *= e.conversion
    boost = users / (USERS_AT_START * YEARLY_GROWTH ** (np.arange(len(days)) / 365.25))
    values = {
        "active_users": users,
        "orders": users * 0.028 * conv * (1 + rng.normal(0, 0.03, len(days))),
        "signups": users * 0.0035 * boost**1.5 * (1 + rng.normal(0, 0.08, len(days))),
    }
    n = len(days)
    return pd.DataFrame(
        {
            "ts": np.tile(days.to_numpy(), len(KPIS)),
            "kpi": np.repeat(KPIS, n),
            "value": np.concatenate([np.round(np.clip(values[k], 0, None)) for k in KPIS]),
        }
    )


def _events_frame(events: list[_Event]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [e.name for e in events],
            "kind": [e.kind for e in events],
            "start": pd.DatetimeIndex([e.start for e in events]),
            "end": pd.DatetimeIndex([e.end for e in events]),
            "services": [e.services for e in events],
            "expected_uplift": [np.nan if e.expected_uplift is None else e.expected_uplift for e in events],
        }
    )


# --------------------------------------------------------------------------------------------
# inventory and load tests


def _usl(n: np.ndarray | float, sigma: float, kappa: float) -> np.ndarray | float:
    """Relative throughput of n instances: n / (1 + sigma (n-1) + kappa n (n-1))."""
    return n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def _nice(x: float, choices: tuple[float, ...]) -> float:
    for c in choices:
        if c >= x:
            return c
    return float(math.ceil(x / choices[-1]) * choices[-1])


_FAMILIES = ((2, "c6i", 0.0425), (4, "m6i", 0.048), (8, "r6i", 0.063), (16, "x2idn", 0.104))
_SIZE_NAMES = {2: "large", 4: "xlarge", 8: "2xlarge", 16: "4xlarge"}


def _size_service(s: _Service, peak: dict[str, float]) -> list[dict]:
    """Inventory rows (one per resource) for one service from its recent peaks."""
    if s.sizing == "tight":  # peak at 92 % of the n+1 cpu target
        instances = math.ceil(peak["cpu"] / (s.cores * 0.92 * s.target)) + 1
        target = float(np.clip(round(peak["cpu"] / ((instances - 1) * s.cores * 0.92), 2), 0.6, 0.75))
        rps_util = 0.5
    else:
        util = 0.15 if s.sizing == "over" else 0.5
        instances = max(3, math.ceil(peak["cpu"] / (s.cores * util)))
        target, rps_util = s.target, util
    gib_per_core, family, rate = next(
        (g, f, r) for g, f, r in _FAMILIES if peak["memory"] / (instances * s.cores * g) <= 0.6 or g == 16
    )
    lam = math.ceil(peak["rps"] / (rps_util * _usl(instances, s.sigma, s.kappa)))
    capacity = {
        "cpu": float(s.cores),
        "memory": float(s.cores * gib_per_core),
        "storage": _nice(peak["storage"] / (instances * 0.6), (50, 100, 200, 250, 500, 1000, 2000, 4000)),
        "network": _nice(peak["network"] / (instances * 0.5), (1000, 2500, 5000, 10000, 12500, 25000)),
        "rps": float(lam),
    }
    max_instances = 2 * instances if s.sizing == "tight" else max(3 * instances, instances + 2)
    return [
        {
            "service": s.name,
            "resource": r,
            "capacity_per_instance": capacity[r],
            "unit": METRIC_UNITS[r],
            "instances": instances,
            "target_utilization": target,
            "max_instances": max_instances,
            "cost_per_instance_hour": round(s.cores * rate, 4),
            "instance_type": f"{family}.{_SIZE_NAMES[s.cores]}",
        }
        for r in METRIC_UNITS
    ]


def _inventory(metrics: pd.DataFrame, services, end) -> tuple[pd.DataFrame, pd.DataFrame]:
    recent = metrics[metrics.ts >= end - pd.Timedelta(days=7)]
    peaks = recent.groupby(["service", "metric"], observed=True)["value"].max()
    rows, usl = [], []
    for s in services:
        sized = _size_service(s, {m: float(peaks[(s.name, m)]) for m in METRIC_UNITS})
        rows += sized
        lam, instances = sized[-1]["capacity_per_instance"], sized[0]["instances"]
        n_slo = min(32, 3 * instances)
        p99 = 3000.0 * s.service_time_s * (1 + s.sigma * (n_slo - 1) + s.kappa * n_slo * (n_slo - 1))
        usl.append((s.name, s.sigma, s.kappa, lam, s.service_time_s, float(math.ceil(p99 / 10) * 10)))
    cols = ["service", "sigma", "kappa", "lam", "service_time_s", "slo_ms"]
    return pd.DataFrame(rows), pd.DataFrame(usl, columns=cols)


def _loadtests(usl: pd.DataFrame, seed: int) -> pd.DataFrame:
    """USL load-test curves, 1..32 instances; concurrency per instance fixed at lam x service time.

    By Little's law mean latency = concurrency / throughput; p99 is taken as 3x the mean.
    """
    rng = np.random.default_rng([seed, 2])
    n = np.arange(1, 33)
    parts = []
    for u in usl.itertuples():
        per_instance = max(1, round(u.lam * u.service_time_s))
        concurrency = per_instance * n
        throughput = u.lam * _usl(n, u.sigma, u.kappa) * (1 + rng.normal(0, 0.02, len(n)))
        latency = 3000.0 * concurrency / throughput * (1 + rng.normal(0, 0.04, len(n)))
        parts.append(
            pd.DataFrame(
                {
                    "service": u.service,
                    "instances": n,
                    "concurrency": concurrency,
                    "throughput": np.round(throughput, 2),
                    "latency_p99_ms": np.round(latency, 1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _bad_rows(grid: pd.DatetimeIndex, services) -> pd.DataFrame:
    """Three invalid rows (as written) for the quarantine: negative cpu, bad ts, empty service."""
    s = next(x for x in services if x.name in USAGE_GROUPS[BAD_ROWS_GROUP])
    before = _iso_z(np.array([grid[0] - pd.Timedelta(hours=1)], dtype="datetime64[ns]"))[0]
    mid = _iso_z(np.array([grid[len(grid) // 2]], dtype="datetime64[ns]"))[0]
    rows = [
        (before, s.name, "cpu", -2.5, "cores", s.region, "negative value"),
        ("2026-13-01T00:00:00Z", s.name, "cpu", 4.2, "cores", s.region, "unparseable timestamp"),
        (mid, "", "cpu", 4.2, "cores", s.region, "empty service"),
    ]
    return pd.DataFrame(rows, columns=["ts", "service", "metric", "value", "unit", "region", "problem"])


# --------------------------------------------------------------------------------------------
# writing


def _iso_z(ts: np.ndarray) -> np.ndarray:
    """datetime64 -> '2025-11-01T00:00:00Z' strings (vectorised)."""
    return np.datetime_as_string(ts.astype("datetime64[s]"), unit="s", timezone="UTC")


def _epoch_s(ts: np.ndarray) -> np.ndarray:
    return ts.astype("datetime64[s]").astype(np.int64)


def _layout(services: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """File stem -> services it holds, for the services present."""
    out = {f"usage_{g}": tuple(s for s in members if s in services) for g, members in USAGE_GROUPS.items()}
    out |= {f"prometheus_{s}": (s,) for s in PROMETHEUS_SERVICES if s in services}
    out |= {f"cloudwatch_{s}": (s,) for s in CLOUDWATCH_SERVICES if s in services}
    return {k: v for k, v in out.items() if v}


def _usage_csv(metrics: pd.DataFrame, bad: pd.DataFrame | None) -> pd.DataFrame:
    """Rows ordered by ts, service, metric, as an exporter streams them; ``bad`` rows spliced in."""
    order = np.lexsort((metrics.metric.cat.codes, metrics.service.cat.codes, metrics.ts.to_numpy()))
    m = metrics.iloc[order]
    frame = pd.DataFrame(
        {
            "ts": _iso_z(m.ts.to_numpy()),
            "service": m.service.astype(str).to_numpy(),
            "metric": m.metric.astype(str).to_numpy(),
            "value": m.value.to_numpy(),
            "unit": m.unit.astype(str).to_numpy(),
            "region": m.region.astype(str).to_numpy(),
        }
    )
    if bad is None or bad.empty:
        return frame
    cuts = [len(frame) * (i + 1) // (len(bad) + 1) for i in range(len(bad))]
    parts, prev = [], 0
    for cut, (_, row) in zip(cuts, bad.drop(columns="problem").iterrows(), strict=True):
        parts += [frame.iloc[prev:cut], row.to_frame().T]
        prev = cut
    parts.append(frame.iloc[prev:])
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(float)
    return out


def _prometheus_doc(metrics: pd.DataFrame, service: str) -> dict:
    result = []
    for metric, g in metrics.groupby("metric", observed=True, sort=False):
        pairs = zip(_epoch_s(g.ts.to_numpy()).tolist(), g.value.to_numpy().astype(str).tolist(), strict=True)
        labels = {
            "__name__": str(metric),
            "service": service,
            "region": str(g.region.iloc[0]),
            "job": service,
        }
        result.append({"metric": labels, "values": list(pairs)})
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def _cloudwatch_doc(metrics: pd.DataFrame, service: str) -> dict:
    results = []
    for i, (metric, g) in enumerate(metrics.groupby("metric", observed=True, sort=False)):
        g = g.sort_values("ts", ascending=False)  # CloudWatch returns newest first
        stamps = np.char.add(
            np.datetime_as_string(g.ts.to_numpy().astype("datetime64[s]"), unit="s"), "+00:00"
        )
        results.append(
            {
                "Id": f"m{i + 1}",
                "Label": f"{service}:{metric}",
                "Timestamps": stamps.tolist(),
                "Values": g.value.tolist(),
                "StatusCode": "Complete",
            }
        )
    return {"MetricDataResults": results, "Messages": []}


def _write_metrics(data: DemoData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    metrics = data.metrics
    for stem, services in _layout(data.services).items():
        part = metrics[metrics.service.isin(services)]
        path = folder / (stem + (".csv" if stem.startswith("usage_") else ".json"))
        if stem.startswith("usage_"):
            bad = data.bad_rows if stem == f"usage_{BAD_ROWS_GROUP}" else None
            _usage_csv(part, bad).to_csv(path, index=False)
        else:
            doc = (_prometheus_doc if stem.startswith("prometheus_") else _cloudwatch_doc)(part, services[0])
            path.write_text(json.dumps(doc, separators=(",", ":")))


def _write_tables(data: DemoData, out: Path) -> None:
    kpis = data.kpis.assign(ts=_iso_z(data.kpis.ts.to_numpy()))
    kpis.to_csv(out / "kpis.csv", index=False, float_format="%.10g")
    ev = data.events
    events = ev.assign(
        start=_iso_z(ev.start.to_numpy()),
        end=_iso_z(ev.end.to_numpy()),
        services=[s if s == "*" else ";".join(s) for s in ev.services],
    )
    events.to_csv(out / "events.csv", index=False, float_format="%.10g")
    data.inventory.to_csv(out / "inventory.csv", index=False, float_format="%.10g")
    data.loadtests.to_csv(out / "loadtests.csv", index=False, float_format="%.10g")


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table(header: str, items: dict) -> str:
    return "\n".join([f"[{header}]", *(f"{k} = {_toml(v)}" for k, v in items.items())]) + "\n"


def _sources(data: DemoData) -> list[dict]:
    layout = _layout(data.services)
    out = [{"name": "usage_csv", "kind": "metrics", "path": "metrics/usage_*.csv", "format": "csv"}]
    if any(k.startswith("prometheus_") for k in layout):
        out.append(
            {"name": "prometheus", "kind": "metrics", "path": "metrics/prometheus_*.json", "format": "prometheus",
             "service_label": "service", "metric_label": "__name__", "region_label": "region"}
        )  # fmt: skip
    for s in CLOUDWATCH_SERVICES:
        if s in data.services:
            region = next(x.region for x in _SERVICES if x.name == s)
            out.append(
                {"name": f"cloudwatch_{s}", "kind": "metrics", "path": f"metrics/cloudwatch_{s}.json",
                 "format": "cloudwatch", "label_separator": ":", "region": region}
            )  # fmt: skip
    for kind in ("kpis", "events", "inventory", "loadtests"):
        out.append({"name": kind, "kind": kind, "path": f"{kind}.csv", "format": "csv"})
    return out


def demo_config_text(data: DemoData, warehouse_path: str = "data/warehouse.duckdb") -> str:
    """The demo ``capplan.toml`` (loads with :func:`capplan.core.config.load_config`)."""
    head = (
        f"# capplan demo configuration: generated by `capplan demo` (seed {data.seed}, size {data.size!r}).\n"
        "# Relative paths resolve against this file's folder.\n\n"
    )
    blocks = [_table("warehouse", {"path": warehouse_path})]
    blocks += [_table("[sources]", s) for s in _sources(data)]
    blocks.append(
        _table(
            "forecast",
            {
                "horizon": "14D",
                "frequency": "h",
                "quantiles": [0.1, 0.5, 0.9, 0.95, 0.99],
                "models": ["seasonal_naive", "seasonal_profile", "theta", "lightgbm", "nhits", "ensemble"],
                "torch_epochs": 3,
                "train_window": "60D",
                "seed": 42,
            },
        )
    )
    blocks.append(_table("forecast.backtest", {"folds": 2}))
    slo = {r.service: r.slo_ms for r in data.usl.itertuples()}
    blocks.append(
        _table(
            "planning",
            {"redundancy": "n+1", "zones": 3, "headroom": 0.10, "runway_alert_days": 30.0,
             "rightsizing_utilization": 0.4, "rightsizing_window_days": 28, "latency_slo_ms": slo},
        )
    )  # fmt: skip
    scenarios = {
        "conservative": {"quantile": 0.9, "description": "upper forecast band, business as planned"},
        "expected": {"quantile": 0.5, "description": "median forecast"},
        "aggressive": {
            "quantile": 0.95,
            "demand_multiplier": 1.15,
            "description": "p95 and 15% extra growth",
        },
        "black_friday": {
            "quantile": 0.9,
            "kpi_growth": {"active_users": 0.05, "orders": 0.10},
            "event_uplift": {"black_friday": 6.0, "cyber_monday": 5.0},
            "description": "Black Friday at 6x and Cyber Monday at 5x normal demand, users +5%, orders +10%",
        },
    }
    blocks += [_table(f"scenarios.{name}", s) for name, s in scenarios.items()]
    blocks.append(
        _table(
            "mlflow",
            {"tracking_uri": "sqlite:///mlruns/mlflow.db", "artifact_location": "mlruns/artifacts",
             "experiment": "capplan-demo"},
        )
    )  # fmt: skip
    blocks.append(_table("export", {"out_dir": "exports", "formats": ["xlsx", "csv", "html"]}))
    return head + "\n".join(blocks)


def write_demo(data: DemoData, out_dir: Path, *, warehouse_path: str = "data/warehouse.duckdb") -> Path:
    """Write every demo file under ``out_dir`` and return the path of the written ``capplan.toml``.

    ``warehouse_path`` is written as given (relative paths resolve against ``out_dir``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_metrics(data, out / "metrics")
    _write_tables(data, out)
    config = out / "capplan.toml"
    config.write_text(demo_config_text(data, warehouse_path))
    return config


def write_metrics_parquet(data: DemoData, path: Path) -> Path:
    """Write the long metrics frame (``ts`` as UTC timestamps, plain string columns) to one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    m = data.metrics
    table = pa.table(
        {
            "ts": pa.array(m.ts.to_numpy().astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC")),
            **{c: pa.DictionaryArray.from_arrays(m[c].cat.codes.to_numpy(), list(m[c].cat.categories)).cast(pa.string())
               for c in ("service", "metric")},
            "value": pa.array(m.value.to_numpy()),
            **{c: pa.DictionaryArray.from_arrays(m[c].cat.codes.to_numpy(), list(m[c].cat.categories)).cast(pa.string())
               for c in ("unit", "region")},
        }
    )  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


__all__ = [
    "DEMO_END",
    "SIZES",
    "DemoData",
    "generate_demo",
    "write_demo",
    "write_metrics_parquet",
    "demo_config_text",
]
