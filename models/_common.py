"""Helpers every adapter shares: histories in, quantile frame out. numpy/pandas only.

Invariants (relied on by every adapter):

* :func:`split_history` yields one :class:`History` per series, sorted by ``unique_id``, values
  float64 and finite, timestamps exactly on the ``freq`` grid with no gaps; a violation raises
  :class:`~capplan.core.errors.ModelError` naming the series.
* Adapters compute quantiles on :func:`internal_quantiles` (the configured levels plus 0.5, the
  median some adapters feed back) and :func:`forecast_frame` turns them into the output frame:
  ``unique_id, ds`` and one column per *configured* quantile, ``ds`` starting one step after each
  series' last timestamp, quantiles sorted row-wise (repairs crossings), clipped at 0 for series
  never negative in their history, never NaN (ModelError naming the series otherwise).
* Residual-based intervals (:func:`residual_band`) use *centred empirical* quantiles of the
  residuals: ``point + (Q_q(r) - Q_0.5(r)) * scale_k``, so the median is the point forecast and
  no distribution is assumed; ``scale_k`` grows with the step ``k`` (each adapter says how).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan.core.contracts import DS, ID, Y, quantile_col
from capplan.core.errors import ModelError

from .base import Covariates, ModelSpec

Values = np.ndarray  # (h, len(internal_quantiles)) forecast quantiles of one series


@dataclass(frozen=True)
class History:
    """One series' training history: ``ds`` on the grid, ``y`` finite float64."""

    uid: str
    ds: pd.DatetimeIndex
    y: np.ndarray

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def last(self) -> pd.Timestamp:
        return self.ds[-1]

    @property
    def is_constant(self) -> bool:
        return bool(np.ptp(self.y) == 0.0)


