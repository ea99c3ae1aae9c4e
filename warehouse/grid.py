"""Series frequency inference and grid placement (pure functions on frames).

* A series' frequency is the median spacing of its timestamps snapped to the nearest known
  frequency (1, 5, 10, 15, 30 minutes, hourly, daily, weekly), unless configured.
* An off-grid timestamp (:27 in a 5-minute series) is moved to the grid by the configured rule
  (``floor`` by default). Several samples landing on one grid point are combined by the metric's
  kind: mean for gauges and rates, sum for counters.
* Gaps are found, never filled: a gap is a run of missing grid points between two observations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KNOWN_FREQUENCIES: tuple[tuple[str, int], ...] = (
    ("min", 60),
    ("5min", 300),
    ("10min", 600),
    ("15min", 900),
    ("30min", 1800),
    ("h", 3600),
    ("D", 86400),
    ("W", 604800),
)
_SECONDS = dict(KNOWN_FREQUENCIES)


def frequency_seconds(freq: str) -> int:
    if freq in _SECONDS:
        return _SECONDS[freq]
    return int(pd.Timedelta(pd.tseries.frequencies.to_offset(freq)).total_seconds())


def snap_frequency(seconds: float) -> str:
    """The known frequency nearest (in log scale) to a spacing in seconds."""
    names = [n for n, _ in KNOWN_FREQUENCIES]
    secs = np.array([s for _, s in KNOWN_FREQUENCIES], dtype=float)
    return names[int(np.argmin(np.abs(np.log(secs) - np.log(max(seconds, 1.0)))))]


def infer_frequencies(frame: pd.DataFrame) -> dict[str, str]:
    """unique_id -> frequency for every series with at least two distinct timestamps."""
    f = frame[["unique_id", "ds"]].drop_duplicates().sort_values(["unique_id", "ds"])
    secs = f.groupby("unique_id", sort=False)["ds"].diff().dt.total_seconds()
    med = secs[secs > 0].groupby(f["unique_id"]).median()
    return {uid: snap_frequency(s) for uid, s in med.items()}


def place_on_grid(ds: pd.Series, freq: pd.Series, rule: str) -> pd.Series:
    """Move each timestamp to its series' grid (``freq`` aligned with ``ds``)."""
    out = ds.copy()
    for f in freq.unique():
        sel = (freq == f).to_numpy()
        col = ds[sel]
        out[sel] = getattr(col.dt, rule)(f)
    return out


def find_gaps(obs: pd.DataFrame, step_seconds: dict[str, int]) -> pd.DataFrame:
    """Gaps (unique_id, gap_start, gap_end, missing_steps) in sorted observations."""
    if obs.empty:
        return pd.DataFrame(columns=["unique_id", "gap_start", "gap_end", "missing_steps"])
    o = obs[["unique_id", "ds"]].sort_values(["unique_id", "ds"])
    prev = o.groupby("unique_id", sort=False)["ds"].shift()
    step = pd.to_timedelta(o["unique_id"].map(step_seconds).astype("float64"), unit="s")
    gap = (o["ds"] - prev) > step
    g = o[gap]
    pstep, pprev = step[gap], prev[gap]
    return pd.DataFrame(
        {
            "unique_id": g["unique_id"].to_numpy(),
            "gap_start": (pprev + pstep).to_numpy(),
            "gap_end": (g["ds"] - pstep).to_numpy(),
            "missing_steps": (((g["ds"] - pprev) / pstep).round().astype("int64") - 1).to_numpy(),
        }
    )
