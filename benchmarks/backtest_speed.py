"""Backtest speed: one global LightGBM fit per fold (capplan) versus a refit per series and window.

Usage::

    python benchmarks/backtest_speed.py [--quick] [--series 50] [--folds 3] [--budget 240] [--synthetic]

Claim checked (target 10x or more): capplan's LightGBM backtest path fits once per fold on all series
and predicts them in one batch, so it is much faster than the common loop that, for each series and
each cutoff, fits a model on that series' history and predicts the next ``h`` steps.

* (a) ``capplan.evaluation.backtest`` with the ``lightgbm`` adapter: ``folds`` fits, batch predict.
* (b) the loop: for each series, for each of the same cutoffs (``backtest_splits``), a fresh
  ``lightgbm`` adapter fitted on that one series' training window and asked for ``h`` steps.

Both build the adapter with ``build_model("lightgbm", spec)`` from the same spec, so the
hyperparameters (200 trees, 31 leaves, learning rate 0.05, one thread, the same lags and quantiles)
are identical and only the orchestration differs. Wall and CPU seconds of each are printed; the
loop runs series by series until ``--budget`` seconds are spent, and when that stops it early its
time for all series is extrapolated linearly from the series it finished (said in the output).
Both backtests are also scored (mean MASE over the series both covered), to show what the global
fit costs or gains in accuracy.

Data: an evenly spread subsample of M4 Hourly (``../shared/data/m4``; 700 or 960 points per series),
h = 48. Skipped (exit 0) when that folder is absent, unless ``--synthetic`` asks for synthetic hourly
series (daily and weekly cycles, trend, noise; 960 points each) instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS_DIR, format_table, machine_info, verdict, write_json
from m4_hourly import DATA_DIR, QUANTILES, SEASON, Clock, load_m4

H = 48
TARGET_RATIO = 10.0
DEFAULT_SERIES = 50
QUICK_SERIES = 10
DEFAULT_BUDGET_S = 240.0
QUICK_BUDGET_S = 60.0


def synthetic_hourly(n_series: int, n: int = 960, seed: int = 7) -> pd.DataFrame:
    """``unique_id, ds, y``: level * (1 + daily + weekly cycles) + trend + noise, positive, hourly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype="float64")
    ds = pd.date_range(end="2017-06-30 23:00", periods=n, freq="h")
    parts = []
    for i in range(n_series):
        level = rng.uniform(50, 5000)
        shape = 1 + 0.4 * np.sin(2 * np.pi * (t + rng.integers(24)) / 24) + 0.15 * np.sin(2 * np.pi * t / 168)
        y = level * shape * (1 + rng.uniform(-0.2, 0.4) * t / n) + rng.normal(0, 0.05 * level, n)
        parts.append(pd.DataFrame({"unique_id": f"S{i:03d}", "ds": ds, "y": np.abs(y)}))
    return pd.concat(parts, ignore_index=True)


def run_global(df: pd.DataFrame, spec, folds: int) -> tuple[pd.DataFrame, float, float]:
    """(a) capplan's backtest: a fresh adapter fitted once per fold on all series, batch predict."""
    from capplan.evaluation import backtest
    from capplan.models import build_model

    clock = Clock()
    bt = backtest(lambda: build_model("lightgbm", spec), df, H, folds)
    wall, cpu = clock.read()
    return bt, wall, cpu


def _fit_predict_one(train: pd.DataFrame, spec) -> pd.DataFrame:
    from capplan.models import build_model

    return build_model("lightgbm", spec).fit(train).predict(H)


