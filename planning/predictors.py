"""Peer predictors of the autoscaling replay: Crane-EHPA-DSP-like and AHPA-like, walk-forward.

Both forecast *required instances* (as :mod:`.autoscale` does) on the issue schedule of
:func:`.autoscale.seasonal_naive_forecasts`: an issue at step ``c`` reads only ``y[:c]`` (data
strictly before the decision) and covers the steps whose latest issue it is.

* **Period** (:func:`detect_period`), as Crane's DSP: among the candidates (1 and 7 days, in
  steps) that the history covers at least twice, the one whose own harmonics carry the largest
  share of the spectrum of the last whole cycles (FFT of the block-means, at most ~48 points a
  day; a longer candidate counts only the harmonics that are not a shorter candidate's, so a
  daily sine does not make a weekly period). None when no candidate is covered twice: no
  forecast from that issue.
* **Crane DSP** (:func:`dsp_forecasts`): ``maxValue``, the highest value at the same phase over
  the last ``cycles`` cycles, times ``1 + margin``; or ``fft``, the low-pass reconstruction of the
  last whole cycles (the mean and the ``top_k`` strongest frequencies) extended forward
  periodically. The ``crane_dsp`` policy feeds it to HPA as a second metric
  (:func:`crane_metric`: the highest forecast over the next ``window`` steps, as Crane's
  ``predictionWindowSeconds``: the start-up delay plus a step, at least the decision interval),
  so the count is HPA's ``max(ceil(actual), ceil(predicted))`` with HPA's tolerance,
  stabilization, rate policies and start-up delay.
* **AHPA** (:func:`ahpa_forecasts`): a robust decomposition of the last ``cycles`` cycles: level =
  each cycle's median (the upper one for an even count), trend = the median change of the level
  per cycle, seasonal profile = the per-phase median of the de-levelled cycles, upper band = the
  ``quantile`` of the fit's residuals (numpy's ``higher`` method). The ``ahpa`` policy issues it
  ahead by the start-up time (the forecast shift: the count for t is decided at least
  ``max(warm-up, start-up delay)`` before t, so its instances are ready at t) and runs ``max(proactive, reactive)`` within ``[min_instances, max_instances]``.

:func:`peer_parts` replays both policies for :func:`.autoscale.simulate_service`; each
predictor may also feed the predictive and hybrid policies (the ``predictor`` key).
"""

from __future__ import annotations

import numpy as np

from capplan.core.config import AutoscalingPolicy
from capplan.core.errors import CapplanError

from .autoscale import (
    Steps,
    forecast_fallback,
    hybrid,
    replay_hpa,
    replay_predictive,
    seasonal_naive_forecasts,
)

CANDIDATES_S = (86400, 7 * 86400)  # Crane DSP's periods: a day and a week
CYCLES = 4  # past cycles the estimators read (at most)
TOP_K = 20  # frequencies kept by the FFT low-pass (Crane's maxNumOfSpectrumItems)
_POINTS_PER_DAY = 48  # the period search works on block-means of at least this resolution


def _matrix(y, what: str) -> tuple[np.ndarray, bool]:
    """``(steps, services)`` float array of ``y`` (one column for 1-D), and whether it was 1-D."""
    arr = np.asarray(y, dtype=float)
    if arr.ndim not in (1, 2) or not np.all(np.isfinite(arr)):
        raise CapplanError(f"{what} must be a finite (steps,) or (steps, services) array")
    return (arr[:, None], True) if arr.ndim == 1 else (arr, False)


