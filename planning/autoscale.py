"""Autoscaling policies from ``[autoscaling]``, with safety controls: pure kernels over arrays.

Every kernel works in *required instances*: ``required[t] = max_r demand_r[t] / (K_r * u_r)``
(a float), the instances the service's pool needs at its target utilization, where the binding
resource (the max over cpu, memory, rps and network; storage is excluded: it does not scale with
instances) wins (:func:`required_instances`). Counts are instances *in service* during a step.

Rules (each pinned by a hand-built test in ``tests/planning/test_autoscale.py``):

* **Reactive** (:func:`replay_hpa`), Kubernetes HPA target tracking: at step t it sees step
  ``t-1``'s load on the instances then in service; ``desired = ceil(current x metric/target)``
  = ``ceil(required[t-1])``, unchanged while ``|metric/target - 1| <= tolerance``. The
  recommendation is stabilized (scale-down: the highest recommendation over the scale-down
  window; scale-up: the lowest over the scale-up window), limited by the rate policies (per
  period, ``Pods`` or ``Percent`` of the count at the period's start; ``select_policy`` Max
  takes the policy allowing the largest change), by ``max_step`` and clamped to
  ``[min_instances, max_instances]``. Launched instances serve after the start-up delay; removed
  ones leave at once (pending launches are cancelled first).
* **Predictive** (:func:`replay_predictive`), AWS predictive scaling: the count for step t is
  ``ceil(forecast_required[t])`` from a forecast issued ``warmup`` ahead; instances launched
  ``warmup`` before t are ready at t when ``warmup >= start-up delay`` and ``delay - warmup``
  steps late otherwise. With ``IncreaseMaxCapacity`` the forecast may exceed ``max_instances``
  by ``max_capacity_buffer`` percent (AWS MaxCapacityBuffer); reactive never does.
* **Hybrid** (:func:`hybrid`): ``max(predictive, reactive)`` clamped to the predictive bounds,
  so it never has fewer instances than either part; both parts honour ``max_step``, hence so does
  their maximum. In **forecast-only** mode the predictive part is only reported and the pool
  follows the reactive one. **Fallback** (:func:`forecast_fallback`): where the forecast's mean
  relative error over the steps of the last window (strictly before t) exceeds the threshold, the
  pool follows the reactive part; each switch is recorded with its step and reason.
  :func:`recent_forecast_error` applies the same rule to published forecasts when a config is
  generated.

Replay (:func:`simulate_service`): a service's history through these and the Crane-DSP-like and
AHPA-like peers (:mod:`.predictors`), fed only forecasts that could have been made at each decision
(:func:`seasonal_naive_forecasts` moved to a quantile by :func:`residual_quantile_offsets`, or the
``predictor`` key's peer), scored by :func:`score_pool`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan.core.config import AutoscalingPolicy
from capplan.core.errors import CapplanError

from ._common import ceil_tol, require_columns

SCALED_RESOURCES = ("cpu", "memory", "rps", "network")  # storage does not scale with instances
POLICY_INVENTORY_COLUMNS = (
    "service",
    "resource",
    "capacity_per_instance",
    "target_utilization",
    "max_instances",
    "cost_per_instance_hour",
)
_TOL = 1e-9
_MAX_PERIODS = 64.0  # rate policies compounded over more periods than this are unlimited anyway


@dataclass(frozen=True)
class Steps:
    """A policy on a replay grid of ``step_s`` seconds: durations as whole steps."""

    step_s: float
    delay: int  # start-up delay, rounded up: a part-step delay leaves the whole step short
    warmup: int
    up_window: int
    down_window: int
    fallback_window: int
    decision: int = 1  # predictive holds one count per this many steps

    @classmethod
    def of(cls, policy: AutoscalingPolicy, step_s: float) -> Steps:
        if not step_s > 0:
            raise CapplanError(f"the replay step must be > 0 seconds, got {step_s!r}")

        def up(seconds: float) -> int:
            return int(math.ceil(seconds / step_s - _TOL)) if seconds > 0 else 0

        return cls(
            step_s=float(step_s),
            delay=up(policy.startup_delay_s),
            warmup=up(policy.warmup_s),
            up_window=max(1, up(policy.scale_up_stabilization_s)),
            down_window=max(1, up(policy.scale_down_stabilization_s)),
            fallback_window=max(1, up(policy.fallback_window_s)),
            decision=max(1, int(round(policy.decision_interval_s / step_s))),
        )


def required_instances(loads: dict[str, np.ndarray], capacity: dict[str, float], util: dict[str, float]):
    """``(required, binding)``: per step, the max over scaled resources of ``load / (K x u)`` and
    the resource that gives it. Resources outside :data:`SCALED_RESOURCES` are ignored."""
    names = [r for r in loads if r in SCALED_RESOURCES]
    if not names:
        raise CapplanError(
            f"no scaled resource among {sorted(loads)}; need one of {', '.join(SCALED_RESOURCES)}"
        )
    for r in names:
        if not (capacity[r] > 0 and 0 < util[r] <= 1):
            raise CapplanError(f"{r}: need capacity_per_instance > 0 and target_utilization in (0, 1]")
    stack = np.vstack([np.maximum(np.asarray(loads[r], float), 0.0) / (capacity[r] * util[r]) for r in names])
    if not np.all(np.isfinite(stack)):
        raise CapplanError("loads must be finite")
    return stack.max(axis=0), np.asarray(names, dtype=object)[stack.argmax(axis=0)]


def _bounds(policy: AutoscalingPolicy, max_instances: float | None) -> tuple[int, float]:
    hi = policy.max_instances if policy.max_instances is not None else max_instances
    hi = math.inf if hi is None or not np.isfinite(hi) else float(hi)
    if hi < policy.min_instances:
        raise CapplanError(f"max_instances {hi:g} is below min_instances {policy.min_instances}")
    return policy.min_instances, hi


def predictive_cap(policy: AutoscalingPolicy, hi: float) -> float:
    """The most instances the predictive part may ask for (AWS MaxCapacityBreachBehavior)."""
    if policy.max_capacity_breach == "IncreaseMaxCapacity" and np.isfinite(hi):
        return float(math.floor(hi * (1 + policy.max_capacity_buffer / 100) + _TOL))
    return hi


def _rate_limits(
    policy: AutoscalingPolicy, spec_hist: list[int], t: int, steps: Steps
) -> tuple[float, float]:
    """(lowest, highest) count the rate policies allow at step t (Kubernetes' calculation on a
    coarse grid: the count ``ceil(period / step)`` steps back is the period's start, and a step
    longer than the period compounds the policy ``step / period`` times)."""

    def limit(rule, up: bool) -> float:
        back = max(1, int(math.ceil(rule.period_s / steps.step_s - _TOL)))
        base = spec_hist[max(0, t - back)]
        times = min(max(1.0, steps.step_s / rule.period_s), _MAX_PERIODS)
        if rule.type == "Pods":
            return base + rule.value * times if up else base - rule.value * times
        factor = (1 + rule.value / 100) ** times if up else max(0.0, 1 - rule.value / 100) ** times
        return math.ceil(base * factor - _TOL) if up else math.floor(base * factor + _TOL)

    ups = [limit(r, True) for r in policy.scale_up_policies]
    downs = [limit(r, False) for r in policy.scale_down_policies]
    if policy.select_policy == "Max":
        return min(downs), max(ups)
    return max(downs), min(ups)


def _recommend(policy, required_prev: float, need_prev: int, ready: int, spec: int) -> int:
    """HPA's raw recommendation from the previous step's load on the ``ready`` instances:
    ``ceil(ready x metric/target)`` = ``need_prev``, or ``spec`` within the tolerance."""
    if ready > 0 and abs(required_prev / ready - 1.0) <= policy.tolerance:
        return spec
    return need_prev


def _clamp(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)


def replay_hpa(
    required,
    policy: AutoscalingPolicy,
    steps: Steps,
    *,
    max_instances: float | None = None,
    initial: int | None = None,
) -> np.ndarray:
    """Instances in service per step under HPA target tracking (int64; rules in the module doc).

    Step 0 runs ``initial`` (default ``ceil(required[0])``), clamped: settled on its load."""
    req = _finite(required, "required")
    lo, hi = _bounds(policy, max_instances)
    n = req.size
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    need = ceil_tol(req).astype(np.int64).tolist()
    reqs = req.tolist()
    spec = int(_clamp(need[0] if initial is None else initial, lo, hi))
    ready, launching = spec, [0] * (n + steps.delay + 1)
    spec_hist, recs = [spec], [spec]
    out[0] = ready
    for t in range(1, n):
        ready += launching[t]
        rec = _recommend(policy, reqs[t - 1], need[t - 1], ready, spec)
        recs.append(rec)
        if rec > spec:
            want = max(spec, min(recs[-steps.up_window :]))
        elif rec < spec:
            want = min(max(recs[-steps.down_window :]), spec)
        else:
            want = spec
        low, high = _rate_limits(policy, spec_hist, t, steps)
        want = int(_clamp(want, low, high))
        if policy.max_step is not None:
            want = int(_clamp(want, spec - policy.max_step, spec + policy.max_step))
        new = int(_clamp(want, lo, hi))
        if new > spec:
            launching[t + steps.delay] += new - spec
        elif new < spec:
            cut = spec - new
            for s in range(t + steps.delay, t, -1):  # cancel the latest pending launches first
                take = min(cut, launching[s])
                launching[s] -= take
                cut -= take
            ready -= cut
        if steps.delay == 0:
            ready += launching[t]
            launching[t] = 0
        spec = new
        spec_hist.append(spec)
        out[t] = ready
    return out


def _finite(values, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise CapplanError(f"{what} must be a one-dimensional array of finite numbers")
    return arr


def _limit_steps(counts: np.ndarray, max_step: int | None) -> np.ndarray:
    if max_step is None or counts.size == 0:
        return counts
    out = counts.copy()
    for t in range(1, out.size):
        out[t] = np.clip(out[t], out[t - 1] - max_step, out[t - 1] + max_step)
    return out


def _hold(want: np.ndarray, block: int) -> np.ndarray:
    """Each run of ``block`` steps (from step 0) holds the peak of ``want`` over the run."""
    if block <= 1 or want.size == 0:
        return want
    pad = (-want.size) % block
    padded = np.concatenate([want, np.full(pad, want.min())]) if pad else want
    return np.repeat(padded.reshape(-1, block).max(axis=1), block)[: want.size]


def _stabilize_down(want: np.ndarray, window: int, min_scale_in: int) -> np.ndarray:
    """Scale-in only to the highest count of the last ``window`` steps, and only by at least
    ``min_scale_in`` instances; increases apply at once."""
    if window > 1 and want.size:
        padded = np.concatenate([np.full(window - 1, want[0]), want])
        want = np.lib.stride_tricks.sliding_window_view(padded, window).max(axis=1)
    if min_scale_in <= 1 or want.size == 0:
        return want
    out, cur = want.copy(), int(want[0])
    for t, w in enumerate(want.tolist()):
        if w > cur or cur - w >= min_scale_in:
            cur = w
        out[t] = cur
    return out


def replay_predictive(
    forecast_required,
    policy: AutoscalingPolicy,
    steps: Steps,
    *,
    max_instances: float | None = None,
) -> np.ndarray:
    """Instances in service per step from the forecast (int64; rules in the module doc).

    ``forecast_required[t]``: the required instances forecast for step t by a forecast issued at
    least ``warmup`` before the start of t's decision interval (the caller guarantees it). A step with no forecast (NaN) asks for
    ``min_instances``. Against churn, as AWS predictive scaling issues hourly capacity: the count
    ``ceil(forecast x (1 + forecast_margin))`` is held per ``decision_interval_s`` at its peak
    over the interval, a scale-in waits for the scale-down stabilization window (the highest
    count of the window holds) and is skipped when smaller than ``min_scale_in``."""
    f = np.asarray(forecast_required, dtype=float)
    if f.ndim != 1:
        raise CapplanError("forecast_required must be one-dimensional")
    lo, hi = _bounds(policy, max_instances)
    f = np.nan_to_num(np.maximum(f, 0.0), nan=0.0) * (1.0 + policy.forecast_margin)
    want = np.clip(ceil_tol(f), lo, predictive_cap(policy, hi)).astype(np.int64)
    want = _stabilize_down(_hold(want, steps.decision), steps.down_window, policy.min_scale_in)
    lag = max(0, steps.delay - steps.warmup)
    if lag and want.size > lag:  # launched too late: an increase arrives `lag` steps after it is due
        want = want.copy()
        want[lag:] = np.minimum(want[lag:], want[:-lag])
    return _limit_steps(want.astype(np.int64), policy.max_step)


def hybrid(predictive, reactive, policy: AutoscalingPolicy, *, max_instances: float | None = None):
    """``max(predictive, reactive)`` within ``[min_instances, predictive cap]`` (int64)."""
    p, r = np.asarray(predictive), np.asarray(reactive)
    if p.shape != r.shape:
        raise CapplanError(f"policies must have the same length, got {p.shape} and {r.shape}")
    lo, hi = _bounds(policy, max_instances)
    return np.clip(np.maximum(p, r), lo, predictive_cap(policy, hi)).astype(np.int64)


def forecast_fallback(actual_required, forecast_required, window: int, threshold: float):
    """``(fallback, events)``: per step, True where the forecast's mean relative error
    ``|forecast - actual| / max(actual, 1)`` over the last ``window`` steps strictly before t
    (those with a forecast) exceeds ``threshold``; ``events`` lists each switch as
    ``(step, "fallback" | "recovered", reason)``."""
    a = _finite(actual_required, "actual_required")
    f = np.asarray(forecast_required, dtype=float)
    if f.shape != a.shape or window < 1:
        raise CapplanError("forecast_fallback needs equal lengths and window >= 1")
    err = np.abs(f - a) / np.maximum(a, 1.0)
    have = np.isfinite(err)
    csum = np.concatenate([[0.0], np.cumsum(np.where(have, err, 0.0))])
    ccnt = np.concatenate([[0], np.cumsum(have)])
    t = np.arange(a.size)
    start = np.maximum(0, t - window)
    total, count = csum[t] - csum[start], ccnt[t] - ccnt[start]
    mean = np.divide(total, count, out=np.zeros(a.size), where=count > 0)
    fallback = (count > 0) & (mean > threshold)
    events = []
    for s in np.flatnonzero(np.diff(np.concatenate([[False], fallback])).astype(bool)):
        kind = "fallback" if fallback[s] else "recovered"
        events.append(
            (
                int(s),
                kind,
                f"forecast mean relative error {mean[s]:.2f} over the last {int(count[s])} step(s) "
                f"{'exceeds' if fallback[s] else 'back within'} {threshold:g}",
            )
        )
    return fallback, events


def pool(
    policy: AutoscalingPolicy, parts: dict[str, np.ndarray], fallback: np.ndarray, **bounds
) -> np.ndarray:
    """The count the service's pool runs under ``policy.mode`` (forecast-only and fallback
    included): ``parts`` holds ``reactive`` and ``predictive``."""
    react, pred = parts["reactive"], parts["predictive"]
    if policy.mode == "reactive" or policy.forecast_only:
        return react
    chosen = pred if policy.mode == "predictive" else hybrid(pred, react, policy, **bounds)
    return np.where(fallback, react, chosen).astype(np.int64)


def recent_forecast_error(
    frame: pd.DataFrame, inventory: pd.DataFrame, service: str, policy: AutoscalingPolicy
) -> tuple[float, str | None]:
    """``(error, reason)`` for generating a config now: the mean relative error of the latest
    vintage's median forecast against the actuals over the last ``fallback_window_s`` of
    ``frame`` (``resource, ds, created_at, forecast, y``), in required instances of the binding
    resource; ``reason`` names the fallback when the error exceeds ``fallback_error`` (else
    None). No scored forecast: error NaN, no fallback."""
    if frame.empty:
        return float("nan"), None
    latest = frame.sort_values("created_at").drop_duplicates(["resource", "ds"], keep="last")
    end = latest["ds"].max()
    recent = latest[latest["ds"] > end - pd.Timedelta(seconds=policy.fallback_window_s)]
    size = service_sizing(inventory, service, policy)
    fc = recent.pivot_table(index="ds", columns="resource", values="forecast", aggfunc="sum")
    y = recent.pivot_table(index="ds", columns="resource", values="y", aggfunc="sum")
    names = [r for r in y.columns if r in size["capacity"]]
    if not names:
        return float("nan"), None
    both = y[names].notna().all(axis=1) & fc[names].notna().all(axis=1)
    if not both.any():
        return float("nan"), None
    args = (size["capacity"], size["util"])
    actual, _ = required_instances({r: y.loc[both, r].to_numpy(float) for r in names}, *args)
    forecast, _ = required_instances({r: fc.loc[both, r].to_numpy(float) for r in names}, *args)
    error = float(np.mean(np.abs(forecast - actual) / np.maximum(actual, 1.0)))
    if error <= policy.fallback_error:
        return error, None
    return error, (
        f"forecast mean relative error {error:.2f} over {int(both.sum())} step(s) to {end} exceeds "
        f"fallback_error {policy.fallback_error:g}: reactive only"
    )


# --- forecasts a decision could have had ------------------------------------------------------


def seasonal_naive_forecasts(y, season: int, refresh: int, horizon: int, warmup: int = 0, block: int = 1):
    """``(forecast, issued_at)``: for each step t, the value a seasonal-naive forecast (same step
    one season earlier) issued at the latest refresh ``c <= b - warmup`` with ``t < c + horizon``
    gives for t, and that ``c`` (-1 and NaN where none exists), where ``b`` is the start of t's
    decision interval of ``block`` steps (t itself for block 1): a count held over the interval
    is decided at its start. Issues are every ``refresh`` steps from ``season``; the forecast of
    an issue at c reads only ``y[:c]`` (strictly before the decision):
    ``y[c - season + (h mod season)]`` for ``t = c + h``."""
    y = _finite(y, "y")
    if min(season, refresh, horizon) < 1 or warmup < 0:
        raise CapplanError("season, refresh and horizon must be >= 1 and warmup >= 0")
    n = y.size
    t = np.arange(n)
    latest = (t // max(1, block)) * max(1, block) - warmup
    c = np.where(latest >= season, season + ((latest - season) // refresh) * refresh, -1)
    ok = (c >= season) & (t < c + horizon)
    src = c - season + np.mod(t - c, season)
    fc = np.full(n, np.nan)
    fc[ok] = y[src[ok]]
    return fc, np.where(ok, c, -1)


def residual_quantile_offsets(y, issued_at, season: int, quantile: float | None) -> np.ndarray:
    """Per step, the ``quantile`` of the seasonal-naive residuals ``y[s] - y[s - season]`` over
    the season before its issue ``c`` (``c - season <= s < c``: data strictly before the
    decision), so ``forecast + offset`` is that quantile's forecast (split-conformal, as the
    project's baselines do). 0 without a quantile, without an issue or without residuals yet."""
    y = _finite(y, "y")
    issued = np.asarray(issued_at)
    out = np.zeros(y.size)
    if quantile is None:
        return out
    res = np.full(y.size, np.nan)
    res[season:] = y[season:] - y[:-season]
    for c in np.unique(issued[issued >= 0]):
        past = res[max(season, c - season) : c]
        if past.size:
            out[issued == c] = np.quantile(past, quantile)
    return out


