"""Seasonal naive: repeat the last season (pure numpy, no Darts).

Point forecast for step ``k``: ``y[n - m + (k - 1) % m]`` (the value one season earlier, repeated).
Intervals: centred empirical quantiles of the in-sample seasonal-naive residuals
``r_t = y_t - y_{t-m}`` of the same series, scaled by ``sqrt(ceil(k / m))`` (number of seasons
ahead), so the median is the seasonal-naive value and the band widens like a seasonal random walk.
A series shorter than one season uses ``m = 1`` (last value, random-walk widening); a series shorter
than two seasons has few residuals. Both are recorded in ``notes``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import Adapter, History, Values, map_series, residual_band, seasons_ahead


def seasonal_naive_kernel(y: np.ndarray, h: int, m: int, qs: Sequence[float]) -> tuple[Values, str | None]:
    """Seasonal-naive quantiles ``(h, len(qs))`` for one series and a note when history is short."""
    n = len(y)
    period = m if (m > 1 and n >= m) else 1
    note = None
    if period < m:
        note = f"history of {n} steps is shorter than one season ({m}): naive last value"
    elif n < 2 * m:
        note = f"history of {n} steps is shorter than two seasons ({2 * m}): intervals from {n - m} residuals"
    point = y[n - period + np.arange(h) % period]
    residuals = y[period:] - y[:-period]
    return residual_band(point, residuals, qs, seasons_ahead(h, period)), note


class SeasonalNaive(Adapter):
    """Local seasonal naive with residual intervals (see module docstring)."""

    name = "seasonal_naive"
    complexity = 0
    native_intervals = False

    def _fit(self, hists: list[History], cov) -> None:
        return None

    def _predict(self, hists: list[History], h: int, cov) -> dict[str, Values]:
        m, qs = self.spec.season_length, self.quantiles
        return map_series(hists, lambda x: seasonal_naive_kernel(x.y, h, m, qs), self.notes)
