"""Deterministic stub models for orchestration tests (statsforecast's ``SumAhead`` idea).

``SumAhead`` forecasts, per series, ``p50 = last value + step`` and every other quantile
``q`` as ``p50 + spread * (q - 0.5)``; it records the latest ``ds`` of the past covariates it
was shown, so a test can assert that nothing after the cutoff was visible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import DS, ID, Y, quantile_col
from capplan.models.base import Covariates


class SumAhead:
    """Stub Forecaster: exact, hand-checkable forecasts; one instance per fit."""

    complexity = 1
    native_intervals = False

    def __init__(
        self,
        freq: str = "h",
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        spread: float = 10.0,
        name: str = "sum_ahead",
    ) -> None:
        self.freq = freq
        self.quantiles = tuple(sorted(quantiles))
        self.spread = spread
        self.name = name
        self.fit_rows = 0
        self.past_max_seen: list[pd.Timestamp | None] = []
        self._last: pd.DataFrame | None = None

    def _see(self, cov: Covariates | None) -> None:
        past = None if cov is None else cov.past
        self.past_max_seen.append(None if past is None or past.empty else past[DS].max())

    def fit(self, df: pd.DataFrame, cov: Covariates | None = None) -> SumAhead:
        self._see(cov)
        self.fit_rows = len(df)
        self._last = df.sort_values([ID, DS]).groupby(ID, sort=True, observed=True).tail(1)[[ID, DS, Y]]
        return self

    def predict(self, h: int, cov: Covariates | None = None) -> pd.DataFrame:
        if self._last is None:
            raise RuntimeError("SumAhead.predict called before fit")
        self._see(cov)
        step = np.tile(np.arange(1, h + 1), len(self._last))
        last = self._last.loc[self._last.index.repeat(h)].reset_index(drop=True)
        delta = pd.to_timedelta(pd.tseries.frequencies.to_offset(self.freq))
        out = pd.DataFrame({ID: last[ID], DS: last[DS] + step * delta})
        p50 = last[Y].to_numpy(dtype="float64") + step
        for q in self.quantiles:
            out[quantile_col(q)] = p50 + self.spread * (q - 0.5)
        return out
