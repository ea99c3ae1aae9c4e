"""Inventory sized from the demo's last week of data, and USL load-test curves.

``auth`` and ``payments`` are over-provisioned (~15 % peak utilisation), ``api`` peaks at ~92 % of
its n+1 cpu target (it runs out of cpu within a 14-day horizon), the rest sit near 50 %. ``search``
runs on bought hardware: its rows carry a ``lead_time_days`` of 45 (the others take the config's).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .company import METRIC_UNITS, Service


def _usl(n: np.ndarray | float, sigma: float, kappa: float) -> np.ndarray | float:
    """Relative throughput of n instances: n / (1 + sigma (n-1) + kappa n (n-1))."""
    return n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def _nice(x: float, choices: tuple[float, ...]) -> float:
    for c in choices:
        if c >= x:
            return c
    return float(math.ceil(x / choices[-1]) * choices[-1])


HARDWARE_LEAD_DAYS = {"search": 45.0}  # self-hosted on bought hardware: days from order to serving
_FAMILIES = ((2, "c6i", 0.0425), (4, "m6i", 0.048), (8, "r6i", 0.063), (16, "x2idn", 0.104))
_SIZE_NAMES = {2: "large", 4: "xlarge", 8: "2xlarge", 16: "4xlarge"}


def _size_service(s: Service, peak: dict[str, float]) -> list[dict]:
    """Inventory rows (one per resource) for one service from its recent peaks."""
    if s.sizing == "tight":  # peak at 92 % of the n+1 cpu target
        instances = math.ceil(peak["cpu"] / (s.cores * 0.92 * s.target)) + 1
        target = float(np.clip(round(peak["cpu"] / ((instances - 1) * s.cores * 0.92), 2), 0.6, 0.75))
        rps_util = 0.5
    else:
        util = 0.15 if s.sizing == "over" else 0.5
        instances = max(3, math.ceil(peak["cpu"] / (s.cores * util)))
        target, rps_util = s.target, util
    gib_per_core, family, rate = next(
        (g, f, r) for g, f, r in _FAMILIES if peak["memory"] / (instances * s.cores * g) <= 0.6 or g == 16
    )
    lam = math.ceil(peak["rps"] / (rps_util * _usl(instances, s.sigma, s.kappa)))
    capacity = {
        "cpu": float(s.cores),
        "memory": float(s.cores * gib_per_core),
        "storage": _nice(peak["storage"] / (instances * 0.6), (50, 100, 200, 250, 500, 1000, 2000, 4000)),
        "network": _nice(peak["network"] / (instances * 0.5), (1000, 2500, 5000, 10000, 12500, 25000)),
        "rps": float(lam),
    }
    max_instances = 2 * instances if s.sizing == "tight" else max(3 * instances, instances + 2)
    return [
        {
            "service": s.name,
            "resource": r,
            "capacity_per_instance": capacity[r],
            "unit": METRIC_UNITS[r],
            "instances": instances,
            "target_utilization": target,
            "max_instances": max_instances,
            "cost_per_instance_hour": round(s.cores * rate, 4),
            "instance_type": f"{family}.{_SIZE_NAMES[s.cores]}",
            "lead_time_days": HARDWARE_LEAD_DAYS.get(
                s.name, float("nan")
            ),  # empty: [planning] lead_time_days
        }
        for r in METRIC_UNITS
    ]


def inventory(metrics: pd.DataFrame, services, end) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(inventory, usl)``: one row per service and resource, and each service's USL ground truth."""
    recent = metrics[metrics.ts >= end - pd.Timedelta(days=7)]
    peaks = recent.groupby(["service", "metric"], observed=True)["value"].max()
    rows, usl = [], []
    for s in services:
        sized = _size_service(s, {m: float(peaks[(s.name, m)]) for m in METRIC_UNITS})
        rows += sized
        lam, instances = sized[-1]["capacity_per_instance"], sized[0]["instances"]
        n_slo = min(32, 3 * instances)
        p99 = 3000.0 * s.service_time_s * (1 + s.sigma * (n_slo - 1) + s.kappa * n_slo * (n_slo - 1))
        usl.append((s.name, s.sigma, s.kappa, lam, s.service_time_s, float(math.ceil(p99 / 10) * 10)))
    cols = ["service", "sigma", "kappa", "lam", "service_time_s", "slo_ms"]
    return pd.DataFrame(rows), pd.DataFrame(usl, columns=cols)


def loadtests(usl: pd.DataFrame, seed: int) -> pd.DataFrame:
    """USL load-test curves, 1..32 instances; concurrency per instance fixed at lam x service time.

    By Little's law mean latency = concurrency / throughput; p99 is taken as 3x the mean.
    """
    rng = np.random.default_rng([seed, 2])
    n = np.arange(1, 33)
    parts = []
    for u in usl.itertuples():
        per_instance = max(1, round(u.lam * u.service_time_s))
        concurrency = per_instance * n
        throughput = u.lam * _usl(n, u.sigma, u.kappa) * (1 + rng.normal(0, 0.02, len(n)))
        latency = 3000.0 * concurrency / throughput * (1 + rng.normal(0, 0.04, len(n)))
        parts.append(
            pd.DataFrame(
                {
                    "service": u.service,
                    "instances": n,
                    "concurrency": concurrency,
                    "throughput": np.round(throughput, 2),
                    "latency_p99_ms": np.round(latency, 1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