def run_loop(df: pd.DataFrame, spec, folds: int, budget_s: float) -> dict:
    """(b) for each series, for each cutoff: fit the adapter on that series' window, predict ``H``.

    Stops starting new series once ``budget_s`` wall seconds are spent; returns the backtest frame of
    the series finished, their count and the wall/CPU seconds they took.
    """
    from capplan.evaluation import backtest_splits

    windows: dict[str, list] = {}
    for split in backtest_splits(df, H, folds):
        for uid, train in split.train.groupby("unique_id", sort=True, observed=True):
            valid = split.valid[split.valid["unique_id"] == uid]
            cutoff = split.cutoffs.loc[split.cutoffs["unique_id"] == uid, "cutoff"].iloc[0]
            windows.setdefault(str(uid), []).append((train, valid, cutoff))
    clock, parts, fits = Clock(), [], 0
    for wins in windows.values():
        if clock.read()[0] >= budget_s:
            break
        for train, valid, cutoff in wins:
            fcst = _fit_predict_one(train, spec).drop(columns="unique_id")
            part = valid.merge(fcst, on="ds", how="left").assign(cutoff=cutoff, model="lightgbm")
            parts.append(part)
            fits += 1
    wall, cpu = clock.read()
    done = sorted({str(u) for p in parts for u in p["unique_id"].unique()})
    return {
        "frame": pd.concat(parts, ignore_index=True),
        "series_done": done,
        "series_total": len(windows),
        "fits": fits,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def mean_mase(bt: pd.DataFrame, train: pd.DataFrame, uids: list[str]) -> float:
    """Mean MASE (scale: seasonal naive MAE up to each cutoff) over ``uids``."""
    from capplan.evaluation.metrics import evaluate, mase

    frame = bt[bt["unique_id"].astype(str).isin(uids)]
    return float(evaluate(frame, train, metrics=[mase], season=SEASON, by=["model"])["mase"].iloc[0])


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SERIES} series, {QUICK_BUDGET_S:.0f} s loop budget"
    )
    ap.add_argument("--series", type=int, default=None, help=f"series (default {DEFAULT_SERIES})")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument(
        "--budget", type=float, default=None, help="wall seconds the loop may run before extrapolating"
    )
    ap.add_argument("--synthetic", action="store_true", help="synthetic hourly series (no M4 needed)")
    ap.add_argument("--data", type=Path, default=DATA_DIR)
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON (default results/backtest_speed[_quick].json)"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    n_series = args.series or (QUICK_SERIES if args.quick else DEFAULT_SERIES)
    budget = args.budget or (QUICK_BUDGET_S if args.quick else DEFAULT_BUDGET_S)
    if args.synthetic:
        train, source = synthetic_hourly(n_series), "synthetic hourly"
    elif (args.data / "Hourly-train.csv").exists():
        train, source = load_m4(args.data, n_series)[0], "M4 Hourly (evenly spread subsample)"
    else:
        print(f"backtest_speed: skipped, M4 data not found at {args.data} (use --synthetic to run anyway)")
        return 0
    from capplan.models import ModelSpec

    spec = ModelSpec(freq="h", season_length=SEASON, quantiles=QUANTILES, seasonalities=(168,), seed=42)
    n = train["unique_id"].nunique()
    print(
        f"backtest speed: {n} series of {source}, {len(train):,} rows, h={H}, folds={args.folds}", flush=True
    )
    load_before = os.getloadavg()
    bt, g_wall, g_cpu = run_global(train, spec, args.folds)
    print(
        f"  (a) capplan backtest, {args.folds} global fits: {g_wall:.1f} s wall, {g_cpu:.1f} s CPU",
        flush=True,
    )
    loop = run_loop(train, spec, args.folds, budget)
    done = len(loop["series_done"])
    scale = loop["series_total"] / done
    l_wall, l_cpu = loop["wall_s"] * scale, loop["cpu_s"] * scale
    extrapolated = done < loop["series_total"]
    print(
        f"  (b) refit-per-window loop: {loop['fits']} fits on {done}/{loop['series_total']} series in "
        f"{loop['wall_s']:.1f} s wall, {loop['cpu_s']:.1f} s CPU"
        + (
            f"; extrapolated to all {n} series: {l_wall:.0f} s wall, {l_cpu:.0f} s CPU"
            if extrapolated
            else ""
        ),
        flush=True,
    )
    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    ratio_wall, ratio_cpu = l_wall / g_wall, l_cpu / g_cpu
    mase_global = mean_mase(bt, train, loop["series_done"])
    mase_loop = mean_mase(loop["frame"], train, loop["series_done"])
    rows = [
        ["(a) global fit per fold", args.folds, f"{g_wall:.1f}", f"{g_cpu:.1f}", f"{mase_global:.3f}"],
        [
            "(b) fit per series x window" + (" (extrapolated)" if extrapolated else ""),
            n * args.folds,
            f"{l_wall:.1f}",
            f"{l_cpu:.1f}",
            f"{mase_loop:.3f}",
        ],
    ]
    print()
    print(format_table(["orchestration", "fits", "wall s", "CPU s", f"MASE ({done} series)"], rows))
    print(
        f"\nspeed-up (b)/(a): {ratio_wall:.1f}x wall, {ratio_cpu:.1f}x CPU "
        f"(load average before/after {load['before'][0]}/{load['after'][0]} on {os.cpu_count()} CPUs)"
    )
    target = {"target": f"speed-up >= {TARGET_RATIO:.0f}x (CPU seconds)", "ok": ratio_cpu >= TARGET_RATIO}
    target["value"] = f"{ratio_cpu:.1f}x"
    print(f"\nTargets:\n  {verdict(target['ok'])}  {target['target']}: {target['value']}")
    payload = {
        "benchmark": "backtest_speed",
        "machine": machine_info(),
        "config": {"series": n, "source": source, "h": H, "folds": args.folds, "budget_s": budget},
        "global": {"wall_s": g_wall, "cpu_s": g_cpu, "fits": args.folds, "mase": mase_global},
        "loop": {
            "measured_wall_s": loop["wall_s"],
            "measured_cpu_s": loop["cpu_s"],
            "fits": loop["fits"],
            "series_done": done,
            "extrapolated": extrapolated,
            "wall_s": l_wall,
            "cpu_s": l_cpu,
            "mase": mase_loop,
        },
        "speedup_wall": ratio_wall,
        "speedup_cpu": ratio_cpu,
        "load_average": load,
        "targets": [target],
    }
    out = args.out or RESULTS_DIR / ("backtest_speed_quick.json" if args.quick else "backtest_speed.json")
    print(f"\nwrote {write_json(out, payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