def split_history(df: pd.DataFrame, freq: str) -> list[History]:
    """The long frame as one History per series; raises ModelError on gaps, NaN or bad shape.

    One sort and one pass over the columns (no per-series pandas work); the first offending series
    in ``unique_id`` order is named, a NaN before a grid error, as a per-series check would.
    """
    missing = [c for c in (ID, DS, Y) if c not in df.columns]
    if missing:
        raise ModelError(f"training frame lacks column(s) {missing}; expected unique_id, ds, y")
    if df.empty:
        raise ModelError("training frame is empty")
    if df[ID].isna().any():
        df = df[df[ID].notna()]
        if df.empty:
            return []
    codes, uids = pd.factorize(df[ID], sort=True)
    ds = pd.DatetimeIndex(df[DS])
    y = df[Y].to_numpy(dtype="float64")
    if ds.hasnans:  # NaT sorts last, as sort_values puts it
        df = df.sort_values([ID, DS])
        codes, uids = pd.factorize(df[ID], sort=True)
        ds, y = pd.DatetimeIndex(df[DS]), df[Y].to_numpy(dtype="float64")
    elif not _sorted(codes, ds.asi8):
        order = np.argsort(codes, kind="stable")  # fast on blocks of rows per series
        if not _sorted(codes[order], ds.asi8[order]):
            order = np.lexsort((ds.asi8, codes))
        codes, ds, y = codes[order], ds[order], y[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ids = uids[codes[starts]]
    ends = np.r_[starts[1:], len(codes)]
    bad_y = np.add.reduceat(~np.isfinite(y), starts) > 0
    step = fixed_step(freq, ds.dtype)
    if step is None:
        off_grid = [not _on_grid(ds[a:b], freq) for a, b in zip(starts, ends, strict=True)]
    else:
        jumps = np.r_[True, (ds[1:] - ds[:-1]) != step]  # True at each series' first row
        jumps[starts] = False
        off_grid = np.add.reduceat(jumps, starts) > 0
    for k in np.flatnonzero(bad_y | np.asarray(off_grid, dtype=bool))[:1]:
        uid, a, b = ids[k], starts[k], ends[k]
        if bad_y[k]:
            raise ModelError(f"series {uid!r}: y has NaN or infinite values")
        grid = pd.date_range(ds[a], periods=b - a, freq=freq)
        bad = ds[a:b][np.argmax(ds[a:b] != grid)]
        raise ModelError(f"series {uid!r}: ds is not on the '{freq}' grid without gaps (first off at {bad})")
    return [History(str(u), ds[a:b], y[a:b]) for u, a, b in zip(ids, starts, ends, strict=True)]


def _sorted(codes: np.ndarray, ticks: np.ndarray) -> bool:
    """Whether rows are already in ``(unique_id, ds)`` order (the usual case: no sort needed)."""
    dc = np.diff(codes)
    return bool(((dc > 0) | ((dc == 0) & (np.diff(ticks) > 0))).all())


def _on_grid(ds: pd.DatetimeIndex, freq: str) -> bool:
    return ds.equals(pd.date_range(ds[0], periods=len(ds), freq=freq))


def fixed_step(freq: str, dtype) -> pd.Timedelta | None:
    """The grid step of ``freq`` when it is a fixed duration for tz-naive ``dtype``, else None."""
    if not (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return None
    try:
        return pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (TypeError, ValueError):
        return None


def internal_quantiles(qs: Sequence[float]) -> tuple[float, ...]:
    """Configured quantile levels, sorted, with 0.5 added (the median is always computed)."""
    return tuple(sorted({float(q) for q in qs} | {0.5}))


def future_index(last: pd.Timestamp, h: int, freq: str) -> pd.DatetimeIndex:
    """The ``h`` grid timestamps after ``last``."""
    return pd.date_range(last, periods=h + 1, freq=freq)[1:]


def centred_offsets(residuals: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """``Q_q(r) - Q_0.5(r)`` for each level (zeros when there are no finite residuals)."""
    r = residuals[np.isfinite(residuals)]
    if r.size == 0:
        return np.zeros(len(qs))
    return np.quantile(r, list(qs)) - np.quantile(r, 0.5)


def seasons_ahead(h: int, period: int) -> np.ndarray:
    """``sqrt(ceil(k / period))`` for steps ``k = 1..h``: the seasonal random-walk error growth."""
    k = np.arange(1, h + 1)
    return np.sqrt(np.ceil(k / max(period, 1)))


def residual_band(point: np.ndarray, residuals: np.ndarray, qs: Sequence[float], scale: np.ndarray) -> Values:
    """Quantiles ``point + centred_offsets(residuals) * scale`` as an ``(h, Q)`` array."""
    return point[:, None] + scale[:, None] * centred_offsets(residuals, qs)[None, :]


def seasonal_trend(y: np.ndarray, periods: Sequence[int], max_periods: int = 4) -> np.ndarray:
    """Linear trend ``(slope, intercept)`` over step index ``0..n-1``, blind to seasonality.

    Uses the last ``W = min(n // P, max_periods)`` whole periods of the longest period ``P`` with
    at least two periods of history: the slope is fitted to the per-period means (any pattern of
    period ``P`` averages out exactly). Without such a period, plain least squares on all of ``y``.
    """
    n = len(y)
    fits = [p for p in periods if p > 1 and n >= 2 * p]
    if not fits:
        return np.polyfit(np.arange(n, dtype="float64"), y, 1) if n > 1 else np.array([0.0, y[-1]])
    p = max(fits)
    w = min(n // p, max_periods)
    means = y[n - w * p :].reshape(w, p).mean(axis=1)
    centres = n - w * p + p * np.arange(w) + (p - 1) / 2
    return np.polyfit(centres, means, 1)


def constant_values(hist: History, h: int, qs: Sequence[float]) -> Values:
    """Every quantile equal to the (constant) last value."""
    return np.full((h, len(qs)), hist.y[-1])


def forecast_frame(
    hists: Sequence[History], values: dict[str, Values], h: int, spec: ModelSpec, model: str
) -> pd.DataFrame:
    """Assemble, repair and check the output frame (see the module invariants)."""
    qs = internal_quantiles(spec.quantiles)
    keep = [qs.index(q) for q in sorted({float(q) for q in spec.quantiles})]
    parts = []
    for hist in hists:
        v = np.asarray(values[hist.uid], dtype="float64")
        if v.shape != (h, len(qs)):
            raise ModelError(
                f"{model}: series {hist.uid!r} got {v.shape} forecast values, expected {(h, len(qs))}"
            )
        if not np.isfinite(v).all():
            raise ModelError(f"{model}: forecast for series {hist.uid!r} has NaN or infinite values")
        parts.append(v)
    v = np.sort(np.concatenate(parts), axis=1)[:, keep]
    nonneg = np.repeat([hist.y.min() >= 0 for hist in hists], h)
    v[nonneg] = np.maximum(v[nonneg], 0.0)
    frame = pd.DataFrame(v, columns=[quantile_col(qs[i]) for i in keep])
    frame.insert(0, DS, _future_ds(hists, h, spec.freq))
    frame.insert(0, ID, np.repeat(np.array([hist.uid for hist in hists], dtype=object), h))
    return frame


def _future_ds(hists: Sequence[History], h: int, freq: str) -> pd.DatetimeIndex:
    """Every series' :func:`future_index` in the dtype of its ``ds``, concatenated."""
    dtypes = {hist.ds.dtype for hist in hists}
    step = fixed_step(freq, hists[0].ds.dtype) if len(dtypes) == 1 else None
    if step is None:
        parts = [future_index(hist.last, h, freq).astype(hist.ds.dtype) for hist in hists]
        return parts[0].append(parts[1:])
    unit = np.datetime_data(hists[0].ds.dtype)[0]
    lasts = np.array([hist.ds.asi8[-1] for hist in hists], dtype="int64")
    ticks = step.to_timedelta64().astype(f"m8[{unit}]").astype("int64") * np.arange(1, h + 1)
    return pd.DatetimeIndex((lasts[:, None] + ticks).ravel().view(f"M8[{unit}]"))


class Adapter:
    """Shared fit/predict plumbing: subclasses implement ``_fit`` and ``_predict``.

    Constant series never reach ``_fit``/``_predict``: every adapter forecasts a series whose whole
    history is one value as that value (zero-width band), and records it in ``notes``.
    ``notes`` maps ``unique_id`` to why the series was not forecast by the model proper.
    """

    name = "adapter"
    complexity = 99
    robust_training = False  # clip short spikes in the training histories when spec.clip_outliers

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.notes: dict[str, str] = {}
        self.clipped: dict[str, int] = {}  # unique_id -> training steps clipped as spikes
        self._hists: list[History] | None = None

    @property
    def quantiles(self) -> tuple[float, ...]:
        return internal_quantiles(self.spec.quantiles)

    def fit(self, df: pd.DataFrame, cov: Covariates | None = None) -> Adapter:
        self.notes = {}
        self._hists = split_history(df, self.spec.freq)
        for hist in self._hists:
            if hist.is_constant:
                self.notes[hist.uid] = "constant history: forecast is the constant"
        if self.clips_outliers:
            self._hists = self._robust(self._hists)
        self._fit([x for x in self._hists if not x.is_constant], cov)
        return self

    def predict(self, h: int, cov: Covariates | None = None) -> pd.DataFrame:
        if self._hists is None:
            raise ModelError(f"{self.name}: predict called before fit")
        if int(h) != h or h < 1:
            raise ModelError(f"{self.name}: horizon must be a positive integer, got {h!r}")
        h = int(h)
        live = [x for x in self._hists if not x.is_constant]
        values = self._predict(live, h, cov) if live else {}
        for hist in self._hists:
            if hist.is_constant:
                values[hist.uid] = constant_values(hist, h, self.quantiles)
        return forecast_frame(self._hists, values, h, self.spec, self.name)

    @property
    def clips_outliers(self) -> bool:
        """Whether fitting clips short spikes: a model built for it, with ``spec.clip_outliers``."""
        return self.robust_training and bool(getattr(self.spec, "clip_outliers", False))

    def _robust(self, hists: list[History]) -> list[History]:
        """The histories with short spikes clipped (:func:`capplan.models._robust.robust_clip`);
        constant ones untouched. The model fits on them and forecasts from them."""
        from ._robust import robust_clip_cached

        periods = [int(self.spec.season_length), *(int(s) for s in self.spec.seasonalities)]
        self.clipped = {}
        out = []
        for hist in hists:
            y, n = (hist.y, 0) if hist.is_constant else robust_clip_cached(hist.y, periods)
            if n:
                self.clipped[hist.uid] = n
            out.append(History(hist.uid, hist.ds, y) if n else hist)
        return out

    def _fit(self, hists: list[History], cov: Covariates | None) -> None:
        raise NotImplementedError

    def _predict(self, hists: list[History], h: int, cov: Covariates | None) -> dict[str, Values]:
        raise NotImplementedError


def map_series(
    hists: Sequence[History], kernel: Callable[[History], tuple[Values, str | None]], notes: dict[str, str]
) -> dict[str, Values]:
    """Apply a per-series kernel returning ``(values, note or None)``; collect notes."""
    out = {}
    for hist in hists:
        values, note = kernel(hist)
        out[hist.uid] = values
        if note:
            notes[hist.uid] = note
    return out