# --- a service's pool: inventory rows to kernels, replay, scores ------------------------------


def service_sizing(inventory: pd.DataFrame, service: str, policy: AutoscalingPolicy) -> dict:
    """Capacity, target utilization (the policy's overrides the inventory's), max instances and
    price of ``service``'s pool from its inventory rows (scaled resources only)."""
    require_columns(inventory, POLICY_INVENTORY_COLUMNS, "inventory")
    rows = inventory[(inventory["service"] == service) & inventory["resource"].isin(SCALED_RESOURCES)]
    if rows.empty:
        raise CapplanError(
            f"inventory has no row for service {service!r} with a scaled resource ({', '.join(SCALED_RESOURCES)})"
        )
    util = {
        r: float(policy.target_utilization or u)
        for r, u in zip(rows["resource"], rows["target_utilization"], strict=True)
    }
    mx = pd.to_numeric(rows["max_instances"], errors="coerce").dropna()
    return {
        "capacity": dict(zip(rows["resource"], rows["capacity_per_instance"].astype(float), strict=True)),
        "util": util,
        "max_instances": float(mx.min()) if len(mx) else None,
        "cost_per_instance_hour": float(rows["cost_per_instance_hour"].max()),
    }


SIM_POLICIES = ("reactive", "predictive", "hybrid", "crane_dsp", "ahpa")
SCORE_COLUMNS = (
    "service",
    "policy",
    "steps",
    "under_provisioned_minutes",
    "peak_shortfall",
    "instance_hours",
    "cost",
    "mean_utilization",
    "scaling_actions",
)


