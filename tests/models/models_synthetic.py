"""Synthetic hourly panels shared by the model tests (imported as a plain module)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.models.base import ModelSpec

H = 30  # > 24 so the global models' chunked prediction is exercised
SPEC = ModelSpec(freq="h", season_length=24, seasonalities=(168,), epochs=1)
RISE_SLOPE = 0.2  # per hour


def hourly(uid: str, start: str, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(y), freq="h"), "y": y})


def pattern(n: int, level: float, rng: np.random.Generator, noise: float = 1.0) -> np.ndarray:
    """Daily sine, weekend bump, noise."""
    t = np.arange(n)
    ds = pd.date_range("2024-01-01", periods=n, freq="h")
    weekend = (ds.day_of_week >= 5).astype(float)
    return level + 0.2 * level * np.sin(2 * np.pi * t / 24) + 0.1 * level * weekend + rng.normal(0, noise, n)


def make_panel(days: int = 21, seed: int = 0) -> pd.DataFrame:
    """Series with different ends and magnitudes, a trend, a constant, zeros and a short one."""
    rng = np.random.default_rng(seed)
    n = 24 * days
    t = np.arange(n)
    parts = [
        hourly("a:cpu", "2024-01-01", pattern(n, 50.0, rng)),
        hourly("b:rps", "2024-01-01", pattern(n - 5, 2000.0, rng, noise=20.0)),  # ends 5 h earlier
        hourly("rise:cpu", "2024-01-01", pattern(n, 50.0, rng) + RISE_SLOPE * t),
        hourly("flat:cpu", "2024-01-03", np.full(200, 7.0)),
        hourly("zero:cpu", "2024-01-02", np.zeros(300)),
        hourly("short:cpu", "2024-01-20", 10.0 + rng.normal(0, 1, 30)),  # under two seasons
    ]
    return pd.concat(parts, ignore_index=True)
