"""Summaries of a training for people: the leaderboard, the champion mix, the worst series, and a
model's settings. Pure functions over the frames the engine returns."""

from __future__ import annotations

import pandas as pd

from capplan.models import build_model


def leaderboard_of(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean over series per model: MASE, sMAPE and the coverage of every configured interval."""
    cols = [c for c in metrics.columns if c in ("mase", "smape") or c.startswith("coverage_")]
    if metrics.empty or "mase" not in cols:
        return pd.DataFrame(columns=["model", "mase", "smape"])
    return metrics.groupby("model")[cols].mean().sort_values("mase").reset_index()


def champion_mix(champions: pd.DataFrame) -> dict[str, float]:
    """The published mix's quality: mean over series of each champion's MASE and interval coverage."""
    cols = [c for c in champions.columns if c == "mase" or c.startswith("coverage_")]
    out = {}
    for c in cols:
        vals = pd.to_numeric(champions[c], errors="coerce")
        if vals.notna().any():
            out[f"champion_{c}"] = float(vals.mean())
    return out


def worst_first(backtest: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The backtest with the series of highest MASE first (what the plot shows)."""
    if "mase" not in metrics or backtest.empty:
        return backtest
    order = metrics.sort_values("mase", ascending=False, na_position="last")["unique_id"].tolist()
    rank = {u: i for i, u in enumerate(order)}
    return backtest.sort_values(
        ["unique_id", "ds"], key=lambda c: c.map(rank) if c.name == "unique_id" else c
    )


def hyperparameters(name: str, spec) -> dict:
    """A model's settings as MLflow params: its public scalar attributes and its ``params`` dict."""
    if name == "ensemble":
        return {"members": "best by backtest MASE"}
    model = build_model(name, spec)
    out = {}
    for key, value in {**vars(model), **(getattr(model, "params", None) or {})}.items():
        if key.startswith("_") or key in ("spec", "params"):
            continue
        if isinstance(value, str | int | float | bool) or (
            isinstance(value, list | tuple) and all(isinstance(v, int | float | str) for v in value)
        ):
            out[f"hp.{key}"] = value if not isinstance(value, list | tuple) else ",".join(map(str, value))
    return out


def metric_means(metrics: pd.DataFrame) -> dict[str, float]:
    """Mean over series of each metric column (NaN-safe), under stable names."""
    out = {}
    for col in metrics.columns:
        if col in ("unique_id", "model", "n", "horizon", "cutoff"):
            continue
        vals = pd.to_numeric(metrics[col], errors="coerce")
        if vals.notna().any():
            out[col] = float(vals.mean())
    return out


def run_name(as_of: pd.Timestamp | None) -> str:
    """What a training run is: ``train as-of 2026-11-04`` (a past cut) or ``train latest``."""
    if as_of is None:
        return "train latest"
    ts = pd.Timestamp(as_of)
    return f"train as-of {ts:%Y-%m-%d}" if ts == ts.normalize() else f"train as-of {ts:%Y-%m-%d %H:%M}"


def training_window(data, cfg) -> dict:
    """The child runs' window parameters: what each model was backtested and fitted on."""
    groups = data.groups
    return {
        "frequencies": ",".join(g.freq for g in groups),
        "data_start": str(min(g.df["ds"].min() for g in groups)),
        "data_end": str(max(g.df["ds"].max() for g in groups)),
        "train_window": str(cfg.forecast.train_window),
        "horizon_steps": ",".join(str(g.horizon) for g in groups),
        "season_length": ",".join(str(g.spec.season_length) for g in groups),
        "folds": cfg.forecast.backtest.folds,
        "stride": cfg.forecast.backtest.stride or "horizon",
    }