def score_pool(counts, required_slo, util_ratio, step_s: float, price: float) -> dict:
    """Scores of one count series: ``required_slo[t]`` is the binding demand in instances at the
    SLO utilization, ``util_ratio[t]`` the binding demand in instances at 100%."""
    c = np.asarray(counts, dtype=float)
    short = required_slo - c
    under = short > _TOL * np.maximum(1.0, c)
    hours = float(c.sum() * step_s / 3600)
    live = c > 0
    return {
        "steps": int(c.size),
        "under_provisioned_minutes": float(under.sum() * step_s / 60),
        "peak_shortfall": float(max(0.0, short.max())) if c.size else 0.0,
        "instance_hours": hours,
        "cost": hours * price,
        "mean_utilization": float((util_ratio[live] / c[live]).mean()) if live.any() else float("nan"),
        "scaling_actions": int(np.count_nonzero(np.diff(c))),
    }


@dataclass(frozen=True)
class Simulation:
    """A replay: ``scores`` (one row per policy, :data:`SCORE_COLUMNS`), ``events`` (the hybrid's
    fallback switches: ``ds``, ``event``, ``reason``) and ``counts`` (per ``ds``: ``required``,
    its ``binding`` resource, ``required_slo`` and ``util_ratio`` (what :func:`score_pool` reads),
    the seasonal-naive ``point`` forecast (what the fallback judges), the ``forecast`` at the
    quantile (what predictive sizes for), ``issued_at`` and each policy's instances)."""

    scores: pd.DataFrame
    events: list[dict]
    counts: pd.DataFrame


