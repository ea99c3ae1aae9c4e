"""The long-range plan: daily peaks projected months ahead, per ``service, resource``, and its score.

Beside the operational horizon (the published forecast, hours to weeks), the long-range plan
projects each service/resource's **daily peaks** (regions summed: they are assumed to peak
together) for ``[planning] long_range_months`` months (0: none) at ``long_range_resolution``
(``weekly`` keeps each week's peak). Pure functions over frames.

Model (the ``model`` column names it):

* traffic-like resources (cpu, memory, network, rps): ``log y = a + b t + weekday + yearly``,
  fitted by Huber-weighted least squares (robust: a spike or an outage barely moves it). The
  yearly shape (3 Fourier pairs) is fitted only with at least :data:`YEARLY_MIN_DAYS` days of
  history; days inside past calendar events (sales and outages) are left out of the fit, events
  are added back as uplifts;
* storage is cumulative: a robust *linear* growth curve ``y = a + b t`` (no weekday, no yearly
  shape, no event uplift); the sizing turns it into volume steps of ``capacity_per_instance``.

Intervals widen with the horizon: the residual spread ``s`` (1.4826 x MAD) grows as
``s_h = s sqrt(1 + h / WIDEN_DAYS)`` for ``h`` days past the last fitted day, and quantile ``q`` is
``exp(mu + z_q s_h)`` (``mu + z_q s_h`` for storage, floored at 0).

Scenarios act as on the short horizon: the quantile (and its neighbours, ``demand_low`` /
``demand_high``), ``demand_multiplier``, the KPI growth path ``kpi_growth_per_quarter``
(compounded per quarter from ``as_of``, moved into demand by the driver model of
:mod:`.drivers`: ``+ b_k level_k (G_k(t) - 1)``, on top of the trend) and the calendar's events
inside the horizon with the same uplift precedence as the short horizon (scenario, event,
learned: next year's Black Friday takes last year's learned ratio).

Scoring (:func:`score_long_range`): hold out the last :data:`BACKTEST_DAYS` days of daily peaks,
project from before, MASE against the weekly seasonal naive (in-sample scale) and the coverage of
the outer quantiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from capplan.core.contracts import quantile_from_col
from capplan.core.errors import CapplanError

from ._common import require_columns
from .drivers import daily_kpis, fit_driver_model

WIDEN_DAYS = 30.0
MIN_DAYS = 28
YEARLY_MIN_DAYS = 365
FOURIER_K = 3
BACKTEST_DAYS = 90
QUARTER_DAYS = 365.25 / 4
DAYS_PER_MONTH = 365.25 / 12
CUMULATIVE = ("storage",)
MODEL_LOG = "trend+seasonal (robust log-linear)"
MODEL_STORAGE = "growth curve (robust linear, cumulative)"
KEYS = ["service", "resource"]
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class TrendFit:
    """One series' fitted long-range model (see the module docstring)."""

    coef: np.ndarray
    origin: pd.Timestamp  # t = 0 (first fitted day)
    last_day: pd.Timestamp
    cumulative: bool
    yearly: bool
    sigma: float  # residual spread (log units, or resource units when cumulative)
    n_days: int

    @property
    def model(self) -> str:
        if self.cumulative:
            return MODEL_STORAGE
        return MODEL_LOG + (" + yearly" if self.yearly else "")

    @property
    def slope(self) -> float:
        """Growth per day: log units (traffic) or resource units (storage)."""
        return float(self.coef[1])


