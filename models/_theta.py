"""The Theta method in numpy, vectorised across series (what the ``theta`` adapter runs).

Per series ``y`` of length ``n`` and season ``m`` (the same model as Darts ``FourTheta(theta=2)``
with linear trend, additive modes and no normalisation, which this replaced):

1. **Seasonal part** (only when ``m > 1`` and ``n >= 2 m``): classical additive decomposition as
   statsmodels ``seasonal_decompose(extrapolate_trend=m - 1)``: a centred moving average of order
   ``m`` (``2 x m`` for even ``m``), its missing ends extrapolated by least-squares lines on the
   ``m`` nearest defined points (statsmodels' choice of points, kept exactly), the detrended values
   averaged by phase ``j % m`` and centred. ``z = y - season``.
2. **Drift**: the least-squares line ``L_t = intercept + slope * t`` of ``z`` on ``t = 0..n-1``.
3. **Theta line** ``w = 2 z - L``, smoothed by SES with the initial level and ``alpha`` that
   minimise the in-sample one-step squared error. For a given ``alpha`` the error is quadratic in
   the initial level, so that level is solved exactly; ``alpha`` is searched on a grid of
   :data:`ALPHA_GRID` for all series at once (an array ``(series, alphas)`` updated in one loop
   over time), then :data:`ZOOM_STAGES` times on :data:`ZOOM_POINTS` points spanning the best
   point's neighbours (spacing 0.05 -> 0.0167 -> 0.0056), and last at the vertex of the parabola
   through the best point and its neighbours, kept only where its error is lower (21 + 7 + 7 + 2
   alphas a series; alpha agrees with statsmodels' optimiser to about 1e-4).
4. **Forecast** ``0.5 * SES level + 0.5 * L_{n-1+k} + season[(n - 1 + k) % m]``; fitted values the
   same with the one-step SES predictions. Residuals ``y - fitted`` give centred quantile offsets
   (``_common.centred_offsets``), widened by ``sqrt(1 + (k - 1) alpha^2)`` at step ``k``.

Series of any lengths are fitted together: the SES loop runs over the longest series' steps with
series right-aligned (sorted by length, so the series already started at a step are a prefix of
the rows: no masks, no padding arithmetic); the decomposition and the drift run per group of equal
length. Everything here is a pure function of the values (no pandas, no Darts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ALPHA_GRID = np.linspace(0.0, 1.0, 21)
ZOOM_POINTS = 7
ZOOM_STAGES = 2
CHUNK = 2000
_FLUSH = 1e-150  # (1 - alpha)^t below this is set to 0 (denormals are slow; the term is nil)


@dataclass(frozen=True)
class ThetaFit:
    """One series' fitted Theta model; :func:`theta_forecast` turns it into quantiles."""

    n: int
    alpha: float
    level: float  # SES level of the theta line after the last observation
    slope: float
    intercept: float
    season: np.ndarray  # (m,) offsets by phase j % m; (1,) zero when not seasonal
    offsets: np.ndarray  # (Q,) centred residual quantile offsets Q_q(r) - Q_0.5(r)

    @property
    def finite(self) -> bool:
        head = np.array([self.alpha, self.level, self.slope, self.intercept])
        return bool(
            np.isfinite(head).all() and np.isfinite(self.season).all() and np.isfinite(self.offsets).all()
        )


def theta_forecast(fit: ThetaFit, h: int) -> np.ndarray:
    """``(h, Q)`` quantiles: point ``0.5 level + 0.5 drift + season`` plus scaled offsets."""
    k = np.arange(1, h + 1)
    point = 0.5 * fit.level + 0.5 * (fit.intercept + fit.slope * (fit.n - 1 + k))
    point = point + fit.season[(fit.n - 1 + k) % len(fit.season)]
    scale = np.sqrt(1.0 + (k - 1) * fit.alpha**2)
    return point[:, None] + scale[:, None] * fit.offsets[None, :]


