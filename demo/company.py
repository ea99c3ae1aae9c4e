"""The demo company's fixed definition: services, metrics, business events, outages and gaps.

Everything here is data or a pure function of ``(start, end, rng)``; the signal built from it is
in :mod:`.series`, the sizing in :mod:`.inventory`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

DEMO_END = pd.Timestamp("2026-11-18 00:00")
"""Fixed default end (exclusive): a 14-day horizon from here covers Black Friday 2026."""

SIZES: dict[str, tuple[int, int, str]] = {  # size -> (services, days of history, frequency)
    "small": (6, 730, "h"),  # two years: the long-range plan's trend, yearly shape and last two Black Fridays
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
CALENDAR_AHEAD_DAYS = 400  # the events file lists next year's events too (the long-range plan's horizon)
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


@dataclass(frozen=True)
class Service:
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


SERVICES: tuple[Service, ...] = (
    Service("web", "eu-west-1", "users", 900, 1.0, 2.0, 0.012, 12, 0.05, 80, 0.6, 30, 1.2, 8, "normal", 0.70, 0.03, 0.0004, 0.080),
    Service("api", "eu-west-1", "users", 2400, 1.0, 3.0, 0.006, 24, 0.08, 40, 0.3, 30, 0.06, 8, "tight", 0.70, 0.02, 0.0003, 0.030),
    Service("checkout", "eu-west-1", "orders", 90, 1.2, 1.0, 0.05, 6, 0.02, 200, 2.0, 30, 0.05, 4, "normal", 0.65, 0.05, 0.0020, 0.100),
    Service("search", "eu-west-1", "users", 700, 1.0, 4.0, 0.02, 180, 0.06, 600, 3.0, 14, 0.08, 8, "normal", 0.70, 0.04, 0.0008, 0.050),
    Service("payments", "us-east-1", "orders", 45, 1.2, 0.5, 0.04, 4, 0.01, 150, 1.5, 30, 0.02, 4, "over", 0.60, 0.06, 0.0010, 0.120),
    Service("auth", "eu-west-1", "users", 350, 0.8, 1.0, 0.008, 3, 0.02, 20, 0.1, 30, 0.01, 4, "over", 0.75, 0.01, 0.0002, 0.020),
    Service("catalog", "eu-west-1", "users", 1100, 0.9, 2.0, 0.007, 16, 0.05, 300, 0.8, 60, 0.4, 8, "normal", 0.70, 0.03, 0.0005, 0.040),
    Service("worker", "eu-central-1", "orders", 150, 0.6, 4.0, 0.03, 8, 0.02, 500, 8.0, 7, 0.2, 16, "normal", 0.75, 0.08, 0.0015, 0.500),
)  # fmt: skip


def region_of(service: str) -> str:
    return next(s.region for s in SERVICES if s.name == service)


def file_layout(services: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """File stem -> services it holds, for the services present."""
    out = {f"usage_{g}": tuple(s for s in members if s in services) for g, members in USAGE_GROUPS.items()}
    out |= {f"prometheus_{s}": (s,) for s in PROMETHEUS_SERVICES if s in services}
    out |= {f"cloudwatch_{s}": (s,) for s in CLOUDWATCH_SERVICES if s in services}
    return {k: v for k, v in out.items() if v}


# --------------------------------------------------------------------------------------------
# events


@dataclass(frozen=True)
class Event:
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


def _black_friday(year: int) -> pd.Timestamp:
    nov1 = pd.Timestamp(year=year, month=11, day=1)
    first_thursday = 1 + (3 - nov1.weekday()) % 7
    return pd.Timestamp(year=year, month=11, day=first_thursday + 22)


def _yearly_events(year: int) -> list[Event]:
    def d(month: int, day: int) -> pd.Timestamp:
        return pd.Timestamp(year=year, month=month, day=day)

    bf = _black_friday(year)
    cm = bf + pd.Timedelta(days=3)
    one = pd.Timedelta(days=1)
    return [
        Event("spring_sale", "sale", d(3, 14), d(3, 19), ("web", "api", "checkout", "payments", "worker"), 1.8, 1.3, 1.4),
        Event("summer_campaign", "campaign", d(7, 1), d(7, 15), ("web", "api", "search", "catalog", "auth"), 1.2, 1.2),
        Event("back_to_school", "campaign", d(8, 25), d(9, 1), ("web", "api", "checkout", "payments", "catalog"), 1.3, 1.15, 1.1),
        Event("black_friday", "sale", bf, bf + one, "*", None, 2.4, 2.9, {"web": 2.2, "api": 2.0, "search": 1.3, "catalog": 1.3}),
        Event("cyber_monday", "sale", cm, cm + one, "*", None, 2.0, 2.4, {"web": 1.6, "api": 1.5}),
        Event("holiday_season", "holiday", d(12, 1), d(12, 24), "*", 1.3, 1.2, 1.15),
        Event("christmas", "holiday", d(12, 24), d(12, 27), "*", 0.7, 0.75, 0.8),
    ]  # fmt: skip


def calendar(start: pd.Timestamp, end: pd.Timestamp, names: tuple[str, ...]) -> list[Event]:
    """Business events overlapping the history or the :data:`CALENDAR_AHEAD_DAYS` after it (next year's
    Black Friday is inside the long-range plan), restricted to ``names``."""
    day = end.floor("D")
    week = pd.Timedelta(days=7)
    one_off = [
        Event("search_v2", "launch", day - pd.Timedelta(days=190), day - pd.Timedelta(days=183),
              ("search", "catalog"), 1.25, step={"search": 1.25, "catalog": 1.1}),
        Event("mobile_app_v3", "launch", day - pd.Timedelta(days=45), day - pd.Timedelta(days=45) + week,
              ("api", "auth"), None, ramp={"api": 0.010, "auth": 0.004}),
        Event(f"winter_campaign_{day.year}", "campaign", day + pd.Timedelta(days=3), day + pd.Timedelta(days=10),
              ("web", "api", "checkout"), 1.25, 1.2, 1.05),
    ]  # fmt: skip
    horizon_end = end + pd.Timedelta(days=CALENDAR_AHEAD_DAYS)
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


def _quiet_days(start: pd.Timestamp, end: pd.Timestamp, events: list[Event]) -> np.ndarray:
    """Days (as day offsets from ``start``) at least 3 days from any sale or holiday and the edges."""
    days = np.arange(14, (end - start).days - 14)
    dates = start.floor("D") + pd.to_timedelta(days, unit="D")
    ok = np.ones(len(days), dtype=bool)
    pad = pd.Timedelta(days=3)
    for e in events:
        if e.kind in ("sale", "holiday", "launch"):
            ok &= ~((dates >= e.start - pad) & (dates < e.end + pad))
    return days[ok]


def outages(rng, start, end, names, events, n: int) -> list[Event]:
    days = np.sort(rng.choice(_quiet_days(start, end, events), size=n, replace=False))
    out = []
    for i, day in enumerate(days):
        t0 = start.floor("D") + pd.Timedelta(days=int(day), hours=int(rng.integers(0, 24)))
        hit = tuple(sorted(rng.choice(names, size=int(rng.integers(1, 3)), replace=False).tolist()))
        dur = pd.Timedelta(hours=int(rng.integers(2, 6)))
        out.append(Event(f"outage_{t0:%Y%m%d}_{i + 1}", "outage", t0, t0 + dur, hit))
    return out


def gap_windows(rng, start, end, names, events) -> pd.DataFrame:
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


def events_frame(events: list[Event]) -> pd.DataFrame:
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
