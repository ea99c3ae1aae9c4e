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

from capplan.core.contracts import frequency_step

KNOWN_FREQUENCIES: tuple[tuple[str, int], ...] = (
    ("min", 60),
    ("5min", 300),
    ("10min", 600),
    ("15min", 900),
    ("30min", 1800),
    ("h", 3600),
    ("D", 86400),
    ("7D", 604800),  # weekly as a fixed 7-day step: pandas cannot floor to "W"
)
_SECONDS = dict(KNOWN_FREQUENCIES)
_BLOCK_ROWS = 1 << 21  # per-series kernels run over blocks of about this many rows


def frequency_seconds(freq: str) -> int:
    if freq in _SECONDS:
        return _SECONDS[freq]
    return int(frequency_step(freq).total_seconds())


def snap_frequency(seconds: float) -> str:
    """The known frequency nearest (in log scale) to a spacing in seconds."""
    names = [n for n, _ in KNOWN_FREQUENCIES]
    secs = np.array([s for _, s in KNOWN_FREQUENCIES], dtype=float)
    return names[int(np.argmin(np.abs(np.log(secs) - np.log(max(seconds, 1.0)))))]


def infer_frequencies(frame: pd.DataFrame) -> dict[str, str]:
    """unique_id -> frequency for every series with at least two distinct timestamps."""
    uid = frame["unique_id"]
    if isinstance(uid.dtype, pd.CategoricalDtype):  # the codes as they are: no per-row int64 copy
        codes, uids = uid.cat.codes.to_numpy(), uid.cat.categories
    else:
        codes, uids = pd.factorize(uid)
    ds = frame["ds"].to_numpy(dtype="datetime64[ns]")
    keep = (codes >= 0) & ~np.isnat(ds)
    if not keep.all():
        codes, ds = codes[keep], ds[keep]
    del keep
    if not is_key_sorted(codes, ds):
        order = key_order(codes, ds)
        codes, ds = codes[order], ds[order]
    return {uids[k]: f for k, f in sorted_frequencies(codes, ds).items()}


def series_blocks(codes: np.ndarray, rows: int = _BLOCK_ROWS) -> list[tuple[int, int]]:
    """Row ranges ``[start, end)`` of about ``rows`` rows that never split a series (``codes`` sorted).

    A per-series kernel applied block by block gives what it gives on all rows at once, with
    temporaries the size of one block.
    """
    out, start, n = [], 0, len(codes)
    while start < n:
        end = min(start + rows, n)
        if end < n:
            end = start + int(np.searchsorted(codes[start:], codes[end - 1], side="right"))
        out.append((start, end))
        start = end
    return out


def key_order(codes: np.ndarray, ds: np.ndarray) -> np.ndarray:
    """The stable order sorting rows by (series code, ds): equal keys keep their arrival order."""
    order = np.argsort(ds, kind="stable")
    small = codes.astype(np.int16 if len(codes) and codes.max() < 2**15 else np.int64)
    return order[np.argsort(small[order], kind="stable")]


def is_key_sorted(codes: np.ndarray, ds: np.ndarray) -> bool:
    """Whether rows are already in (code, ds) order (checked over blocks of rows: small temporaries)."""
    for start in range(0, max(len(codes) - 1, 0), _BLOCK_ROWS):
        end = start + _BLOCK_ROWS + 1  # one row of overlap: the pair across a block boundary
        dc, dt = np.diff(codes[start:end]), np.diff(ds[start:end])
        if not ((dc > 0) | ((dc == 0) & (dt >= np.timedelta64(0)))).all():
            return False
    return True


def finest_frequencies(frame: pd.DataFrame) -> dict[str, str]:
    """unique_id -> the snapped SMALLEST spacing, for frames sorted by (unique_id, ds) (categorical id)."""
    codes = frame["unique_id"].cat.codes.to_numpy()
    ds = frame["ds"].to_numpy(dtype="datetime64[ns]")
    names = frame["unique_id"].cat.categories
    out = {}
    for start, end in series_blocks(codes):
        c, d = codes[start:end], ds[start:end]
        step = np.diff(d)
        ok = (c[1:] == c[:-1]) & (step > np.timedelta64(0))
        if not ok.any():
            continue
        secs = (step[ok] / np.timedelta64(1, "s")).astype("float64")
        low = pd.Series(secs).groupby(c[1:][ok], sort=True).min()
        out.update({names[int(k)]: snap_frequency(s) for k, s in low.items()})
    return out


def sorted_frequencies(codes: np.ndarray, ds: np.ndarray) -> dict[int, str]:
    """Code -> snapped median spacing, for rows sorted by (code, ds) (kernel of ``infer_frequencies``).

    Run block by block (:func:`series_blocks`): the temporaries are those of one block.
    """
    out: dict[int, str] = {}
    for start, end in series_blocks(codes):
        c, d = codes[start:end], ds[start:end]
        step = np.diff(d)
        ok = (c[1:] == c[:-1]) & (step > np.timedelta64(0))
        secs = pd.TimedeltaIndex(step[ok]).total_seconds()
        med = pd.Series(np.asarray(secs)).groupby(c[1:][ok], sort=True).median()
        out.update({int(k): snap_frequency(s) for k, s in med.items()})
    return out


def _grid_unit(freq: str) -> str:
    """Steps longer than a day (weekly) keep the series' own weekday: only the time of day moves."""
    return "D" if frequency_seconds(freq) > 86400 else freq


def place_on_grid(ds: pd.Series, freq: pd.Series, rule: str) -> pd.Series:
    """Move each timestamp to its series' grid (``freq`` aligned with ``ds``)."""
    kinds = freq.unique()
    if len(kinds) == 1:
        return getattr(ds.dt, rule)(_grid_unit(kinds[0]))
    out = ds.copy()
    for f in kinds:
        sel = (freq == f).to_numpy()
        col = ds[sel]
        out[sel] = getattr(col.dt, rule)(_grid_unit(f))
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


def find_gaps_sorted(obs: pd.DataFrame, step_seconds: dict[str, int]) -> pd.DataFrame:
    """:func:`find_gaps` for observations sorted by (unique_id, ds) with unique keys, on arrays.

    ``obs["unique_id"]`` is categorical; the result is the same frame ``find_gaps`` returns.
    """
    codes = obs["unique_id"].cat.codes.to_numpy()
    ds = obs["ds"].to_numpy(dtype="datetime64[ns]")
    seconds = np.array(
        [step_seconds.get(u, np.nan) for u in obs["unique_id"].cat.categories], dtype="float64"
    )
    step_of = pd.to_timedelta(seconds, unit="s").to_numpy(dtype="timedelta64[ns]")
    names = obs["unique_id"].cat.categories
    blocks = series_blocks(codes) or [(0, 0)]
    parts = [_gaps_block(codes[a:b], ds[a:b], step_of, names) for a, b in blocks]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _gaps_block(codes: np.ndarray, ds: np.ndarray, step_of: np.ndarray, names: pd.Index) -> pd.DataFrame:
    step = step_of[codes[1:]]
    diff = ds[1:] - ds[:-1]
    gap = (codes[1:] == codes[:-1]) & (diff > step)
    prev, cur, step, diff = ds[:-1][gap], ds[1:][gap], step[gap], diff[gap]
    return pd.DataFrame(
        {
            "unique_id": names[codes[1:][gap]].astype(object),
            "gap_start": prev + step,
            "gap_end": cur - step,
            "missing_steps": np.round(diff / step).astype("int64") - 1,
        }
    )