def _design(t: np.ndarray, dow: np.ndarray, cumulative: bool, yearly: bool) -> np.ndarray:
    cols = [np.ones_like(t), t]
    if not cumulative:
        cols += [(dow == d).astype(float) for d in range(1, 7)]
        if yearly:
            for k in range(1, FOURIER_K + 1):
                w = 2 * np.pi * k * t / 365.25
                cols += [np.sin(w), np.cos(w)]
    return np.column_stack(cols)


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares by the normal equations (a few columns, hundreds of rows)."""
    xw = x * w[:, None]
    a = xw.T @ x
    try:
        return np.linalg.solve(a, xw.T @ y)
    except np.linalg.LinAlgError:  # a constant column (one weekday only...): fall back
        return np.linalg.lstsq(x * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]


def _huber(x: np.ndarray, y: np.ndarray, iters: int = 20, c: float = 1.345) -> tuple[np.ndarray, float]:
    """Huber IRLS: (coefficients, 1.4826 x MAD of the residuals)."""
    beta = _wls(x, y, np.ones(len(y)))
    for _ in range(iters):
        r = y - x @ beta
        s = 1.4826 * float(np.median(np.abs(r - np.median(r))))
        if s <= 1e-12:
            break
        u = np.abs(r) / (c * s)
        new = _wls(x, y, np.where(u <= 1, 1.0, 1.0 / np.maximum(u, 1e-12)))
        done = np.allclose(new, beta, rtol=1e-8, atol=1e-10)
        beta = new
        if done:
            break
    r = y - x @ beta
    return beta, 1.4826 * float(np.median(np.abs(r - np.median(r))))


def fit_trend(ds, y, *, cumulative: bool = False, exclude=None) -> TrendFit:
    """Fit the long-range model to daily peaks ``(ds, y)``; ``exclude``: boolean mask of days
    left out (past events). Raises :class:`CapplanError` with fewer than :data:`MIN_DAYS` days."""
    ds = pd.DatetimeIndex(ds).floor("D")
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(y) & (np.ones(len(y), bool) if exclude is None else ~np.asarray(exclude, bool))
    if int(keep.sum()) < MIN_DAYS:
        raise CapplanError(
            f"the long-range model needs {MIN_DAYS} days of daily peaks, found {int(keep.sum())}"
        )
    origin, last = ds[keep].min(), ds[keep].max()
    t = ((ds - origin) / _DAY).to_numpy(float)
    yearly = not cumulative and (last - origin) / _DAY + 1 >= YEARLY_MIN_DAYS
    x = _design(t, ds.dayofweek.to_numpy(), cumulative, yearly)
    target = y if cumulative else np.log(np.maximum(y, 1e-9))
    beta, sigma = _huber(x[keep], target[keep])
    return TrendFit(beta, origin, last, cumulative, bool(yearly), sigma, int(keep.sum()))


def project(fit: TrendFit, ds, qcols: Sequence[str]) -> pd.DataFrame:
    """The fit's quantiles at ``ds`` (days): one column per name in ``qcols``, monotone."""
    ds = pd.DatetimeIndex(ds).floor("D")
    return pd.DataFrame(_quantiles(fit, ds, qcols), index=range(len(ds))).assign(ds=ds)


def _quantiles(fit: TrendFit, ds: pd.DatetimeIndex, qcols: Sequence[str]) -> dict[str, np.ndarray]:
    """:func:`project`'s columns at ``ds`` (whole days)."""
    t = ((ds - fit.origin) / _DAY).to_numpy(float)
    mu = _design(t, ds.dayofweek.to_numpy(), fit.cumulative, fit.yearly) @ fit.coef
    h = np.maximum(((ds - fit.last_day) / _DAY).to_numpy(float), 0.0)
    s_h = fit.sigma * np.sqrt(1.0 + h / WIDEN_DAYS)
    out = {}
    for c in qcols:
        z = NormalDist().inv_cdf(quantile_from_col(c))
        out[c] = np.maximum(mu + z * s_h, 0.0) if fit.cumulative else np.exp(mu + z * s_h)
    return out


def growth_factor(path: Sequence[float], days) -> np.ndarray:
    """Compounded growth after ``days``: quarter i grows by ``path[i]`` (the last value repeats),
    a partial quarter by the matching power. ``[0.1, 0.2]`` -> 1.1 after one quarter, 1.32 after two."""
    q = np.maximum(np.asarray(days, dtype=float), 0.0) / QUARTER_DAYS
    n = int(np.floor(q.max())) + 1 if q.size else 1
    g = np.array([path[min(i, len(path) - 1)] for i in range(n)], dtype=float)
    whole = np.concatenate([[1.0], np.cumprod(1.0 + g)])
    i = np.floor(q).astype(int)
    return whole[i] * (1.0 + g[i]) ** (q - i)


def resource_peaks(
    peaks: pd.DataFrame, series: pd.DataFrame, resource_of: Mapping[str, str | None]
) -> pd.DataFrame:
    """``service, resource, ds, y``: daily peaks per series summed over each service's regions."""
    require_columns(peaks, ["unique_id", "ds", "y"], "daily peaks")
    m = peaks.merge(series[["unique_id", "service", "metric"]], on="unique_id")
    m["resource"] = m["metric"].map(resource_of)
    m = m[m["resource"].notna()].assign(ds=lambda f: f["ds"].dt.floor("D"))
    m = m.groupby(["unique_id", "service", "resource", "ds"], as_index=False)["y"].max()
    return m.groupby([*KEYS, "ds"], as_index=False)["y"].sum()


