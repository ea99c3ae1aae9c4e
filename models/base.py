"""The one Forecaster protocol every model adapter implements.

Contract:

* ``fit(df, cov)`` takes the long training frame (``unique_id, ds, y``; every series on its
  grid, no NaN, sorted) for *all* series at once. Global models fit once; local models loop
  over series inside the adapter.
* ``predict(h, cov)`` returns ``unique_id, ds`` plus one column per configured quantile
  (named by :func:`capplan.core.contracts.quantile_col`), ``h`` steps after each series' last
  training timestamp, monotone across quantiles, never NaN.
* ``Covariates.future`` holds features known ahead (calendar, events) for history *and* the
  horizon; ``Covariates.past`` holds features known only up to the forecast origin (business
  KPIs). Callers truncate ``past`` at the cutoff, so no model can see realised future KPIs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pandas as pd

from capplan.core.contracts import Covariates, ModelSpec

__all__ = ["Covariates", "Forecaster", "ModelSpec"]


@runtime_checkable
class Forecaster(Protocol):
    name: str
    complexity: int  # ties in champion selection go to the lower number (simpler model)
    native_intervals: bool
    """True when the model's own quantiles are calibrated intervals (ets, lightgbm, nhits); False
    when the pipeline should widen them with split-conformal offsets from the backtest. A class
    attribute, so :func:`capplan.models.has_native_intervals` reads it without building a model."""

    def fit(self, df: pd.DataFrame, cov: Covariates | None = None) -> Forecaster: ...

    def predict(self, h: int, cov: Covariates | None = None) -> pd.DataFrame: ...
