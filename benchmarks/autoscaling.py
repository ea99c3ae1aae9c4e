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
season on Azure (30 days), a daily one on Alibaba (8 days). The Crane-DSP-like and AHPA-like
peers (:mod:`capplan.planning.predictors`) run beside them; parameters of every policy are
picked on the first half of the scored steps and reported on the second (:func:`tuned`,
:func:`peer_sweep`), the hybrid fed by whichever predictor did best on the first half.

Speed: the vectorised forecast and fallback passes (``seasonal_naive_forecasts`` +
``forecast_fallback``) against the same computation written as a per-step Python loop, on the
Azure trace tiled to ``--steps`` steps; both must agree exactly.

Targets: the hybrid has no more under-provisioned minutes than reactive (fewer where reactive
has any) at no more than 25% more instance-hours; the vectorised passes are at least 20x faster than the loop.
"""

from __future__ import annotations

import argparse
import itertools
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


TARGETS = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8)
QUANTILES = (0.5, 0.7, 0.9)
MARGINS = (0.0, 0.1)
SLO = 0.8


def _usage(trace: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"resource": "cpu", "ds": trace.index, "y": trace.to_numpy()})


def churn(traces: dict) -> list[dict]:
    """Scaling actions per day of the default policies with a decision every step (before) and
    held per hour (after, the default ``decision_interval_s``), over all scored steps."""
    rows = []
    for name, (trace, season) in traces.items():
        for label, kw in (("every step", {"decision_interval_s": 0}), ("hourly (default)", {})):
            p = AutoscalingPolicy(slo_utilization=SLO, **kw)
            sim = simulate_service(
                _usage(trace), inventory_for(trace), "svc", p, season_s=season, quantile=0.5
            )
            for s in sim.scores.to_dict("records"):
                days = s["steps"] * 300 / 86400
                rows.append(
                    {"trace": name, "decisions": label, **s, "actions_per_day": s["scaling_actions"] / days}
                )
    return rows


def windows(trace: pd.Series, season: int) -> tuple[np.ndarray, np.ndarray]:
    """(tuning, test) masks: the scored steps (those with a forecast) split in halves in time."""
    p = AutoscalingPolicy(slo_utilization=SLO)
    sim = simulate_service(_usage(trace), inventory_for(trace), "svc", p, season_s=season, quantile=0.5)
    have = np.flatnonzero(np.isfinite(sim.counts["forecast"].to_numpy(float)))
    mid = have[0] + have.size // 2
    tune, test = np.zeros(len(sim.counts), bool), np.zeros(len(sim.counts), bool)
    tune[have[0] : mid], test[mid:] = True, True
    return tune, test


def pick(front: pd.DataFrame) -> tuple[dict, dict, dict]:
    """On the tuning period: the default reactive (target 0.6), the hybrid with the fewest
    instance-hours at no more under-provisioned minutes than it, and the reactive target with
    the fewest instance-hours at no more under-provisioned minutes than that hybrid (reactive
    tuned to the same risk)."""
    reactive = front[front["policy"] == "reactive"]
    default = reactive[np.isclose(reactive["target_utilization"], 0.6)].iloc[0].to_dict()
    hyb = front[(front["policy"] == "hybrid")]
    ok = hyb[hyb["under_provisioned_minutes"] <= default["under_provisioned_minutes"]]
    best = (
        (ok if len(ok) else hyb)
        .sort_values(["instance_hours", "under_provisioned_minutes"])
        .iloc[0]
        .to_dict()
    )
    same = reactive[reactive["under_provisioned_minutes"] <= best["under_provisioned_minutes"]]
    fair = (same if len(same) else reactive).sort_values("instance_hours").iloc[0].to_dict()
    return default, best, fair


PEER_QUANTILES = (0.5, 0.9)  # AHPA's upper band; the DSP has none


def peer_sweep(usage, inv, season: int, tune: np.ndarray, naive: dict) -> pd.DataFrame:
    """On the tuning steps: the crane_dsp and ahpa policies, and the hybrid fed by each of
    their forecasts (``predictor``), at each target and margin (and AHPA band quantile); the
    hybrid's reactive part tracks the seasonal-naive hybrid's picked reactive target (or the
    target, if higher)."""
    from capplan.planning.scaling_frontier import window_scores

    rows = []
    for predictor, quantiles in (("crane_dsp", (0.5,)), ("ahpa", PEER_QUANTILES)):
        for u, m, q in itertools.product(TARGETS, MARGINS, quantiles):
            uh = max(u, naive["reactive_utilization"])
            p = AutoscalingPolicy(slo_utilization=SLO, target_utilization=u, forecast_margin=m, predictor=predictor,
                                  hybrid_reactive_utilization=uh, policies=("reactive", "predictive", "hybrid", predictor))  # fmt: skip
            sim = simulate_service(usage, inv, "svc", p, season_s=season, quantile=q)
            setting = {"predictor": predictor, "target_utilization": u, "quantile": q, "forecast_margin": m}
            rows.append({"policy": predictor, **setting, "reactive_utilization": u,
                         **window_scores(sim, predictor, tune, 300.0, 1.0)})  # fmt: skip
            rows.append({"policy": "hybrid", **setting, "reactive_utilization": uh,
                         **window_scores(sim, "hybrid", tune, 300.0, 1.0)})  # fmt: skip
    return pd.DataFrame(rows)


def pick_best(rows: pd.DataFrame, default: dict) -> dict:
    """The fewest instance-hours at no more under-provisioned minutes than the default reactive
    on the tuning period (the fewest minutes, then hours, when none is as safe)."""
    ok = rows[rows["under_provisioned_minutes"] <= default["under_provisioned_minutes"]]
    order = (
        ["instance_hours", "under_provisioned_minutes"]
        if len(ok)
        else ["under_provisioned_minutes", "instance_hours"]
    )
    return (ok if len(ok) else rows).sort_values(order, kind="stable").iloc[0].to_dict()


def tuned(traces: dict, out_dir: Path) -> tuple[list[dict], dict]:
    """Parameters picked on the first half of each trace's scored steps, reported on the second."""
    from capplan.planning.scaling_frontier import sweep, window_scores
    from capplan.reporting.scaling_plot import frontier_png

    rows, picks = [], {}
    for name, (trace, season) in traces.items():
        usage, inv = _usage(trace), inventory_for(trace)
        tune, test = windows(trace, season)
        t0 = time.perf_counter()
        front = sweep(usage, inv, "svc", AutoscalingPolicy(slo_utilization=SLO), quantiles=QUANTILES,
                      targets=TARGETS, margins=MARGINS, season_s=season, window=tune)  # fmt: skip
        sweep_s = time.perf_counter() - t0
        stem = name.split(" ")[0]
        (out_dir / f"autoscaling_frontier_{stem}.png").write_bytes(
            frontier_png(front, f"{name}: tuning period, {len(front)} settings (SLO utilization {SLO:g})")
        )
        default, naive, fair = pick(front)
        t0 = time.perf_counter()
        peer = peer_sweep(usage, inv, season, tune, naive)
        peer_s = time.perf_counter() - t0
        best = pick_best(pd.concat([front[front["policy"] == "hybrid"].assign(predictor="seasonal_naive"),
                                    peer[peer["policy"] == "hybrid"]]), default)  # fmt: skip
        chosen = {k: pick_best(peer[peer["policy"] == k], default) for k in ("crane_dsp", "ahpa")}
        picks[name] = {"default_reactive": default, "hybrid_seasonal_naive": naive, "hybrid": best,
                       "reactive_same_risk": fair, "sweep_seconds": sweep_s, "settings": len(front),
                       "peer_sweep_seconds": peer_s, "peer_settings": len(peer), **chosen}  # fmt: skip

        def setting(row: dict) -> AutoscalingPolicy:
            uh = row.get("reactive_utilization")
            return AutoscalingPolicy(
                slo_utilization=SLO, target_utilization=row["target_utilization"],
                forecast_margin=row["forecast_margin"], predictor=row.get("predictor", "seasonal_naive"),
                hybrid_reactive_utilization=None if uh is None or uh != uh else uh,
            )  # fmt: skip

        cases = {
            "reactive (HPA, target 0.6)": (AutoscalingPolicy(slo_utilization=SLO, target_utilization=0.6), "reactive", 0.5),
            f"reactive (target {fair['target_utilization']:g}: same risk)": (
                AutoscalingPolicy(slo_utilization=SLO, target_utilization=fair["target_utilization"]), "reactive", 0.5),
            "predictive (picked)": (setting(best), "predictive", best["quantile"]),
            "crane_dsp (picked)": (setting(chosen["crane_dsp"]), "crane_dsp", chosen["crane_dsp"]["quantile"]),
            "ahpa (picked)": (setting(chosen["ahpa"]), "ahpa", chosen["ahpa"]["quantile"]),
            "hybrid, seasonal naive (picked)": (setting(naive), "hybrid", naive["quantile"]),
            "hybrid (picked)": (setting(best), "hybrid", best["quantile"]),
        }  # fmt: skip
        for case, (policy, part, q) in cases.items():
            sim = simulate_service(usage, inv, "svc", policy, season_s=season, quantile=q)
            for period, mask in (("tuning", tune), ("test", test)):
                score = window_scores(sim, part, mask, 300.0, 1.0)
                rows.append({"trace": name, "period": period, "policy": case, **score})
    return rows, picks


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


