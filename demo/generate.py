"""``generate_demo``: the demo company's frames, pure and deterministic in ``(seed, size, end)``.

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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import inventory as _inventory
from . import series as _series
from .company import (
    BAD_ROWS_GROUP,
    DEMO_END,
    SERVICES,
    SIZES,
    USAGE_GROUPS,
    calendar,
    events_frame,
    gap_windows,
    outages,
)

_ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


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
    services = SERVICES[:n_services]
    names = tuple(s.name for s in services)
    rng = np.random.default_rng([seed, 0])
    day_noise = np.exp(rng.normal(0.0, 0.03, days + 2))
    events = calendar(start, end, names)
    events += outages(rng, start, end, names, events, n=3 if size == "small" else 5)
    gaps = gap_windows(rng, start, end, names, events)
    series = {s.name: _series.service_metrics(s, grid, start, events, day_noise, seed) for s in services}
    metrics = _series.assemble(series, grid, services, gaps)
    inventory, usl = _inventory.inventory(metrics, services, end)
    return DemoData(
        metrics=metrics,
        kpis=_series.kpis(start, end, events, day_noise, rng),
        events=events_frame(events),
        inventory=inventory,
        loadtests=_inventory.loadtests(usl, seed),
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


def _bad_rows(grid: pd.DatetimeIndex, services) -> pd.DataFrame:
    """Three invalid rows (as written) for the quarantine: negative cpu, bad ts, empty service."""
    s = next(x for x in services if x.name in USAGE_GROUPS[BAD_ROWS_GROUP])
    before = (grid[0] - pd.Timedelta(hours=1)).strftime(_ISO_Z)
    mid = grid[len(grid) // 2].strftime(_ISO_Z)
    rows = [
        (before, s.name, "cpu", -2.5, "cores", s.region, "negative value"),
        ("2026-13-01T00:00:00Z", s.name, "cpu", 4.2, "cores", s.region, "unparseable timestamp"),
        (mid, "", "cpu", 4.2, "cores", s.region, "empty service"),
    ]
    return pd.DataFrame(rows, columns=["ts", "service", "metric", "value", "unit", "region", "problem"])