def detect_periods(history, candidates, *, cumsum=None) -> np.ndarray:
    """Per column of ``history`` (``(steps,)`` or ``(steps, services)``), the strongest candidate
    period in steps covered twice (module doc); 0 where no candidate is covered twice.
    ``cumsum``: the column sums of a longer series whose first ``len(history)`` steps are
    ``history`` (with a leading row of zeros), to take the block-means from."""
    x = _matrix(history, "history")[0] if cumsum is None else np.asarray(history)  # checked by the caller
    n = x.shape[0]
    covered = sorted(int(p) for p in candidates if p >= 2 and n >= 2 * p)
    if not covered:
        return np.zeros(x.shape[1], dtype=np.int64)
    block = max(1, covered[0] // _POINTS_PER_DAY)
    while any(p % block for p in covered):
        block -= 1
    cs = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)]) if cumsum is None else cumsum
    shares = []
    for p in covered:
        m = n // p
        w = np.diff(cs[np.arange(n - m * p, n + 1, block)], axis=0) / block  # block-means
        power = np.abs(np.fft.rfft(w - w.mean(axis=0), axis=0))[1:] ** 2
        k = np.arange(1, power.shape[0] + 1)
        own = k % m == 0
        for q in covered:
            if q < p and p % q == 0:
                own &= k % (m * p // q) != 0
        total = power.sum(axis=0)
        # float noise of a constant series is no period
        total = np.where(total > 1e-18 * np.maximum(1.0, (w**2).sum(axis=0)), total, 0.0)
        shares.append(np.divide(power[own].sum(axis=0), total, out=np.zeros_like(total), where=total > 0))
    # the first of the largest shares: a tie (a constant series) goes to the shorter period
    best = np.argmax(np.vstack(shares) - 1e-12 * np.arange(len(covered))[:, None], axis=0)
    return np.asarray(covered, dtype=np.int64)[best]


def detect_period(history, candidates) -> int | None:
    """:func:`detect_periods` of one series: the period in steps, None if no candidate is covered."""
    p = int(detect_periods(np.asarray(history, dtype=float).ravel(), candidates)[0])
    return p or None


def _issues(issued) -> list[tuple[int, np.ndarray]]:
    issued = np.asarray(issued)
    order = np.argsort(issued, kind="stable")
    values, starts = np.unique(issued[order], return_index=True)
    groups = np.split(order, starts[1:])
    return [(int(c), g) for c, g in zip(values, groups, strict=True) if c >= 0]


def _by_period(y: np.ndarray, issued, candidates, cache: dict | None):
    """For each issue ``c`` and each period ``p`` its services have: ``(c, rows, p, cols)``
    (the periods of an issue computed once per ``cache``)."""
    cache = {} if cache is None else cache
    if "cumsum" not in cache:
        cache["cumsum"] = np.concatenate([np.zeros((1, y.shape[1])), np.cumsum(y, axis=0)])
    for c, rows in _issues(issued):
        if c not in cache:
            cache[c] = detect_periods(y[:c], candidates, cumsum=cache["cumsum"])
        for p in np.unique(cache[c]):
            if p > 0:
                yield c, rows, int(p), np.flatnonzero(cache[c] == p)


def dsp_forecasts(
    y, issued, candidates, *, estimator="maxValue", margin=0.0, cycles=CYCLES, top_k=TOP_K, cache=None
):
    """``(forecast, period)`` per step (and service, for ``(steps, services)`` ``y``): the
    Crane-DSP-like forecast of its issue (module doc), NaN and 0 where the step has no issue or
    its issue's history covers no candidate twice."""
    x, flat = _matrix(y, "y")
    if estimator not in ("maxValue", "fft") or cycles < 1 or top_k < 1:
        raise CapplanError(f"dsp: estimator must be maxValue or fft (got {estimator!r}), cycles, top_k >= 1")
    fc, per = np.full(x.shape, np.nan), np.zeros(x.shape, dtype=np.int64)
    for c, rows, p, cols in _by_period(x, issued, candidates, cache):
        h, k = rows - c, min(cycles, c // p)
        if estimator == "maxValue":  # the same phase in each of the last k cycles before c
            idx = (c - p + np.mod(h, p))[:, None] - p * np.arange(k)[None, :]
            fc[np.ix_(rows, cols)] = x[idx][:, :, cols].max(axis=1) * (1 + margin)
        else:
            n = k * p
            spec = np.fft.rfft(x[c - n : c, cols], axis=0)
            keep = np.zeros(spec.shape, bool)
            keep[0] = True
            top = 1 + np.argsort(-np.abs(spec[1:]), axis=0, kind="stable")[:top_k]
            np.put_along_axis(keep, top, True, axis=0)
            low = np.fft.irfft(np.where(keep, spec, 0), n=n, axis=0)
            fc[np.ix_(rows, cols)] = low[np.mod(rows - (c - n), n)] * (1 + margin)
        per[np.ix_(rows, cols)] = p
    fc = np.maximum(fc, 0.0)
    return (fc[:, 0], per[:, 0]) if flat else (fc, per)


def ahpa_forecasts(y, issued, candidates, *, quantile: float | None = None, cycles=CYCLES, cache=None):
    """``(point, upper)`` per step (and service): the AHPA-like robust decomposition forecast of
    its issue and its upper band at ``quantile`` (``upper == point`` without one); NaN where none."""
    x, flat = _matrix(y, "y")
    point, upper = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    for c, rows, p, cols in _by_period(x, issued, candidates, cache):
        k = min(cycles, c // p)
        win = x[c - k * p : c] if cols.size == x.shape[1] else x[c - k * p : c, cols]
        detr = win.T.reshape(cols.size, k, p).copy()  # (services, cycles, phase): never y itself
        level = _order_stat(detr, 0.5)  # (services, cycles)
        detr -= level[:, :, None]
        profile = _median_small(detr)  # (services, phase)
        level = level.T  # (cycles, services)
        slope = np.median(np.diff(level, axis=0), axis=0) if k > 1 else np.zeros(cols.size)
        h = rows - c
        # the last cycle's level sits at its middle; the trend moves it on by `slope` per cycle
        fit = level[-1] + slope * ((h + p / 2) / p)[:, None] + profile.T[np.mod(h, p)]
        band = 0.0
        if quantile is not None:
            detr -= profile[:, None, :]  # the fit's residuals
            band = _order_stat(detr.reshape(cols.size, -1), quantile)
        point[np.ix_(rows, cols)], upper[np.ix_(rows, cols)] = fit, fit + band
    point, upper = np.maximum(point, 0.0), np.maximum(upper, 0.0)
    return (point[:, 0], upper[:, 0]) if flat else (point, upper)


def _order_stat(a: np.ndarray, q: float) -> np.ndarray:
    """The ``ceil(q x (n - 1))``-th smallest over the last axis (numpy's ``higher`` quantile: the
    upper median for q = 0.5 and an even count), one partition instead of two."""
    k = int(np.ceil(q * (a.shape[-1] - 1) - 1e-12))
    return np.partition(a, k, axis=-1)[..., k]


def _median_small(a: np.ndarray) -> np.ndarray:
    """The median over axis 1 of ``(services, k, phase)``; for k <= 4 by sums, minima and maxima
    (a sort per element is the slow part of the fleet replay), equal to :func:`numpy.median`."""
    k = a.shape[1]
    if k > 4:
        return np.median(a, axis=1)
    if k <= 2:
        return a.mean(axis=1)
    rest = a.sum(axis=1) - a.max(axis=1) - a.min(axis=1)
    return rest if k == 3 else rest / 2


def crane_metric(forecast, window: int) -> np.ndarray:
    """Per step t (and service), the highest finite forecast over steps ``t .. t + window`` (NaN
    if none): Crane's predicted metric, the peak of the prediction window ahead."""
    f = np.asarray(forecast, dtype=float)
    if window < 0:
        raise CapplanError("window must be >= 0")
    out = np.where(np.isnan(f), -np.inf, f)
    base = out.copy()
    for j in range(1, min(window, f.shape[0] - 1) + 1):
        out[:-j] = np.maximum(out[:-j], base[j:])
    return np.where(np.isfinite(out), out, np.nan)


def _candidates(step_s: float) -> list[int]:
    return [max(2, round(s / step_s)) for s in CANDIDATES_S]


def peer_forecasts(req, policy: AutoscalingPolicy, steps: Steps, schedule: dict, quantile: float | None):
    """The walk-forward forecasts the peers need: ``dsp`` (issued ahead by Crane's window:
    ``max(start-up delay + 1 step, decision interval)``, its length in steps ``dsp_window``, so a
    rise it predicts is in service in time), ``ahpa_point``
    and ``ahpa`` (issued ahead by the start-up time, the AHPA shift), ``ahpa_issued_at``.
    ``schedule``: ``season``, ``refresh``, ``horizon`` in steps (the seasonal-naive issues)."""
    cand, cache, grid = _candidates(steps.step_s), {}, np.zeros(np.shape(req)[0])
    window = max(steps.delay + 1, steps.decision)
    _, dsp_issued = seasonal_naive_forecasts(grid, **schedule, warmup=window)
    dsp, _ = dsp_forecasts(req, dsp_issued, cand, estimator=policy.dsp_estimator, cache=cache)
    shift = max(steps.warmup, steps.delay)
    _, issued = seasonal_naive_forecasts(grid, **schedule, warmup=shift, block=steps.decision)
    point, upper = ahpa_forecasts(req, issued, cand, quantile=quantile, cache=cache)
    return {"dsp": dsp, "dsp_window": window, "ahpa_point": point, "ahpa": upper, "ahpa_issued_at": issued}


def use_predictor(name: str, peers: dict, point, forecast):
    """``(point, forecast)`` the predictive and hybrid policies use under the ``predictor`` key:
    the peer's where it has a forecast, the seasonal-naive ones elsewhere (before its first issue
    covers a period twice), so every predictor is scored on the same steps."""
    if name == "seasonal_naive":
        return point, forecast
    own = (peers["dsp"], peers["dsp"]) if name == "crane_dsp" else (peers["ahpa_point"], peers["ahpa"])
    return np.where(np.isnan(own[0]), point, own[0]), np.where(np.isnan(own[1]), forecast, own[1])


def crane_required(req, policy: AutoscalingPolicy, fc: dict) -> np.ndarray:
    """What HPA tracks under ``crane_dsp``: per step the larger of the actual required instances
    and the predicted metric (:func:`crane_metric` of the DSP forecast x ``1 + forecast_margin``)."""
    predicted = crane_metric(fc["dsp"] * (1 + policy.forecast_margin), fc["dsp_window"])
    return np.fmax(np.asarray(req, dtype=float), predicted)


def ahpa_counts(req, policy: AutoscalingPolicy, steps: Steps, fc: dict, reactive, *, max_instances=None):
    """``max(AHPA proactive, reactive)`` within bounds (int64): the proactive count decided the
    start-up time ahead (:func:`replay_predictive` with ``warmup >= startup_delay``), reactive
    where the forecast error triggers the fallback, as in the hybrid."""
    shifted = policy.model_copy(update={"warmup_s": max(policy.warmup_s, policy.startup_delay_s)})
    pro = replay_predictive(fc["ahpa"], shifted, Steps.of(shifted, steps.step_s), max_instances=max_instances)
    fb, _ = forecast_fallback(req, fc["ahpa_point"], steps.fallback_window, policy.fallback_error)
    both = hybrid(pro, reactive, policy, max_instances=max_instances)
    return np.where(fb, reactive, both).astype(np.int64)


def peer_parts(req, policy: AutoscalingPolicy, steps: Steps, fc: dict, reactive, *, max_instances=None):
    """``{crane_dsp, ahpa}`` instances per step (int64) from :func:`peer_forecasts`' ``fc``: HPA
    on :func:`crane_required`, and :func:`ahpa_counts`. Forecast-only: both run ``reactive``."""
    if policy.forecast_only:
        return {"crane_dsp": np.asarray(reactive), "ahpa": np.asarray(reactive)}
    crane = replay_hpa(crane_required(req, policy, fc), policy, steps, max_instances=max_instances)
    ahpa = ahpa_counts(req, policy, steps, fc, reactive, max_instances=max_instances)
    return {"crane_dsp": crane, "ahpa": ahpa}
