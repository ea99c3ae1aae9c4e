"""Seasonal profile plus linear trend: a light decomposition for multiple seasonalities (numpy only).

Darts offers no light multi-seasonal model without statsforecast, so this is hand-rolled:

* ``P`` is the longest period among ``season_length`` and ``seasonalities`` with at least two full
  periods of history (168 for hourly data with weekly seasonality: an hour-of-week profile, which
  also captures the daily cycle). The window is the last ``W = min(n // P, max_periods)`` periods.
* Additive decomposition on the window: a linear trend fitted to the per-period means (blind to
  any pattern of period ``P``; :func:`capplan.models._common.seasonal_trend`), then the profile as
  the per-phase *median* of the detrended values (robust to one-off spikes), its mean moved into
  the level.
* Forecast ``trend(t) + profile[t mod P]``. Intervals: centred empirical quantiles of the in-sample
  residuals on the window, scaled by ``sqrt(ceil(k / P))`` (periods ahead).
* With under two periods of the shortest season, falls back to seasonal naive (noted).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import Adapter, History, Values, map_series, residual_band, seasonal_trend, seasons_ahead
from .naive import seasonal_naive_kernel


def profile_kernel(
    y: np.ndarray, h: int, periods: Sequence[int], qs: Sequence[float], max_periods: int = 4
) -> tuple[Values, str | None]:
    """Profile-plus-trend quantiles ``(h, len(qs))`` for one series (see module docstring)."""
    n = len(y)
    fits = [p for p in periods if p > 1 and n >= 2 * p]
    if not fits:
        values, note = seasonal_naive_kernel(y, h, min(periods), qs)
        why = f"history of {n} steps is under two periods of {min(periods)}: seasonal naive"
        return values, why + (f"; {note}" if note else "")
    p = max(fits)
    w = min(n // p, max_periods)
    window = y[n - w * p :]
    t = np.arange(w * p, dtype="float64")
    trend = seasonal_trend(window, (p,), max_periods=w)
    profile = np.median((window - np.polyval(trend, t)).reshape(w, p), axis=0)
    level = profile.mean()
    profile -= level
    fitted = np.polyval(trend, t) + level + np.tile(profile, w)
    residuals = window - fitted
    tf = np.arange(w * p, w * p + h, dtype="float64")
    point = np.polyval(trend, tf) + level + profile[np.arange(h) % p]
    return residual_band(point, residuals, qs, seasons_ahead(h, p)), None


class SeasonalProfile(Adapter):
    """Local hour-of-week (or longest fitting period) profile plus linear trend."""

    name = "seasonal_profile"
    complexity = 1
    native_intervals = False
    robust_training = True

    def __init__(self, spec, max_periods: int = 4):
        super().__init__(spec)
        self.max_periods = max_periods

    def _fit(self, hists: list[History], cov) -> None:
        return None

    def _predict(self, hists: list[History], h: int, cov) -> dict[str, Values]:
        periods = sorted({int(self.spec.season_length), *(int(s) for s in self.spec.seasonalities)})
        qs, k = self.quantiles, self.max_periods
        return map_series(hists, lambda x: profile_kernel(x.y, h, periods, qs, k), self.notes)
