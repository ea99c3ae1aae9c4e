"""Cost versus risk of autoscaling policies: sweeps of target utilization, quantile and margin.

:func:`sweep` replays one service (:func:`.autoscale.simulate_service`) for every setting of the
grid and scores each policy on the steps of ``window`` (all scored steps by default):

* ``reactive``: HPA target tracking at each ``target_utilization`` of ``targets``;
* ``predictive``: sized at each ``targets`` value from the forecast at each ``quantile``, times
  ``1 + forecast_margin``;
* ``hybrid``: that predictive part with a reactive part tracking each ``targets`` value at least
  as high (``reactive_utilization``, the ``hybrid_reactive_utilization`` key: the predictive
  part covers the rise).

Risk is measured the same way for every row: demand above the SLO utilization (the policy's
``slo_utilization``, else the lowest inventory target of the service's scaled resources), so a
higher target trades instance-hours for under-provisioned minutes on one scale.
:func:`efficient` marks the rows no other row of the same policy beats on both.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from capplan.core.config import AutoscalingPolicy

from .autoscale import (
    SCALED_RESOURCES,
    SCORE_COLUMNS,
    SIM_POLICIES,
    score_pool,
    service_sizing,
    simulate_service,
)

FRONTIER_COLUMNS = (
    "policy",
    "target_utilization",
    "quantile",
    "forecast_margin",
    "reactive_utilization",
    *SCORE_COLUMNS[SCORE_COLUMNS.index("under_provisioned_minutes") :],
    "efficient",
)
TARGETS = (0.5, 0.6, 0.7, 0.8)
MARGINS = (0.0, 0.1, 0.2)


def slo_of(policy: AutoscalingPolicy, inventory: pd.DataFrame, service: str) -> float:
    """The SLO utilization every swept row is judged at (see the module docstring)."""
    if policy.slo_utilization is not None:
        return policy.slo_utilization
    size = service_sizing(inventory, service, policy.model_copy(update={"target_utilization": None}))
    return min(size["util"][r] for r in size["util"] if r in SCALED_RESOURCES)


def window_scores(sim, policy_name: str, window: slice | np.ndarray | None, step_s: float, price: float):
    """Scores of one policy of a :class:`.autoscale.Simulation` on the steps of ``window``
    (positions in ``sim.counts``; default: the steps with a forecast, as ``sim.scores``)."""
    c = sim.counts
    if window is None:
        window = np.isfinite(c["forecast"].to_numpy(float))
    part = c.iloc[window] if isinstance(window, slice) else c[window]
    return score_pool(
        part[policy_name].to_numpy(float),
        part["required_slo"].to_numpy(float),
        part["util_ratio"].to_numpy(float),
        step_s,
        price,
    )


def efficient(frame: pd.DataFrame) -> pd.Series:
    """True where no row of the same policy has no more under-provisioned minutes and no more
    instance-hours, one of them strictly less (the Pareto frontier per policy)."""
    out = pd.Series(False, index=frame.index)
    for _, grp in frame.groupby("policy", sort=False):
        risk, hours = grp["under_provisioned_minutes"].to_numpy(), grp["instance_hours"].to_numpy()
        for i, idx in enumerate(grp.index):
            beaten = (risk <= risk[i]) & (hours <= hours[i]) & ((risk < risk[i]) | (hours < hours[i]))
            out[idx] = not beaten.any()
    return out


def sweep(
    usage: pd.DataFrame,
    inventory: pd.DataFrame,
    service: str,
    policy: AutoscalingPolicy,
    *,
    quantiles=(0.5, 0.9),  # the first also feeds the reactive rows' simulations (not their scores)
    targets=TARGETS,
    margins=MARGINS,
    season_s: int = 7 * 86400,
    window: slice | np.ndarray | None = None,
) -> pd.DataFrame:
    """:data:`FRONTIER_COLUMNS`, one row per policy and setting (see the module docstring)."""
    base = policy.model_copy(  # the peers are not swept: their replays would only cost time here
        update={"slo_utilization": slo_of(policy, inventory, service), "policies": SIM_POLICIES[:3]}
    )
    price = service_sizing(inventory, service, base)["cost_per_instance_hour"]
    rows = []

    def run(p: AutoscalingPolicy, q: float):
        sim = simulate_service(usage, inventory, service, p, season_s=season_s, quantile=q)
        step_s = (sim.counts["ds"].iloc[1] - sim.counts["ds"].iloc[0]).total_seconds()
        return sim, step_s

    for u in targets:
        sim, step_s = run(base.model_copy(update={"target_utilization": u}), quantiles[0])
        rows.append({"policy": "reactive", "target_utilization": u, "quantile": np.nan, "forecast_margin": np.nan,
                     "reactive_utilization": u, **window_scores(sim, "reactive", window, step_s, price)})  # fmt: skip
    for q, m, up in itertools.product(quantiles, margins, targets):
        for k, uh in enumerate(u for u in targets if u >= up):
            p = base.model_copy(update={"target_utilization": up, "forecast_margin": m,
                                        "hybrid_reactive_utilization": uh})  # fmt: skip
            sim, step_s = run(p, q)
            setting = {"target_utilization": up, "quantile": q, "forecast_margin": m}
            if k == 0:  # the predictive part does not depend on the hybrid's reactive target
                rows.append({"policy": "predictive", **setting, "reactive_utilization": np.nan,
                             **window_scores(sim, "predictive", window, step_s, price)})  # fmt: skip
            rows.append({"policy": "hybrid", **setting, "reactive_utilization": uh,
                         **window_scores(sim, "hybrid", window, step_s, price)})  # fmt: skip
    out = pd.DataFrame(rows)
    return out.assign(efficient=efficient(out))[list(FRONTIER_COLUMNS)]