def event_days(events: pd.DataFrame, service: str, ds: pd.DatetimeIndex) -> np.ndarray:
    """Mask of the days in ``ds`` touched by a calendar event of ``service`` (any kind)."""
    out = np.zeros(len(ds), dtype=bool)
    if events is None or events.empty:
        return out
    hit = [("*" in list(v)) or (service in list(v)) for v in events["services"]]
    ev = events[hit]
    if ev.empty:
        return out
    days = ds.to_numpy("datetime64[ns]")
    start = pd.DatetimeIndex(ev["start"]).floor("D").to_numpy("datetime64[ns]")
    end = pd.DatetimeIndex(ev["end"]).to_numpy("datetime64[ns]")
    return ((days[:, None] >= start[None, :]) & (days[:, None] < end[None, :])).any(axis=1)


def fit_all(pk: pd.DataFrame, events: pd.DataFrame, until: pd.Timestamp | None = None) -> dict:
    """``(service, resource) -> TrendFit`` for every pair with enough days (up to ``until``)."""
    fits = {}
    for (service, resource), g in pk.groupby(KEYS, sort=True):
        g = g.sort_values("ds") if until is None else g[g["ds"] <= until].sort_values("ds")
        ds = pd.DatetimeIndex(g["ds"])
        try:
            fits[(service, resource)] = fit_trend(
                ds, g["y"], cumulative=resource in CUMULATIVE, exclude=event_days(events, service, ds)
            )
        except CapplanError:
            continue
    return fits


def horizon_days(as_of: pd.Timestamp, months: int) -> pd.DatetimeIndex:
    """The long-range plan's days: the day after ``as_of`` to ``months`` months later."""
    start = pd.Timestamp(as_of).floor("D") + _DAY
    return pd.date_range(start, pd.Timestamp(as_of).floor("D") + pd.DateOffset(months=months), freq="D")


def baseline(fits: dict, days: pd.DatetimeIndex, qcols: Sequence[str]) -> pd.DataFrame:
    """``service, resource, ds, model`` and the quantile columns, for every fitted pair (in the
    order of ``fits``, each over ``days``): :func:`project` of each, in one frame."""
    cols = [*KEYS, "ds", "model", *qcols]
    if not fits:
        return pd.DataFrame(columns=cols)
    ds = pd.DatetimeIndex(days).floor("D")
    values = [_quantiles(f, ds, qcols) for f in fits.values()]
    n, pairs = len(ds), list(fits)
    out = {
        "service": np.repeat(np.array([s for s, _ in pairs], dtype=object), n),
        "resource": np.repeat(np.array([r for _, r in pairs], dtype=object), n),
        "ds": pd.DatetimeIndex(np.tile(ds.to_numpy(), len(pairs))),
        "model": np.repeat(np.array([f.model for f in fits.values()], dtype=object), n),
    }
    out.update({c: np.concatenate([v[c] for v in values]) for c in qcols})
    return pd.DataFrame(out)[cols]


def driver_uplift(
    pk: pd.DataFrame,
    kpis: pd.DataFrame,
    path: Mapping[str, Sequence[float]],
    base: pd.DataFrame,
    as_of,
    cache=None,
):
    """Per row of ``base``: ``sum_k b_k level_k (G_k(t) - 1)`` from each pair's driver model fitted
    on its daily peaks (resource units; 0 where no KPI drives the pair, and for storage).
    ``cache``: a dict kept between scenarios (the same fit serves every scenario)."""
    out = np.zeros(len(base))
    if not path or kpis is None or kpis.empty:
        return out
    k = kpis[kpis["kpi"].isin(path)]
    wide = None
    days = ((base["ds"] - pd.Timestamp(as_of)) / _DAY).to_numpy(float)
    for (service, resource), idx in base.groupby(KEYS).groups.items():
        if resource in CUMULATIVE:
            continue
        key = (service, resource, tuple(sorted(path)))
        cache = {} if cache is None else cache
        if key not in cache:
            usage = pk[(pk["service"] == service) & (pk["resource"] == resource)]
            wide = daily_kpis(k) if wide is None else wide
            try:
                cache[key] = fit_driver_model(
                    usage.assign(unique_id=f"{service}/{resource}")[["unique_id", "ds", "y"]], k, wide
                )
            except CapplanError:
                cache[key] = None
        fit = cache[key]
        if fit is None:
            continue
        pos = base.index.get_indexer(idx)
        for kpi, p in path.items():
            b = fit.coefficients.get(kpi, 0.0)
            if b > 0:
                out[pos] += b * fit.kpi_level[kpi] * (growth_factor(p, days[pos]) - 1.0)
    return out


