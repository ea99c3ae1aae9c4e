"""Autoscaling policies replayed on real cloud traces: hybrid vs reactive, and kernel speed.

Data: ``../shared/data/cloud`` (DataCenter-Traces-Datasets, CC BY 4.0, read from there only):
``azure_v2/vm_cpu_readings_month_aggregated_cpu_mem.csv`` (Azure VM trace v2, total CPU of all
VMs every 5 minutes for 30 days) and ``alibaba2018/machine_usage_days_1_to_8_grouped_300_seconds.csv``
(Alibaba 2018 cluster, mean CPU utilization every 5 minutes for 8 days). Each trace becomes the
cpu demand of one service whose instance is sized so that the trace's peak needs 100 instances
at a 60% target (max 200 instances, 1 $/instance-hour).

Replay: :func:`capplan.planning.autoscale.simulate_service` with the ``[autoscaling]`` defaults
(HPA tolerance 0.1, scale-down stabilization 300 s, start-up delay 300 s, warm-up 300 s,
seasonal-naive forecasts refreshed every 6 h for 48 h, moved to p50 or p90 by the residuals of
the season before, all from data strictly before each decision);
under-provisioned means demand above an 80% SLO utilization (the target is 60%); a weekly
season on Azure (30 days), a daily one on Alibaba (8 days); plus a slow-start case at p90
(start-up delay and warm-up 15 minutes).

Speed: the vectorised forecast and fallback passes (``seasonal_naive_forecasts`` +
``forecast_fallback``) against the same computation written as a per-step Python loop, on the
Azure trace tiled to ``--steps`` steps; both must agree exactly.

Targets: the hybrid has no more under-provisioned minutes than reactive (fewer where reactive
has any) at no more than 25% more instance-hours; the vectorised passes are at least 20x faster than the loop.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS_DIR, format_table, machine_info, verdict, write_json

from capplan.core.config import AutoscalingPolicy
from capplan.planning.autoscale import forecast_fallback, seasonal_naive_forecasts, simulate_service

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cloud"
START = pd.Timestamp("2026-01-05")  # the traces carry offsets only; any Monday will do


def load_traces(data_dir: Path) -> dict[str, tuple[pd.Series, int]]:
    """name -> (cpu demand on a 5-minute grid, season in seconds)."""
    azure = pd.read_csv(data_dir / "azure_v2" / "vm_cpu_readings_month_aggregated_cpu_mem.csv")
    az = pd.Series(
        azure["cpu_usage"].to_numpy(float), index=START + pd.to_timedelta(azure["timestamp"], unit="s")
    )
    ali = pd.read_csv(data_dir / "alibaba2018" / "machine_usage_days_1_to_8_grouped_300_seconds.csv")
    al = pd.Series(
        ali["cpu_util_percent"].to_numpy(float), index=pd.date_range(START, periods=len(ali), freq="5min")
    )
    return {"azure_v2 (30 d, weekly season)": (az, 7 * 86400), "alibaba2018 (8 d, daily season)": (al, 86400)}


def inventory_for(trace: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "service": ["svc"],
            "resource": ["cpu"],
            "capacity_per_instance": [float(trace.max()) / (0.6 * 100)],
            "target_utilization": [0.6],
            "max_instances": [200],
            "cost_per_instance_hour": [1.0],
        }
    )


def replay(traces: dict) -> list[dict]:
    slo = {"slo_utilization": 0.8}
    cases = {
        "p50": (AutoscalingPolicy(**slo), 0.5),
        "p90": (AutoscalingPolicy(**slo), 0.9),
        "p90, slow start (15 min)": (AutoscalingPolicy(**slo, startup_delay_s=900, warmup_s=900), 0.9),
    }
    rows = []
    for name, (trace, season) in traces.items():
        usage = pd.DataFrame({"resource": "cpu", "ds": trace.index, "y": trace.to_numpy()})
        for case, (policy, quantile) in cases.items():
            t0 = time.perf_counter()
            sim = simulate_service(
                usage, inventory_for(trace), "svc", policy, season_s=season, quantile=quantile
            )
            seconds = time.perf_counter() - t0
            for s in sim.scores.to_dict("records"):
                rows.append(
                    {"trace": name, "case": case, "seconds": seconds, "fallbacks": len(sim.events), **s}
                )
    return rows


def loop_forecast_and_fallback(y, season, refresh, horizon, warmup, window, threshold):
    """The same as the vectorised passes, one step at a time (the reference)."""
    n = len(y)
    fc, issued = [float("nan")] * n, [-1] * n
    for t in range(n):
        latest = t - warmup
        if latest < season:
            continue
        c = season + ((latest - season) // refresh) * refresh
        if t < c + horizon:
            fc[t] = y[c - season + (t - c) % season]
            issued[t] = c
    fb = [False] * n
    for t in range(n):
        errs = [abs(fc[s] - y[s]) / max(y[s], 1.0) for s in range(max(0, t - window), t) if fc[s] == fc[s]]
        fb[t] = bool(errs) and sum(errs) / len(errs) > threshold
    return np.array(fc), np.array(issued), np.array(fb)


def speed(trace: pd.Series, steps: int, repeats: int) -> dict:
    y = np.resize(trace.to_numpy(float) / trace.max() * 100, steps)
    args = {"season": 2016, "refresh": 72, "horizon": 576, "warmup": 1}
    window, threshold = 72, 0.5

    def vectorised():
        fc, issued = seasonal_naive_forecasts(y, **args)
        fb, _ = forecast_fallback(y, fc, window, threshold)
        return fc, issued, fb

    best_vec = min(_timed(vectorised) for _ in range(repeats))
    t0 = time.perf_counter()
    ref = loop_forecast_and_fallback(y, **args, window=window, threshold=threshold)
    loop_s = time.perf_counter() - t0
    vec = vectorised()
    same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(vec, ref, strict=True))
    return {
        "steps": steps,
        "vectorised_s": best_vec,
        "loop_s": loop_s,
        "ratio": loop_s / best_vec,
        "equal": same,
    }


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a shorter speed test")
    ap.add_argument("--steps", type=int, default=None, help="steps of the speed test (default 100,000)")
    ap.add_argument("--data", type=Path, default=DATA_DIR)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 1
    traces = load_traces(args.data)
    rows = replay(traces)
    headers = [
        "trace",
        "case",
        "policy",
        "under-prov. min",
        "peak shortfall",
        "instance-h",
        "mean util",
        "actions",
    ]
    table = [
        [
            r["trace"],
            r["case"],
            r["policy"],
            f"{r['under_provisioned_minutes']:,.0f}",
            f"{r['peak_shortfall']:.1f}",
            f"{r['instance_hours']:,.0f}",
            f"{r['mean_utilization']:.3f}",
            r["scaling_actions"],
        ]
        for r in rows
    ]
    print(format_table(headers, table))
    verdicts = []
    for (trace, case), grp in pd.DataFrame(rows).groupby(["trace", "case"], sort=False):
        s = grp.set_index("policy")
        hyb, rea = (
            s.loc["hybrid", "under_provisioned_minutes"],
            s.loc["reactive", "under_provisioned_minutes"],
        )
        fewer = hyb < rea or hyb == rea == 0
        extra = s.loc["hybrid", "instance_hours"] / s.loc["reactive", "instance_hours"] - 1
        ok = fewer and extra <= 0.25
        verdicts.append(ok)
        print(
            f"{trace}, {case}: hybrid under-provisioned "
            f"{s.loc['hybrid', 'under_provisioned_minutes']:,.0f} min vs reactive "
            f"{s.loc['reactive', 'under_provisioned_minutes']:,.0f} min, instance-hours {extra:+.1%}: {verdict(ok)}"
        )
    steps = args.steps or (20_000 if args.quick else 100_000)
    sp = speed(next(iter(traces.values()))[0], steps, 3)
    print(
        f"speed on {steps:,} steps: vectorised {sp['vectorised_s'] * 1000:.1f} ms, loop {sp['loop_s']:.2f} s, "
        f"{sp['ratio']:.0f}x (target 20x: {verdict(sp['ratio'] >= 20)}); outputs equal: {sp['equal']}"
    )
    out = args.out or RESULTS_DIR / ("autoscaling_quick.json" if args.quick else "autoscaling.json")
    write_json(out, {"machine": machine_info(), "replay": rows, "speed": sp, "targets_met": all(verdicts)})
    print(f"results: {out}")
    return 0 if sp["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
