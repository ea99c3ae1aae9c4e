"""Frame <-> Darts TimeSeries conversion and chunked quantile prediction. Darts is imported lazily.

* :func:`to_timeseries` builds one univariate TimeSeries per History on the spec's frequency.
* :func:`covariate_matrix` aligns one series' covariate rows on a grid range (last value carried
  forward and first carried back); past covariates are always cut at the series' last training
  timestamp *before* alignment, so a realised future KPI can never reach a model.
* :func:`predict_chunked` predicts a global quantile model ``ocl`` steps at a time with
  ``predict_likelihood_parameters=True`` (deterministic quantiles, no sampling), feeding the
  median back as history for the next chunk; the spread around the median of chunk ``j``
  (0-based) is widened by ``sqrt(j + 1)``, the same growth the residual-based adapters use.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import DS, ID
from capplan.core.errors import ModelError

from ._common import History

_NOISY_LOGGERS = ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "darts")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings and Lightning/Darts info logs for the duration of the block."""
    loggers = [logging.getLogger(n) for n in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def darts_freq(freq: str) -> str:
    """``freq`` for Darts: whole days become hours (``'D'`` -> ``'24h'``).

    Under pandas 3 ``Day`` is a calendar offset, not a fixed ``Tick``, and Darts 0.48.1's
    tabularisation (``n_steps_between``) fails on ``Timedelta // Day``; the data are tz-naive UTC,
    so ``24h`` is the same grid.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Day):
        return f"{24 * offset.n}h"
    return freq


def to_timeseries(ds: pd.DatetimeIndex, values: np.ndarray, freq: str, dtype: str = "float64", columns=None):
    """One TimeSeries from grid timestamps and a 1-D or 2-D value array (components ``columns``)."""
    from darts import TimeSeries

    freq = darts_freq(freq)
    values = np.asarray(values, dtype=dtype)
    if values.ndim == 1:
        values = values[:, None]
    times = pd.DatetimeIndex(ds.astype("datetime64[ns]"), freq=freq)
    return TimeSeries.from_times_and_values(times, values, freq=freq, columns=columns)


def covariate_columns(frame: pd.DataFrame) -> list[str]:
    """Feature columns of a covariate frame (everything but unique_id and ds)."""
    return [c for c in frame.columns if c not in (ID, DS)]


def covariate_matrix(
    rows: pd.DataFrame | None, cols: Sequence[str], grid: pd.DatetimeIndex, uid: str, what: str
) -> np.ndarray:
    """``rows`` (one series' covariates) on ``grid``: forward- then back-filled, ``(len(grid), k)``."""
    if rows is None or rows.empty:
        raise ModelError(f"{what} covariates have no rows for series {uid!r}")
    s = rows.drop_duplicates(DS, keep="last").set_index(DS)[list(cols)].sort_index().astype("float64")
    s.index = pd.DatetimeIndex(s.index).astype("datetime64[ns]")
    full = s.reindex(s.index.union(grid.astype("datetime64[ns]"))).ffill().bfill()
    out = full.reindex(grid.astype("datetime64[ns]")).to_numpy()
    if not np.isfinite(out).all():
        raise ModelError(f"{what} covariates for series {uid!r} have NaN columns")
    return out


def group_rows(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """A covariate frame split by unique_id (empty dict for None)."""
    if frame is None:
        return {}
    return {str(k): g for k, g in frame.groupby(ID, sort=False)}


def past_rows(rows: pd.DataFrame | None, hist: History) -> pd.DataFrame | None:
    """Past-covariate rows known at the series' forecast origin (``ds <= last``)."""
    return None if rows is None else rows[rows[DS] <= hist.last]


def check_future_cover(rows: pd.DataFrame | None, hist: History, end: pd.Timestamp) -> None:
    """Future covariates must reach the end of the horizon; raise ModelError naming the series."""
    if rows is None or rows.empty or rows[DS].max() < end:
        found = "no rows" if rows is None or rows.empty else f"rows until {rows[DS].max()}"
        raise ModelError(f"future covariates for series {hist.uid!r} must reach {end}; found {found}")


def predict_chunked(
    model, series: list, h: int, ocl: int, median_col: int, quantiles: bool = True, past_fn=None, **covs
) -> list[np.ndarray]:
    """``(h, Q)`` quantile arrays per series by chunked median feedback (module docstring);
    ``quantiles=False`` for a point model (one column, the point forecast fed back). ``past_fn``
    (the series so far -> their past covariates) rebuilds the past covariates before each chunk,
    for features computed from the target itself (the fed-back median included)."""
    parts: list[list[np.ndarray]] = [[] for _ in series]
    current = list(series)
    extra = {"predict_likelihood_parameters": True} if quantiles else {}
    for j, start in enumerate(range(0, h, ocl)):
        n = min(ocl, h - start)
        if past_fn is not None:
            covs["past_covariates"] = past_fn(current)
        preds = model.predict(n=n, series=current, verbose=False, **extra, **covs)
        for i, pred in enumerate(preds):
            v = pred.values(copy=True).astype("float64")
            med = v[:, median_col : median_col + 1]
            parts[i].append(med + (v - med) * np.sqrt(j + 1))
            if start + n < h:
                current[i] = current[i].append_values(med.astype(current[i].dtype))
    return [np.concatenate(p, axis=0) for p in parts]
