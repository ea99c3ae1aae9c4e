"""The demo company's time series: per-service metrics and daily KPIs, from the events calendar.

Traffic is KPI-driven growth x weekday x day noise x event effects x a time-of-day profile; the
other metrics follow traffic (cpu, network), active users (memory) or a fill-and-clean cycle
(storage).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .company import KPIS, METRIC_UNITS, SERVICES, USERS_AT_START, YEARLY_GROWTH, Event, Service

_HOUR_PROFILE = np.array(
    [0.55, 0.38, 0.28, 0.22, 0.20, 0.24, 0.38, 0.62, 0.88, 1.05, 1.15, 1.22]
    + [1.30, 1.28, 1.20, 1.17, 1.20, 1.30, 1.45, 1.62, 1.72, 1.60, 1.25, 0.85]
)
_WEEKLY = np.array([1.00, 1.02, 1.01, 0.99, 0.96, 0.86, 0.93])  # Monday .. Sunday


def window(times: pd.DatetimeIndex, t0: pd.Timestamp, t1: pd.Timestamp) -> slice:
    return slice(times.searchsorted(t0, "left"), times.searchsorted(t1, "left"))


def _demand(
    times: pd.DatetimeIndex, start, events: list[Event], day_noise, service: Service | None
) -> np.ndarray:
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
        w = window(times, e.start, e.end)
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


def service_metrics(s: Service, grid, start, events, day_noise, seed: int) -> dict[str, np.ndarray]:
    """The five metrics of one service on ``grid`` (no gaps yet), rounded, nonnegative."""
    rng = np.random.default_rng([seed, 1, SERVICES.index(s)])
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


def assemble(series, grid, services, gaps: pd.DataFrame) -> pd.DataFrame:
    """One long frame sorted by service, metric, ts; rows inside ``gaps`` dropped."""
    names = [s.name for s in services]
    metrics = list(METRIC_UNITS)
    idx, svc, met, vals = [], [], [], []
    for i, s in enumerate(names):
        for j, m in enumerate(metrics):
            keep = np.ones(len(grid), dtype=bool)
            for g in gaps[(gaps.service == s) & (gaps.metric == m)].itertuples():
                keep[window(grid, g.start, g.end)] = False
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


def kpis(start, end, events, day_noise, rng) -> pd.DataFrame:
    """Daily active_users, orders and signups, consistent with the traffic drivers."""
    days = pd.date_range(start.floor("D"), end, freq="D", inclusive="left")
    users = USERS_AT_START * _demand(days, start, events, day_noise, None)
    conv = np.ones(len(days))
    for e in events:
        conv[window(days, e.start, e.end)] *= e.conversion
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
