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
  ``predictionWindowSeconds``: the start-up delay plus a step, at least the decision interval), so the count is HPA's ``max(ceil(actual), ceil(predicted))`` with
  HPA's tolerance, stabilization, rate policies and start-up delay.
* **AHPA** (:func:`ahpa_forecasts`): a robust decomposition of the last ``cycles`` cycles: level =
  each cycle's median, trend = the median change of the level per cycle, seasonal profile = the
  per-phase median of the de-levelled cycles, upper band = the ``quantile`` of the fit's
  residuals. The ``ahpa`` policy issues it ahead by the start-up time (the forecast shift: the
  count for t is decided at least ``max(warm-up, start-up delay)`` before t, so its instances are
  ready at t) and runs ``max(proactive, reactive)`` within ``[min_instances, max_instances]``.

:func:`peer_parts` replays both policies for :func:`.autoscale.simulate_service`; each
predictor may also feed the predictive and hybrid policies (the ``predictor`` key).
"""

from __future__ import annotations

import numpy as np

from capplan.core.config import AutoscalingPolicy
from capplan.core.errors import CapplanError

from .autoscale import (
    Steps,
    _finite,
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


def detect_period(history, candidates) -> int | None:
    """The strongest candidate period (in steps) covered twice by ``history`` (module doc)."""
    x = _finite(history, "history")
    covered = sorted(int(p) for p in candidates if p >= 2 and x.size >= 2 * p)
    if not covered:
        return None
    block = max(1, covered[0] // _POINTS_PER_DAY)
    while any(p % block for p in covered):
        block -= 1
    best, best_share = covered[0], -1.0
    for p in covered:
        m = x.size // p
        w = x[x.size - m * p :].reshape(-1, block).mean(axis=1)
        power = np.abs(np.fft.rfft(w - w.mean()))[1:] ** 2
        total = power.sum()
        if total <= 0:
            return covered[0]
        k = np.arange(1, power.size + 1)
        own = k % m == 0
        for q in covered:
            if q < p and p % q == 0:
                own &= k % (m * p // q) != 0
        share = power[own].sum() / total
        if share > best_share + 1e-12:
            best, best_share = p, share
    return best


def _issues(issued) -> list[tuple[int, np.ndarray]]:
    issued = np.asarray(issued)
    order = np.argsort(issued, kind="stable")
    values, starts = np.unique(issued[order], return_index=True)
    groups = np.split(order, starts[1:])
    return [(int(c), g) for c, g in zip(values, groups, strict=True) if c >= 0]


def _phase_values(y, c: int, period: int, h: np.ndarray, cycles: int) -> np.ndarray:
    """``(len(h), cycles)``: the value at the same phase as ``c + h`` in each of the last
    ``cycles`` cycles before ``c`` (NaN before the series' start)."""
    last = c - period + np.mod(h, period)
    idx = last[:, None] - period * np.arange(cycles)[None, :]
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = y[idx[ok]]
    return out


def dsp_forecasts(y, issued, candidates, *, estimator="maxValue", margin=0.0, cycles=CYCLES, top_k=TOP_K):
    """``(forecast, period)`` per step: the Crane-DSP-like forecast of its issue (module doc),
    NaN where the step has no issue or its issue's history covers no candidate twice."""
    y = _finite(y, "y")
    if estimator not in ("maxValue", "fft") or cycles < 1 or top_k < 1:
        raise CapplanError(f"dsp: estimator must be maxValue or fft (got {estimator!r}), cycles, top_k >= 1")
    fc, per = np.full(y.size, np.nan), np.zeros(y.size, dtype=np.int64)
    for c, rows in _issues(issued):
        p = detect_period(y[:c], candidates)
        if p is None:
            continue
        h = rows - c
        if estimator == "maxValue":
            fc[rows] = np.nanmax(_phase_values(y, c, p, h, min(cycles, c // p)), axis=1) * (1 + margin)
        else:
            n = min(cycles, c // p) * p
            spec = np.fft.rfft(y[c - n : c])
            keep = np.zeros(spec.size, bool)
            keep[0] = True
            keep[1 + np.argsort(-np.abs(spec[1:]), kind="stable")[:top_k]] = True
            low = np.fft.irfft(np.where(keep, spec, 0), n=n)
            fc[rows] = low[np.mod(rows - (c - n), n)] * (1 + margin)
        per[rows] = p
    return np.maximum(fc, 0.0), per


def ahpa_forecasts(y, issued, candidates, *, quantile: float | None = None, cycles=CYCLES):
    """``(point, upper)`` per step: the AHPA-like robust decomposition forecast of its issue and
    its upper band at ``quantile`` (``upper == point`` without one); NaN where none."""
    y = _finite(y, "y")
    point, upper = np.full(y.size, np.nan), np.full(y.size, np.nan)
    for c, rows in _issues(issued):
        p = detect_period(y[:c], candidates)
        if p is None:
            continue
        k = min(cycles, c // p)
        mat = y[c - k * p : c].reshape(k, p)
        level = np.median(mat, axis=1)
        profile = np.median(mat - level[:, None], axis=0)
        slope = float(np.median(np.diff(level))) if k > 1 else 0.0
        h = rows - c
        # the last cycle's level sits at its middle; the trend moves it on by `slope` per cycle
        fit = level[-1] + slope * (h + p / 2) / p + profile[np.mod(h, p)]
        band = 0.0
        if quantile is not None:
            band = float(np.quantile(mat - level[:, None] - profile[None, :], quantile))
        point[rows], upper[rows] = fit, fit + band
    return np.maximum(point, 0.0), np.maximum(upper, 0.0)


def crane_metric(forecast, window: int) -> np.ndarray:
    """Per step t, the highest finite forecast over steps ``t .. t + window`` (NaN if none):
    Crane's predicted metric, the peak of the prediction window ahead."""
    f = np.asarray(forecast, dtype=float)
    if window < 0:
        raise CapplanError("window must be >= 0")
    padded = np.concatenate([f, np.full(window, np.nan)])
    view = np.lib.stride_tricks.sliding_window_view(np.nan_to_num(padded, nan=-np.inf), window + 1)
    out = view.max(axis=1)
    return np.where(np.isfinite(out), out, np.nan)


def _candidates(step_s: float) -> list[int]:
    return [max(2, round(s / step_s)) for s in CANDIDATES_S]


def peer_forecasts(req, policy: AutoscalingPolicy, steps: Steps, schedule: dict, quantile: float | None):
    """The walk-forward forecasts the peers need: ``dsp`` (issued ahead by Crane's window:
    ``max(start-up delay + 1 step, decision interval)``, its length in steps ``dsp_window``, so a
    rise it predicts is in service in time), ``ahpa_point``
    and ``ahpa`` (issued ahead by the start-up time, the AHPA shift), ``ahpa_issued_at``.
    ``schedule``: ``season``, ``refresh``, ``horizon`` in steps (the seasonal-naive issues)."""
    cand = _candidates(steps.step_s)
    window = max(steps.delay + 1, steps.decision)
    _, dsp_issued = seasonal_naive_forecasts(req, **schedule, warmup=window)
    dsp, _ = dsp_forecasts(req, dsp_issued, cand, estimator=policy.dsp_estimator)
    shift = max(steps.warmup, steps.delay)
    _, issued = seasonal_naive_forecasts(req, **schedule, warmup=shift, block=steps.decision)
    point, upper = ahpa_forecasts(req, issued, cand, quantile=quantile)
    return {"dsp": dsp, "dsp_window": window, "ahpa_point": point, "ahpa": upper, "ahpa_issued_at": issued}


def use_predictor(name: str, peers: dict, point, forecast):
    """``(point, forecast)`` the predictive and hybrid policies use under the ``predictor`` key:
    the peer's where it has a forecast, the seasonal-naive ones elsewhere (before its first issue
    covers a period twice), so every predictor is scored on the same steps."""
    if name == "seasonal_naive":
        return point, forecast
    own = (peers["dsp"], peers["dsp"]) if name == "crane_dsp" else (peers["ahpa_point"], peers["ahpa"])
    return np.where(np.isnan(own[0]), point, own[0]), np.where(np.isnan(own[1]), forecast, own[1])


def peer_parts(req, policy: AutoscalingPolicy, steps: Steps, fc: dict, reactive, *, max_instances=None):
    """``{crane_dsp, ahpa}`` instances per step (int64) from :func:`peer_forecasts`' ``fc``:
    HPA on ``max(actual, predicted)``; ``max(AHPA proactive, reactive)`` within bounds, falling
    back to ``reactive`` on forecast error as the hybrid does. Forecast-only: both run reactive."""
    req = _finite(req, "required")
    if policy.forecast_only:
        return {"crane_dsp": np.asarray(reactive), "ahpa": np.asarray(reactive)}
    predicted = crane_metric(fc["dsp"] * (1 + policy.forecast_margin), fc["dsp_window"])
    both = np.fmax(req, predicted)
    crane = replay_hpa(both, policy, steps, max_instances=max_instances)
    shifted = policy.model_copy(update={"warmup_s": max(policy.warmup_s, policy.startup_delay_s)})
    pro = replay_predictive(fc["ahpa"], shifted, Steps.of(shifted, steps.step_s), max_instances=max_instances)
    fb, _ = forecast_fallback(req, fc["ahpa_point"], steps.fallback_window, policy.fallback_error)
    ahpa = np.where(fb, reactive, hybrid(pro, reactive, policy, max_instances=max_instances))
    return {"crane_dsp": crane, "ahpa": ahpa.astype(np.int64)}
