"""Many services at once: :func:`replay_hpa_batch`, HPA target tracking vectorised over services.

The rules are :func:`.autoscale.replay_hpa`'s, step for step (a test replays random cases through
both and asserts equal counts); the loop runs over time only, each step one numpy operation per
rule on a vector of services, so 100 services cost little more than one. Every service shares the
policy; ``max_instances`` may differ per service. :func:`replay_all` adds the predictive, hybrid,
Crane-DSP-like and AHPA-like policies for the speed benchmark.
"""

from __future__ import annotations

import math

import numpy as np

from capplan.core.config import AutoscalingPolicy
from capplan.core.errors import CapplanError

from ._common import ceil_tol
from .autoscale import _MAX_PERIODS, _TOL, Steps, forecast_fallback, hybrid, replay_predictive


def _rules(policy: AutoscalingPolicy, steps: Steps, up: bool) -> list[tuple]:
    """Per rate policy: (steps back to the period's start, kind, amount) on this grid (the
    calculation of :func:`.autoscale._rate_limits`, done once)."""
    out = []
    for rule in policy.scale_up_policies if up else policy.scale_down_policies:
        back = max(1, int(math.ceil(rule.period_s / steps.step_s - _TOL)))
        times = min(max(1.0, steps.step_s / rule.period_s), _MAX_PERIODS)
        if rule.type == "Pods":
            out.append((back, "Pods", rule.value * times))
        else:
            pct = rule.value / 100
            out.append((back, "Percent", (1 + pct) ** times if up else max(0.0, 1 - pct) ** times))
    return out


def _limits(rules: list[tuple], spec_hist: np.ndarray, t: int, up: bool) -> np.ndarray:
    """The count each rule allows at step t, per service (rows: rules)."""
    rows = []
    for back, kind, amount in rules:
        base = spec_hist[max(0, t - back)]
        if kind == "Pods":
            rows.append(base + amount if up else base - amount)
        else:
            rows.append(np.ceil(base * amount - _TOL) if up else np.floor(base * amount + _TOL))
    return rows[0] if len(rows) == 1 else np.stack(rows)


def replay_hpa_batch(required, policy: AutoscalingPolicy, steps: Steps, *, max_instances=None) -> np.ndarray:
    """Instances in service per step and service (int64, shape ``(steps, services)``) for
    ``required`` of shape ``(steps, services)``; ``max_instances``: None, a number or one per
    service (NaN: no cap besides the policy's)."""
    req = np.asarray(required, dtype=float)
    if req.ndim != 2 or not np.all(np.isfinite(req)):
        raise CapplanError("required must be a finite (steps, services) array")
    n, k = req.shape
    hi = (
        np.full(k, np.inf)
        if max_instances is None
        else np.broadcast_to(np.asarray(max_instances, float), (k,))
    )
    hi = np.where(np.isfinite(hi), hi, np.inf)
    if policy.max_instances is not None:
        hi = np.full(k, float(policy.max_instances))
    lo = float(policy.min_instances)
    if np.any(hi < lo):
        raise CapplanError(f"max_instances below min_instances {policy.min_instances} for some service")
    out = np.zeros((n, k), dtype=np.int64)
    if n == 0:
        return out
    need = ceil_tol(req).astype(np.int64)
    spec = np.clip(need[0], lo, hi).astype(np.int64)
    ready = spec.copy()
    launching = np.zeros((n + steps.delay + 1, k), dtype=np.int64)
    spec_hist = np.zeros((n, k), dtype=np.int64)
    recs = np.zeros((n, k), dtype=np.int64)
    spec_hist[0], recs[0], out[0] = spec, spec, ready
    tol, delay = policy.tolerance, steps.delay
    ups, downs = _rules(policy, steps, True), _rules(policy, steps, False)
    pick_max = policy.select_policy == "Max"
    mx, uw, dw = policy.max_step, steps.up_window, steps.down_window
    for t in range(1, n):
        ready += launching[t]
        within = (ready > 0) & (np.abs(req[t - 1] / np.maximum(ready, 1) - 1.0) <= tol)
        rec = np.where(within, spec, need[t - 1])
        recs[t] = rec
        up = np.maximum(spec, rec if uw == 1 else recs[max(0, t - uw + 1) : t + 1].min(axis=0))
        down = np.minimum(rec if dw == 1 else recs[max(0, t - dw + 1) : t + 1].max(axis=0), spec)
        want = np.where(rec > spec, up, np.where(rec < spec, down, spec))
        high, low = _limits(ups, spec_hist, t, True), _limits(downs, spec_hist, t, False)
        if high.ndim == 2:
            high = high.max(axis=0) if pick_max else high.min(axis=0)
        if low.ndim == 2:
            low = low.min(axis=0) if pick_max else low.max(axis=0)
        want = np.trunc(np.minimum(np.maximum(want, low), high))
        if mx is not None:
            want = np.minimum(np.maximum(want, spec - mx), spec + mx)
        new = np.trunc(np.minimum(np.maximum(want, lo), hi)).astype(np.int64)
        diff = new - spec
        if diff.any():
            launching[t + delay] += np.maximum(diff, 0)
            if (diff < 0).any():
                cut = np.maximum(-diff, 0)
                for s in range(t + delay, t, -1):  # cancel the latest pending launches first
                    take = np.minimum(cut, launching[s])
                    launching[s] -= take
                    cut -= take
                ready -= cut
        if delay == 0:
            ready += launching[t]
            launching[t] = 0
        spec = new
        spec_hist[t] = spec
        out[t] = ready
    return out


def replay_all(
    required, forecast, point, policy: AutoscalingPolicy, steps: Steps, *, max_instances=None, peers=None
):
    """``{reactive, predictive, hybrid}`` counts, each ``(steps, services)``, for many services
    sharing ``policy``: the batch HPA, the predictive kernel and the hybrid with its fallback;
    with ``peers`` (:func:`.predictors.peer_forecasts` of the ``(steps, services)`` demand) also
    ``crane_dsp`` (HPA on :func:`.predictors.crane_required`, in the same batch as reactive) and
    ``ahpa``."""
    k = np.shape(required)[1]
    cap = [None] * k if max_instances is None else np.broadcast_to(max_instances, (k,))
    if peers is None:
        react = replay_hpa_batch(required, policy, steps, max_instances=max_instances)
    else:
        from .predictors import ahpa_counts, crane_required

        both_caps = None if max_instances is None else np.concatenate([cap, cap])
        wide = np.hstack([required, crane_required(required, policy, peers)])
        react, crane = np.hsplit(replay_hpa_batch(wide, policy, steps, max_instances=both_caps), 2)
    pred = np.column_stack(
        [replay_predictive(forecast[:, j], policy, steps, max_instances=cap[j]) for j in range(k)]
    )
    both = np.empty_like(react)
    for j in range(k):
        fb, _ = forecast_fallback(required[:, j], point[:, j], steps.fallback_window, policy.fallback_error)
        h = hybrid(pred[:, j], react[:, j], policy, max_instances=cap[j])
        both[:, j] = np.where(fb, react[:, j], h)
    out = {"reactive": react, "predictive": pred, "hybrid": both}
    if peers is not None:
        out["crane_dsp"] = crane
        one = {"dsp_window": peers["dsp_window"]}
        out["ahpa"] = np.column_stack(
            [ahpa_counts(required[:, j], policy, steps,
                         {**one, **{key: peers[key][:, j] for key in ("ahpa", "ahpa_point")}},
                         react[:, j], max_instances=cap[j]) for j in range(k)]
        )  # fmt: skip
    return out