def _grid(use: pd.DataFrame, service: str) -> tuple[pd.DataFrame, float]:
    """Usage per ``ds`` x resource on its most common step; a missing step repeats the last
    value seen (never a later one), a resource not yet reporting counts as 0."""
    wide = use.pivot_table(index="ds", columns="resource", values="y", aggfunc="sum").sort_index()
    if len(wide) < 2:
        raise CapplanError(f"history of {service!r} has fewer than 2 timestamps")
    step = pd.Series(wide.index).diff().dropna().mode().iloc[0]
    full = pd.date_range(wide.index[0], wide.index[-1], freq=step)
    if not set(wide.index) <= set(full):
        raise CapplanError(f"history of {service!r} is not on one grid of {step}")
    return wide.reindex(full).ffill().fillna(0.0), pd.Timedelta(step).total_seconds()


def simulate_service(
    usage: pd.DataFrame,
    inventory: pd.DataFrame,
    service: str,
    policy: AutoscalingPolicy,
    *,
    season_s: int = 7 * 86400,
    quantile: float | None = None,
) -> Simulation:
    """Replay ``service``'s stored usage (``resource, ds, y``) through the reactive, predictive
    and hybrid policies, each scored on the same steps: those with a forecast.

    Predictive uses a seasonal-naive forecast (the same time ``season_s`` earlier) refreshed
    every ``forecast_refresh_s`` for ``forecast_horizon_s`` and issued ``warmup_s`` ahead, moved
    to ``quantile`` (``[planning] scaling_quantile`` from the CLI) by the residuals of the season
    before each issue (:func:`residual_quantile_offsets`): only data strictly before each decision. The hybrid falls back to reactive on forecast error.
    The reactive part is replayed on its own: the HPA's ``ceil(current x metric/target)`` does
    not depend on the count when the predictive part holds more instances (KEDA computes it so).
    """
    require_columns(usage, ["resource", "ds", "y"], f"usage of {service}")
    use = usage[usage["resource"].isin(SCALED_RESOURCES)]
    if use.empty:
        raise CapplanError(f"no cpu, memory, rps or network history for service {service!r}")
    size = service_sizing(inventory, service, policy)
    wide, step_s = _grid(use, service)
    loads = {r: wide[r].to_numpy(float) for r in wide.columns if r in size["capacity"]}
    if not loads:
        raise CapplanError(
            f"the inventory of {service!r} sizes none of its history's resources {list(wide.columns)}"
        )
    req, binding = required_instances(loads, size["capacity"], size["util"])
    util_ratio, _ = required_instances(loads, size["capacity"], dict.fromkeys(loads, 1.0))
    slo = {r: policy.slo_utilization or size["util"][r] for r in loads}
    req_slo, _ = required_instances(loads, size["capacity"], slo)
    steps = Steps.of(policy, step_s)

    def n_steps(seconds: float) -> int:
        return max(1, round(seconds / step_s))

    season = n_steps(season_s)
    point, issued = seasonal_naive_forecasts(
        req,
        season,
        n_steps(policy.forecast_refresh_s),
        n_steps(policy.forecast_horizon_s),
        steps.warmup,
        steps.decision,
    )
    fc = point + residual_quantile_offsets(req, issued, season, quantile)
    have = np.flatnonzero(np.isfinite(fc))
    peers = {}
    if have.size and ({"crane_dsp", "ahpa"} & set(policy.policies) or policy.predictor != "seasonal_naive"):
        from .predictors import peer_forecasts, use_predictor

        sched = {"season": season, "refresh": n_steps(policy.forecast_refresh_s),
                 "horizon": n_steps(policy.forecast_horizon_s)}  # fmt: skip
        peers = peer_forecasts(req, policy, steps, sched, quantile)
        point, fc = use_predictor(policy.predictor, peers, point, fc)
    if not have.size:
        raise CapplanError(
            f"history of {service!r} ({len(wide)} steps) is too short: the predictive replay needs more "
            f"than one season ({season_s / 86400:g} days) plus the warm-up"
        )
    bounds = {"max_instances": size["max_instances"]}
    parts = {"reactive": replay_hpa(req, policy, steps, **bounds)}
    parts["predictive"] = replay_predictive(fc, policy, steps, **bounds)
    fb, events = forecast_fallback(req, point, steps.fallback_window, policy.fallback_error)
    hybrid_policy = policy.model_copy(update={"mode": "hybrid", "forecast_only": False})
    inner = parts["reactive"]
    if policy.hybrid_reactive_utilization is not None:  # the predictive part covers the rise
        util_h = dict.fromkeys(loads, policy.hybrid_reactive_utilization)
        inner = replay_hpa(required_instances(loads, size["capacity"], util_h)[0], policy, steps, **bounds)
    parts["hybrid"] = pool(hybrid_policy, {**parts, "reactive": inner}, fb, **bounds)
    if {"crane_dsp", "ahpa"} & set(policy.policies):
        from .predictors import peer_parts

        parts.update(peer_parts(req, policy, steps, peers, parts["reactive"], **bounds))
    keep = slice(int(have[0]), None)
    price = size["cost_per_instance_hour"]
    rows = [
        {
            "service": service,
            "policy": name,
            **score_pool(parts[name][keep], req_slo[keep], util_ratio[keep], step_s, price),
        }
        for name in SIM_POLICIES
        if name in policy.policies
    ]
    counts = pd.DataFrame({"ds": wide.index, "required": req, "binding": binding, "required_slo": req_slo,
                           "util_ratio": util_ratio, "point": point, "forecast": fc, "issued_at": issued,
                           **parts})  # fmt: skip
    log = [{"ds": wide.index[s], "event": kind, "reason": why} for s, kind, why in events]
    return Simulation(pd.DataFrame(rows, columns=list(SCORE_COLUMNS)), log, counts)