def fleet(trace: pd.Series, services: int, days: int = 30) -> np.ndarray:
    """``(minutes, services)`` required instances: the Azure trace on a 1-minute grid (linear
    between its 5-minute readings), each service scaled to a peak of 10 to 100 instances with its
    own noise (seeded)."""
    rng = np.random.default_rng(7)
    n = days * 1440
    base = np.interp(np.arange(n) / 5.0, np.arange(trace.size), trace.to_numpy(float))
    base = base / base.max()
    peaks = rng.uniform(10, 100, services)
    return np.maximum(base[:, None] * peaks[None, :] * rng.normal(1.0, 0.05, (n, services)), 0.0)


def fleet_speed(trace: pd.Series, services: int, loop_services: int) -> dict:
    """Every policy (reactive HPA, predictive from walk-forward forecasts, hybrid with fallback, the
    Crane-DSP-like and AHPA-like peers with their walk-forward forecasts) for
    ``services`` services x 30 days of 1-minute demand, batched (:mod:`capplan.planning.autoscale_batch`),
    against the per-service Python loop (:func:`replay_hpa`) on the first ``loop_services``."""
    from capplan.planning.autoscale import Steps, replay_hpa, residual_quantile_offsets
    from capplan.planning.autoscale_batch import replay_all
    from capplan.planning.predictors import peer_forecasts

    req = fleet(trace, services)
    policy = AutoscalingPolicy(slo_utilization=SLO)
    steps = Steps.of(policy, 60)
    season, refresh, horizon = 1440, policy.forecast_refresh_s // 60, policy.forecast_horizon_s // 60

    def forecasts(cols):
        point, fc = np.empty((req.shape[0], len(cols))), np.empty((req.shape[0], len(cols)))
        for i, j in enumerate(cols):
            point[:, i], issued = seasonal_naive_forecasts(req[:, j], season, refresh, horizon, steps.warmup,
                                                           steps.decision)  # fmt: skip
            fc[:, i] = point[:, i] + residual_quantile_offsets(req[:, j], issued, season, 0.9)
        return point, fc

    sched = {"season": season, "refresh": refresh, "horizon": horizon}
    t0 = time.perf_counter()
    point, fc = forecasts(range(services))
    peers = peer_forecasts(req, policy, steps, sched, 0.9)
    out = replay_all(req, fc, point, policy, steps, max_instances=200, peers=peers)
    batch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lp, lf = forecasts(range(loop_services))
    loop = {"reactive": np.column_stack([replay_hpa(req[:, j], policy, steps, max_instances=200)
                                         for j in range(loop_services)])}  # fmt: skip
    loop_s = time.perf_counter() - t0
    same = np.array_equal(loop["reactive"], out["reactive"][:, :loop_services])
    per_service_loop = loop_s / loop_services
    return {
        "services": services, "minutes": int(req.shape[0]), "batch_s": batch_s, "loop_services": loop_services,
        "loop_s": loop_s, "loop_s_per_service": per_service_loop,
        "loop_s_for_all_estimated": per_service_loop * services, "reactive_equal": bool(same),
        "actions_per_service_day": {k: float(np.count_nonzero(np.diff(v, axis=0)) / services / 30)
                                    for k, v in out.items()},
    }  # fmt: skip


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a shorter speed test")
    ap.add_argument("--steps", type=int, default=None, help="steps of the speed test (default 100,000)")
    ap.add_argument("--services", type=int, default=100, help="services of the fleet speed test")
    ap.add_argument("--loop-services", type=int, default=5, help="of them, replayed by the Python loop too")
    ap.add_argument("--data", type=Path, default=DATA_DIR)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 1
    traces = load_traces(args.data)
    out_dir = args.out.parent if args.out else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    ch = churn(traces)
    print("Churn of the default policies (p50), all scored steps:")
    print(format_table(
        ["trace", "decisions", "policy", "actions", "per day", "under-prov. min", "instance-h"],
        [[r["trace"], r["decisions"], r["policy"], r["scaling_actions"], f"{r['actions_per_day']:.1f}",
          f"{r['under_provisioned_minutes']:,.0f}", f"{r['instance_hours']:,.0f}"] for r in ch],
    ))  # fmt: skip
    rows, picks = tuned(traces, out_dir)
    for name, p in picks.items():
        b = p["hybrid"]
        print(f"{name}: picked on the tuning period from {p['settings']} + {p['peer_settings']} settings "
              f"({p['sweep_seconds']:.0f} + {p['peer_sweep_seconds']:.0f} s): hybrid fed by {b['predictor']}, "
              f"predictive target {b['target_utilization']:g} at p{b['quantile'] * 100:g} "
              f"+{b['forecast_margin']:.0%}, reactive part target {b['reactive_utilization']:g}; "
              f"reactive at the same risk: target {p['reactive_same_risk']['target_utilization']:g}; "
              + "; ".join(f"{k} target {p[k]['target_utilization']:g} +{p[k]['forecast_margin']:.0%}"
                          + (f" p{p[k]['quantile'] * 100:g}" if k == "ahpa" else "") for k in ("crane_dsp", "ahpa")))  # fmt: skip
    headers = ["trace", "period", "policy", "under-prov. min", "peak shortfall", "instance-h", "mean util",
               "actions"]  # fmt: skip
    table = [
        [r["trace"], r["period"], r["policy"], f"{r['under_provisioned_minutes']:,.0f}",
         f"{r['peak_shortfall']:.1f}", f"{r['instance_hours']:,.0f}", f"{r['mean_utilization']:.3f}",
         r["scaling_actions"]]
        for r in rows
    ]  # fmt: skip
    print(format_table(headers, table))
    verdicts = []
    for trace, grp in pd.DataFrame(rows).query("period == 'test'").groupby("trace", sort=False):
        s = grp.set_index("policy")
        hyb, rea = s.loc["hybrid (picked)"], s.loc["reactive (HPA, target 0.6)"]
        fair = s[s.index.str.contains("same risk")].iloc[0]
        saving = 1 - hyb["instance_hours"] / rea["instance_hours"]
        ok = (saving >= 0.2 and hyb["under_provisioned_minutes"] <= rea["under_provisioned_minutes"]) or (
            hyb["under_provisioned_minutes"] < rea["under_provisioned_minutes"] and saving >= 0
        )
        verdicts.append(ok)
        print(
            f"{trace}, test period: hybrid {hyb['instance_hours']:,.0f} instance-h, "
            f"{hyb['under_provisioned_minutes']:,.0f} under-prov. min vs reactive (0.6) "
            f"{rea['instance_hours']:,.0f} h, {rea['under_provisioned_minutes']:,.0f} min: {saving:+.1%} fewer "
            f"instance-hours (target >= 20% at no more under-prov. min, or fewer min at no more cost): {verdict(ok)}; "
            f"vs reactive at the same risk ({fair['instance_hours']:,.0f} h, {fair['under_provisioned_minutes']:,.0f} "
            f"min): {1 - hyb['instance_hours'] / fair['instance_hours']:+.1%} fewer instance-hours"
        )
    fl = fleet_speed(next(iter(traces.values()))[0], args.services, args.loop_services)
    print(
        f"fleet: every policy for {fl['services']} services x {fl['minutes']:,} one-minute steps in "
        f"{fl['batch_s']:.1f} s batched (target < 30 s on 2 cores: {verdict(fl['batch_s'] < 30)}); the per-service "
        f"Python loop (reactive only) took {fl['loop_s']:.1f} s for {fl['loop_services']} services "
        f"({fl['loop_s_per_service']:.2f} s each, ~{fl['loop_s_for_all_estimated']:.0f} s for all); "
        f"reactive counts equal: {fl['reactive_equal']}"
    )
    steps = args.steps or (20_000 if args.quick else 100_000)
    sp = speed(next(iter(traces.values()))[0], steps, 3)
    print(
        f"speed on {steps:,} steps: vectorised {sp['vectorised_s'] * 1000:.1f} ms, loop {sp['loop_s']:.2f} s, "
        f"{sp['ratio']:.0f}x (target 20x: {verdict(sp['ratio'] >= 20)}); outputs equal: {sp['equal']}"
    )
    out = args.out or RESULTS_DIR / ("autoscaling_quick.json" if args.quick else "autoscaling.json")
    write_json(out, {"machine": machine_info(), "churn": ch, "replay": rows, "picks": picks, "speed": sp, "fleet": fl,
                     "targets_met": all(verdicts)})  # fmt: skip
    print(f"results: {out}")
    return 0 if sp["equal"] and fl["reactive_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
