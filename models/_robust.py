"""Robust training data: short spikes and dips clipped to a seasonal band before a model fits.

One incident (a 3-hour spike, an outage's dip) should not teach a model, nor, for models that
carry the last season forward (``lightgbm`` learns the seasonal difference), become tomorrow's
forecast. :func:`robust_clip` is a pure per-series kernel over a history ``y``; the adapters that
opt in (``Adapter.robust_training``) apply it to their training histories when
``ModelSpec.clip_outliers`` is set. Scoring never sees it: backtests are scored on the raw actuals.

The rule, per series:

* For each period ``p`` (the season, and each extra seasonality with two periods of history), the
  **baseline** of step ``t`` is the median of the values one to ``K`` periods before it (``K`` = 5
  for the season, at least 3 of them present; 1 to 3 for the others), the residual
  ``r_t = y_t - baseline_t``, and its **band** ``median(r) +- k * sigma`` with ``sigma`` = 1.4826
  x the MAD of ``r`` (the mean absolute deviation x 1.2533 when the MAD is 0; no band when both are 0).
* A step is **out of band** when it lies above (below) the band of every period that has a
  baseline there; steps without a season baseline (the first seasons) never are. A weekly job
  recurring at the same hour sits inside the weekly band, so it is kept.
* Out-of-band steps of one sign at most a season apart form an **episode** (a level shift on a
  daily cycle leaves out-of-band bumps day after day: one episode). An episode spanning at most
  ``max_run`` steps (a quarter season: 6 hours on hourly data) that is over before the series'
  last step is a **spike** and is clipped to the nearest band edge (the least change that brings
  it in band; never below 0 for a series never negative). Longer episodes are **level shifts**
  (or a new pattern) and are kept: ``lightgbm`` carries a shift forward through its seasonal
  difference. An episode still going at the last step is kept too: at the forecast origin a
  spike cannot yet be told from a shift. So are two spikes less than a season apart (one
  episode spanning more than ``max_run``): the rule errs on the side of keeping data.
* The season's median baseline ignores one spike among its ``K`` values, so a spike does not make
  the same hour of the next day look like a dip.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

K_SIGMA = 4.0  # band half-width in robust standard deviations
SEASONS_BACK = 5  # the season's baseline: median of up to this many earlier seasons
MIN_SEASONS_BACK = 3  # ... of which at least this many must exist
OTHER_BACK = 3  # extra seasonalities (weekly): up to this many earlier periods, at least 1
CACHE_SERIES = 20_000  # clip results kept per process (a series unclipped costs its 16-byte key)

_clips: OrderedDict[tuple, tuple[np.ndarray | None, int]] = OrderedDict()


def max_spike_steps(season_length: int) -> int:
    """Longest run clipped as a spike: a quarter season, at least one step."""
    return max(1, int(season_length) // 4)


def _baseline(y: np.ndarray, p: int, back: int, need: int) -> np.ndarray:
    """Median of ``y[t - j p]`` for ``j = 1..back`` (NaN where fewer than ``need`` exist)."""
    n = len(y)
    shifted = np.full((back, n), np.nan)
    for j in range(1, back + 1):
        if j * p < n:
            shifted[j - 1, j * p :] = y[: n - j * p]
    count = np.isfinite(shifted).sum(axis=0)
    out = np.full(n, np.nan)
    full = count == back  # np.median where every period exists (fast), np.nanmedian elsewhere
    out[full] = np.median(shifted[:, full], axis=0)
    part = (count >= need) & ~full
    if part.any():
        out[part] = np.nanmedian(shifted[:, part], axis=0)
    return out


def _band(r: np.ndarray, k: float) -> tuple[float, float] | None:
    """``(centre, half width)`` of the residuals' robust band; None when they have no spread."""
    r = r[np.isfinite(r)]
    if r.size < 2:
        return None
    centre = float(np.median(r))
    dev = np.abs(r - centre)
    sigma = 1.4826 * float(np.median(dev))
    if sigma == 0.0:
        sigma = 1.2533 * float(np.mean(dev))
    return (centre, k * sigma) if sigma > 0 else None


def _edges(y: np.ndarray, periods: Sequence[int], k: float) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the highest upper edge and lowest lower edge over the periods' bands (NaN: none)."""
    n = len(y)
    upper, lower = np.full(n, -np.inf), np.full(n, np.inf)
    seen = np.zeros(n, dtype=bool)
    main = True
    for p in periods:
        if p <= 1 or n < 2 * p:
            main = False
            continue
        back, need = (SEASONS_BACK, MIN_SEASONS_BACK) if main else (OTHER_BACK, 1)
        base = _baseline(y, p, back, need)
        band = _band(y - base, k)
        if band is None:
            return np.full(n, np.nan), np.full(n, np.nan)
        has = np.isfinite(base)
        if main:
            seen = has
        hi, lo = base + band[0] + band[1], base + band[0] - band[1]
        upper = np.where(has, np.maximum(upper, hi), upper)  # out of every period's band:
        lower = np.where(has, np.minimum(lower, lo), lower)  # above the highest upper edge, ...
        main = False
    upper[~seen], lower[~seen] = np.nan, np.nan
    return upper, lower


def robust_clip(
    y: np.ndarray, periods: Sequence[int], k: float = K_SIGMA, max_run: int | None = None
) -> tuple[np.ndarray, int]:
    """``(cleaned copy of y, steps clipped)``: short spikes and dips clipped to the seasonal band
    (module docstring). ``periods[0]`` is the season; the others are extra seasonalities."""
    y = np.asarray(y, dtype="float64")
    if not len(periods) or len(y) < 2 * int(periods[0]):
        return y.copy(), 0
    season = int(periods[0])
    max_run = max_spike_steps(season) if max_run is None else max_run
    upper, lower = _edges(y, [int(p) for p in periods], k)
    with np.errstate(invalid="ignore"):
        sign = np.where(y > upper, 1, np.where(y < lower, -1, 0))
    out = y.copy()
    if not sign.any():
        return out, 0
    clipped = 0
    for s in (1, -1):
        idx = np.flatnonzero(sign == s)
        # one episode: out-of-band steps of one sign less than a season apart (a shift's daily bumps)
        for ep in np.split(idx, np.flatnonzero(np.diff(idx) > season) + 1) if idx.size else []:
            a, b = int(ep[0]), int(ep[-1]) + 1
            if b - a > max_run or b >= len(y):
                continue
            out[ep] = upper[ep] if s > 0 else lower[ep]
            clipped += ep.size
    if y.min() >= 0:
        out = np.maximum(out, 0.0)
    return out, clipped


def robust_clip_cached(y: np.ndarray, periods: Sequence[int]) -> tuple[np.ndarray, int]:
    """:func:`robust_clip` with the defaults, remembered by the history's content: the models that
    clip (``lightgbm``, ``theta``, ``seasonal_profile``) fit the same fold's histories, so each is
    clipped once, not once a model (about 6% of training). Only clipped histories are stored
    whole; the :data:`CACHE_SERIES` most recent are kept. The result is the same array values."""
    y = np.ascontiguousarray(y, dtype="float64")
    key = (hashlib.blake2b(y.tobytes(), digest_size=16).digest(), len(y), tuple(int(p) for p in periods))
    if key in _clips:
        _clips.move_to_end(key)
        out, n = _clips[key]
        return (y.copy() if out is None else out.copy()), n
    out, n = robust_clip(y, periods)
    _clips[key] = (out.copy() if n else None, n)
    if len(_clips) > CACHE_SERIES:
        _clips.popitem(last=False)
    return out, n