def event_multipliers(
    windows: pd.DataFrame, series: pd.DataFrame, resource_of, base: pd.DataFrame
) -> np.ndarray:
    """Per row of ``base``: the largest event multiplier of the pair's series on that day (1 outside
    events; storage never moves). ``windows``: :func:`.scenarios.event_windows` output."""
    if windows is None or windows.empty:
        return np.ones(len(base))
    w = windows.merge(series[["unique_id", "service", "metric"]], on="unique_id")
    w["resource"] = w["metric"].map(resource_of)
    w = w[~w["resource"].isin(CUMULATIVE)]
    days = [pd.date_range(pd.Timestamp(a).floor("D"), pd.Timestamp(b), freq="D", inclusive="left")
            for a, b in zip(w["start"], w["end"], strict=True)]  # fmt: skip
    w = w.assign(ds=days).explode("ds").dropna(subset=["ds"])
    if w.empty:
        return np.ones(len(base))
    w["ds"] = pd.to_datetime(w["ds"]).astype(base["ds"].dtype)
    m = w.groupby([*KEYS, "ds"], as_index=False)["multiplier"].max()
    out = base[[*KEYS, "ds"]].merge(m, on=[*KEYS, "ds"], how="left")["multiplier"].to_numpy(float)
    return np.where(np.isnan(out), 1.0, np.maximum(out, 1.0))


def to_resolution(frame: pd.DataFrame, resolution: str, value_cols: Sequence[str]) -> pd.DataFrame:
    """Daily rows as they are, or each week's peak (``ds`` = the week's Monday) for ``weekly``."""
    if resolution == "daily":
        return frame
    keys = [c for c in frame.columns if c not in value_cols and c != "ds"]
    wk = frame.assign(ds=frame["ds"] - pd.to_timedelta(frame["ds"].dt.dayofweek, unit="D"))
    return wk.groupby([*keys, "ds"], as_index=False, sort=True)[list(value_cols)].max()


def score_long_range(
    pk: pd.DataFrame, events: pd.DataFrame, qcols: Sequence[str], days: int = BACKTEST_DAYS
) -> pd.DataFrame:
    """Backtest of the long-range model per ``service, resource``: fit on the daily peaks before the
    last ``days`` days, project them, score. Returns ``service, resource, model, holdout_days, n,
    mase, coverage, nominal_coverage`` (pairs with too short a history are left out).

    MASE: mean |y - p50| over the held-out days / mean |y_t - y_(t-7)| over the fitted days
    (the weekly seasonal naive); coverage: share of held-out days inside the outer quantiles."""
    cols = ["service", "resource", "model", "holdout_days", "n", "mase", "coverage", "nominal_coverage"]
    levels = sorted(qcols, key=quantile_from_col)
    mid = min(levels, key=lambda c: abs(quantile_from_col(c) - 0.5))
    rows = []
    for (service, resource), g in pk.groupby(KEYS, sort=True):
        g = g.sort_values("ds")
        cut = g["ds"].max() - pd.Timedelta(days=days)
        train, test = g[g["ds"] <= cut], g[g["ds"] > cut]
        if len(train) < MIN_DAYS + 7 or test.empty:
            continue
        fit = fit_all(train, events).get((service, resource))
        if fit is None:
            continue
        p = project(fit, test["ds"], levels)
        y = test["y"].to_numpy(float)
        ty = train.set_index("ds")["y"]
        scale = float(np.nanmean(np.abs(ty - ty.shift(7, freq="D").reindex(ty.index))))
        err = float(np.mean(np.abs(y - p[mid].to_numpy())))
        inside = (y >= p[levels[0]].to_numpy()) & (y <= p[levels[-1]].to_numpy())
        rows.append(
            [service, resource, fit.model, days, len(y), err / scale if scale > 0 else np.nan,
             float(inside.mean()), quantile_from_col(levels[-1]) - quantile_from_col(levels[0])]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=cols)