def theta_fit(ys: Sequence[np.ndarray], m: int, qs: Sequence[float]) -> list[ThetaFit]:
    """Fit every series of ``ys`` (float arrays, any lengths >= 2); one ThetaFit each, in order.

    Works on :data:`CHUNK` series at a time (memory stays near ten ``(CHUNK, n)`` float arrays).
    """
    if len(ys) > CHUNK:
        return [f for i in range(0, len(ys), CHUNK) for f in theta_fit(ys[i : i + CHUNK], m, qs)]
    lengths = np.array([len(y) for y in ys])
    groups = {int(n): np.flatnonzero(lengths == n) for n in np.unique(lengths)}
    stacked = {n: np.stack([ys[i] for i in idx]) for n, idx in groups.items()}
    parts, theta_lines = {}, [None] * len(ys)
    for n, idx in groups.items():
        season, slope, intercept = _decompose(stacked[n], m)
        base = _tile(season, n) + 0.5 * (intercept[:, None] + slope[:, None] * np.arange(n))
        parts[n] = (season, slope, intercept, base)  # base: fitted values less the SES half
        w = 2.0 * (stacked[n] - base)  # = 2 z - L with z = y - season, L the drift line
        for row, i in enumerate(idx):
            theta_lines[i] = w[row]
    alpha, level, fitted_w = ses_fit(theta_lines)
    out: list[ThetaFit | None] = [None] * len(ys)
    for n, idx in groups.items():
        season, slope, intercept, base = parts[n]
        resid = stacked[n] - base - 0.5 * np.stack([fitted_w[i] for i in idx])
        offsets = np.quantile(resid, list(qs), axis=1).T - np.quantile(resid, 0.5, axis=1)[:, None]
        for row, i in enumerate(idx):
            out[i] = ThetaFit(n, alpha[i], level[i], slope[row], intercept[row], season[row], offsets[row])
    return out


# --- decomposition and drift (one group of equal-length series) -----------------------------


def _tile(season: np.ndarray, n: int) -> np.ndarray:
    """``(G, n)`` seasonal values ``season[:, j % m]``."""
    return season[:, np.arange(n) % season.shape[1]]


def _line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``(slope, intercept)`` of each row of ``y`` on the shared abscissae ``x``."""
    xc = x - x.mean()
    slope = (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    return slope, y.mean(axis=1) - slope * x.mean()


def _decompose(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(season (G, m or 1), slope (G,), intercept (G,))`` for equal-length rows ``y``."""
    g, n = y.shape
    season = np.zeros((g, 1))
    if m > 1 and n >= 2 * m:
        season = _seasonal_offsets(y, m)
    slope, intercept = _line(np.arange(n, dtype="float64"), y - _tile(season, n))
    return season, slope, intercept


