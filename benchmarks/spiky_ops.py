"""Robust training on spiky operations series: each robust model with and without ``clip_outliers``.

Usage::

    python benchmarks/spiky_ops.py [--quick] [--series 40]

A seeded hourly panel (no files): each series is a daily cycle (amplitude 30 around 100 + 10 x its
index) with N(0, 3) noise and a weekly dip on Sundays; its 30 training days carry incidents a
model should not learn from: two 3-hour spikes (+250) mid-history, a 2-hour spike (+300) ending 8
hours before the origin and a 1-hour outage dip (-100) a day before it; a third of the series also
shift level (+40) 10 days before the origin (a shift to keep, not clip). The 48 test hours are the
clean continuation. Scores: MAE of the median and M4's MASE (scale: the in-sample seasonal naive
MAE of the raw training series), per model and setting; the actuals are never clipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from _common import format_table

DAY, DAYS, H = 24, 30, 48
MODELS = ("theta", "seasonal_profile", "lightgbm")


def panel(n_series: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, test)`` long frames of the spiky panel (module docstring)."""
    n = (DAYS + 2) * DAY
    t = np.arange(n)
    ds = pd.date_range("2026-01-05", periods=n, freq="h")  # a Monday
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        clean = 100 + 10 * i + 30 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 3, n)
        clean = clean - 15 * (ds.day_of_week == 6)
        if i % 3 == 0:
            clean[(DAYS - 10) * DAY :] += 40
        y = clean.copy()
        for start in rng.choice(np.arange(5 * DAY, (DAYS - 12) * DAY), size=2, replace=False):
            y[start : start + 3] += 250
        y[DAYS * DAY - 10 : DAYS * DAY - 8] += 300
        y[DAYS * DAY - 30] -= 100
        y[DAYS * DAY :] = clean[DAYS * DAY :]
        parts.append(pd.DataFrame({"unique_id": f"svc{i:02d}:cpu", "ds": ds, "y": y}))
    frame = pd.concat(parts, ignore_index=True)
    return frame.groupby("unique_id").head(DAYS * DAY), frame.groupby("unique_id").tail(H)


def run(n_series: int) -> list[list[str]]:
    from capplan.core.contracts import ModelSpec
    from capplan.models import build_model

    train, test = panel(n_series)
    scale = train.groupby("unique_id")["y"].apply(
        lambda y: np.mean(np.abs(y.to_numpy()[DAY:] - y.to_numpy()[:-DAY]))
    )
    spec = ModelSpec(freq="h", season_length=DAY, seasonalities=(168,), quantiles=(0.1, 0.5, 0.9))
    rows = []
    for name in MODELS:
        for clip in (False, True):
            t0 = time.process_time()
            model = build_model(name, replace(spec, clip_outliers=clip)).fit(train)
            fc = model.predict(H)
            cpu = time.process_time() - t0
            err = np.abs(fc["p50"].to_numpy() - test["y"].to_numpy())
            mase = (
                pd.Series(err).groupby(np.repeat(np.arange(n_series), H)).mean().to_numpy() / scale.to_numpy()
            ).mean()
            clipped = sum(getattr(model, "clipped", {}).values())
            rows.append(
                [
                    name,
                    "clip_outliers" if clip else "raw",
                    f"{err.mean():.2f}",
                    f"{mase:.3f}",
                    str(clipped),
                    f"{cpu:.1f}",
                ]
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="12 series")
    ap.add_argument("--series", type=int, default=40)
    args = ap.parse_args(argv)
    n = 12 if args.quick else args.series
    rows = run(n)
    print(f"spiky operations panel: {n} hourly series, {DAYS} training days, h={H}")
    print(format_table(["model", "training", "MAE", "MASE", "steps clipped", "CPU s"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