def _seasonal_offsets(y: np.ndarray, m: int) -> np.ndarray:
    """statsmodels ``seasonal_decompose(model="additive", extrapolate_trend=m - 1).seasonal``,
    one period ``(G, m)`` by phase."""
    g, n = y.shape
    filt = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.full(m, 1.0 / m)
    half, width = m // 2, len(filt)
    trend = np.full((g, n), np.nan)
    centre = y.mean(axis=1, keepdims=True)  # keeps the cumulative sums small
    cs = np.zeros((g, n + 1))
    np.cumsum(y - centre, axis=1, out=cs[:, 1:])
    core = cs[:, width:] - cs[:, : n - width + 1]  # sums of `width` consecutive values
    if m % 2 == 0:  # 2 x m: the two end values weigh a half
        core -= 0.5 * ((y[:, : n - width + 1] - centre) + (y[:, width - 1 :] - centre))
    core = core / m + centre
    trend[:, half : n - half] = core
    front, back = half, n - 1 - half
    front_last, back_first = min(front + m, back), max(front, back - m)
    x = np.arange(front, front_last, dtype="float64")
    slope, icpt = _line(x, trend[:, front:front_last])
    trend[:, :front] = icpt[:, None] + slope[:, None] * np.arange(front)
    x = np.arange(back_first, back, dtype="float64")
    slope, icpt = _line(x, trend[:, back_first:back])
    trend[:, back + 1 :] = icpt[:, None] + slope[:, None] * np.arange(back + 1, n)
    detrended = y - trend
    padded = np.full((g, -(-n // m) * m), np.nan)
    padded[:, :n] = detrended
    means = np.nanmean(padded.reshape(g, -1, m), axis=1)
    return means - means.mean(axis=1, keepdims=True)


# --- SES with the initial level solved and alpha searched, all series at once ----------------


def ses_fit(xs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``(alpha, last level, one-step fitted values)`` of SES on each series of ``xs``.

    Minimises the in-sample one-step squared error over ``alpha`` in [0, 1] (grid, then zoom) and
    the initial level (exactly, for each alpha). Each series is centred on its first value while
    fitting (SES is shift-equivariant), which keeps the sums small.
    """
    n = np.array([len(x) for x in xs])
    order = np.argsort(-n, kind="stable")
    big = int(n.max())
    u = np.full((len(xs), big), np.nan)
    shift = np.array([x[0] for x in xs], dtype="float64")[order]
    for row, i in enumerate(order):
        u[row, big - n[i] :] = xs[i] - shift[row]
    active = np.searchsorted(np.sort(big - n), np.arange(big), side="right")  # rows started by t
    lens = n[order]
    rows = np.arange(len(xs))
    grid = np.broadcast_to(ALPHA_GRID, (len(xs), len(ALPHA_GRID)))
    step = ALPHA_GRID[1] - ALPHA_GRID[0]
    for _ in range(ZOOM_STAGES):
        best = np.argmin(_sse(u, active, lens, grid)[0], axis=1)
        alpha = grid[rows, best]
        lo, hi = np.clip(alpha - step, 0.0, 1.0), np.clip(alpha + step, 0.0, 1.0)
        grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, ZOOM_POINTS)
        step = 2.0 * step / (ZOOM_POINTS - 1)
    sse = _sse(u, active, lens, grid)[0]
    best = np.argmin(sse, axis=1)
    final = np.stack([grid[rows, best], parabola_vertex(grid, sse, best)], axis=1)
    sse, l0 = _sse(u, active, lens, final)
    best = np.argmin(sse, axis=1)
    alpha = final[rows, best]
    level0 = l0[np.arange(len(xs)), best]
    fitted, last = _ses_path(u, active, alpha, level0)
    back = np.empty(len(xs), dtype=int)
    back[order] = np.arange(len(xs))
    fits = [fitted[back[i], big - n[i] :] + shift[back[i]] for i in range(len(xs))]
    return alpha[back], (last + shift)[back], fits


def parabola_vertex(grid: np.ndarray, sse: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Per row, the vertex of the parabola through the best grid point and its two neighbours
    (the best point itself at a grid edge or where the three are not convex)."""
    rows = np.arange(len(grid))
    j = np.clip(best, 1, grid.shape[1] - 2)
    x0, h = grid[rows, j], grid[rows, j + 1] - grid[rows, j]
    fm, f0, fp = sse[rows, j - 1], sse[rows, j], sse[rows, j + 1]
    curv = fm - 2.0 * f0 + fp
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.clip(x0 + h * (fm - fp) / (2.0 * curv), x0 - h, x0 + h)
    ok = (best == j) & (curv > 0) & np.isfinite(vertex)
    return np.where(ok, np.clip(vertex, 0.0, 1.0), grid[rows, best])


def _sse(u: np.ndarray, active: np.ndarray, lens: np.ndarray, alphas: np.ndarray):
    """``(sse, l0)`` ``(S, K)``: one-step SSE of SES with ``alphas`` and its best initial level.

    With initial level ``l0`` the one-step prediction is ``a_t + q^t l0`` (``q = 1 - alpha``,
    ``a`` the prediction from 0), so ``sse(l0) = Sdd - 2 l0 Sbd + l0^2 Sbb`` with ``d = u - a``,
    ``Sbd = sum q^t d_t``, ``Sbb = sum q^2t``: ``l0 = Sbd / Sbb``, ``sse = Sdd - Sbd l0``.
    """
    s, k = alphas.shape
    q = 1.0 - alphas
    a, b = np.zeros((s, k)), np.ones((s, k))
    sdd, sbd = np.zeros((s, k)), np.zeros((s, k))
    d, tmp = np.empty((s, k)), np.empty((s, k))
    for t in range(u.shape[1]):
        r = int(active[t])
        dr, tr = d[:r], tmp[:r]
        np.subtract(u[:r, t, None], a[:r], out=dr)
        np.multiply(dr, dr, out=tr)
        sdd[:r] += tr
        np.multiply(b[:r], dr, out=tr)
        sbd[:r] += tr
        np.multiply(alphas[:r], dr, out=tr)
        a[:r] += tr
        b[:r] *= q[:r]
        if t % 16 == 15:
            b[:r] *= b[:r] >= _FLUSH
    sbb = _geometric_sum(q, lens[:, None])
    l0 = sbd / sbb
    return sdd - sbd * l0, l0


def _geometric_sum(q: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``sum_{t<n} q^(2t)`` (``n`` where ``q == 1``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log(q)
        out = np.expm1(2.0 * n * log_q) / np.expm1(2.0 * log_q)
    return np.where(q >= 1.0, np.broadcast_to(n, q.shape).astype("float64"), out)


def _ses_path(u: np.ndarray, active: np.ndarray, alpha: np.ndarray, level0: np.ndarray):
    """``(one-step predictions (S, T), level after the last step (S,))`` for given parameters."""
    level = level0.copy()
    fitted = np.full(u.shape, np.nan)
    for t in range(u.shape[1]):
        r = int(active[t])
        fitted[:r, t] = level[:r]
        level[:r] += alpha[:r] * (u[:r, t] - level[:r])
    return fitted, level
