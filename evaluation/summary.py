"""Summaries of a training for people: the leaderboard, the champion mix, the worst series, and a
model's settings. Pure functions over the frames the engine returns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.models import build_model

from .metrics import coverage_errors, geometric_mean_ratio, relative_scores

BASELINE = "seasonal_naive"


def leaderboard_of(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean over series of MASE, sMAPE, CRPS and the coverage of every configured
    interval; the relative MASE and CRPS (geometric mean of per-series ratios to seasonal naive)
    and, next to each coverage, its per-series mean absolute coverage error."""
    cols = [c for c in metrics.columns if c in ("mase", "smape", "crps") or c.startswith("coverage_")]
    if metrics.empty or "mase" not in cols:
        return pd.DataFrame(columns=["model", "mase", "smape"])
    board = metrics.groupby("model")[cols].mean().reset_index()
    for metric in ("mase", "crps"):
        if metric in metrics:
            rel = relative_scores(metrics, metric, BASELINE)
            board = board.merge(rel[["model", f"rel_{metric}"]], on="model", how="left")
    errors = coverage_errors(metrics)
    board = board.merge(errors, on="model", how="left")
    order = ["model", *[c for c in ("mase", "rel_mase", "smape", "crps", "rel_crps") if c in board]]
    for c in [c for c in board.columns if c.startswith("coverage_p")]:
        order += [c, f"coverage_error_{c[len('coverage_') :]}"]
    return board[order].sort_values("mase").reset_index(drop=True)


def champion_rows(champions: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The metric row of each series' champion (one per series that has backtest metrics)."""
    pick = champions[["unique_id", "champion"]].rename(columns={"champion": "model"})
    return metrics.merge(pick, on=["unique_id", "model"], how="inner")


def champion_mix(champions: pd.DataFrame, metrics: pd.DataFrame) -> dict[str, float]:
    """The published mix's quality (the parent run's metrics): mean over series of each champion's
    MASE, CRPS, interval coverage and coverage error (``champion_*``), and ``rel_mase`` /
    ``rel_crps``, the geometric mean over series of the champion's ratio to seasonal naive."""
    rows = champion_rows(champions, metrics)
    if rows.empty:
        return {}
    cols = [c for c in rows.columns if c in ("mase", "crps") or c.startswith("coverage_p")]
    out = {f"champion_{c}": float(rows[c].mean()) for c in cols if rows[c].notna().any()}
    errors = coverage_errors(rows.assign(_all=1), by=("_all",))
    for c in [c for c in errors.columns if c.startswith("coverage_error_")]:
        if np.isfinite(errors[c].iloc[0]):
            out[f"champion_{c}"] = float(errors[c].iloc[0])
    base = metrics[metrics["model"] == BASELINE].set_index("unique_id")
    for metric in ("mase", "crps"):
        if metric in rows and metric in base:
            value, used = geometric_mean_ratio(
                rows[metric].to_numpy(), base[metric].reindex(rows["unique_id"]).to_numpy()
            )
            if used:
                out[f"rel_{metric}"] = value
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


def version_description(window, champions: pd.DataFrame, metrics: pd.DataFrame, as_of=None) -> str:
    """The registered model version's description: data window, champion mix, backtest accuracy."""
    counts = champions["champion"].value_counts()
    mix = champion_mix(champions, metrics)
    parts = [f"MASE {mix['champion_mase']:.3f}"] if "champion_mase" in mix else []
    parts += [f"rel MASE {mix['rel_mase']:.3f}"] if "rel_mase" in mix else []
    parts += [f"rel CRPS {mix['rel_crps']:.3f}"] if "rel_crps" in mix else []
    for key in sorted(k for k in mix if k.startswith("champion_coverage_p")):
        interval = key.removeprefix("champion_coverage_")
        parts.append(f"{interval.replace('_', '-')} covered {mix[key]:.0%}")
    return (
        f"Champions of {len(champions)} series trained on data {window[0]:%Y-%m-%d %H:%M} to "
        f"{window[1]:%Y-%m-%d %H:%M} ({'as of ' + str(as_of) if as_of is not None else 'latest'}). "
        f"Champion mix: {', '.join(f'{k} {v}' for k, v in counts.items())}. "
        f"Backtest accuracy (mean over series; rel: geometric mean of ratios to seasonal naive): "
        + (", ".join(parts) or "not measured (no series long enough for backtests)")
        + "."
    )


def plot_view(model: str, backtests: pd.DataFrame, metrics: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """What a model's backtest plot shows: its backtest and seasonal naive's (the baseline, for
    comparison), worst series first by the model's MASE, and that MASE per series."""
    mine = metrics[metrics["model"] == model]
    bt = backtests[backtests["model"].isin([model, BASELINE])]
    scores = dict(zip(mine["unique_id"], mine["mase"], strict=True)) if "mase" in mine else {}
    return worst_first(bt, mine), scores


def series_units(series: pd.DataFrame | None) -> dict:
    """unique_id -> the y axis label: the catalogue's ``unit``, else the metric's name."""
    if series is None or "unique_id" not in series:
        return {}
    unit = series["unit"] if "unit" in series else pd.Series(pd.NA, index=series.index)
    metric = series["metric"] if "metric" in series else pd.Series(pd.NA, index=series.index)
    label = unit.where(unit.notna() & (unit.astype(str) != ""), metric)
    return {u: str(v) for u, v in zip(series["unique_id"], label, strict=True) if pd.notna(v)}


def hyperparameters(name: str, spec) -> dict:
    """A model's settings as MLflow params: its public scalar attributes and its ``params`` dict."""
    if name == "ensemble":
        return {
            "members": "best by backtest MASE",
            "weights": "1/MASE^4 per series, leave-one-fold-out backtest",
        }
    model = build_model(name, spec)
    out = {}
    for key, value in {**vars(model), **(getattr(model, "params", None) or {})}.items():
        if key.startswith("_") or key in ("spec", "params"):
            continue
        if isinstance(value, str | int | float | bool) or (
            isinstance(value, list | tuple) and all(isinstance(v, int | float | str) for v in value)
        ):
            out[f"hp.{key}"] = value if not isinstance(value, list | tuple) else ",".join(map(str, value))
    # robust training ([forecast] clip_outliers), where the model applies it
    out["hp.clip_outliers"] = bool(getattr(model, "clips_outliers", False))
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


def git_commit() -> str:
    """The short commit of the capplan checkout ("unknown" when it is not a git checkout)."""
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_tags(cfg, data) -> dict:
    """A training run's MLflow tags: config hash, data fingerprint, git commit."""
    from capplan.core.config import config_hash

    return {
        "capplan.config_hash": config_hash(cfg),
        "capplan.data_fingerprint": data.fingerprint,
        "git_commit": git_commit(),
    }


def run_params(cfg, data, as_of) -> dict:
    """A training run's MLflow parameters: horizon, quantiles, folds, models, data window, hashes."""
    from capplan.core.config import config_hash

    return {
        "horizon": cfg.forecast.horizon,
        "quantiles": ",".join(map(str, cfg.forecast.quantiles)),
        "folds": cfg.forecast.backtest.folds,
        "models": ",".join(cfg.forecast.models),
        "frequencies": ",".join(g.freq for g in data.groups),
        "series": sum(g.df["unique_id"].nunique() for g in data.groups),
        "data_start": str(data.window[0]),
        "data_end": str(data.window[1]),
        "as_of": str(as_of) if as_of is not None else "latest",
        "config_hash": config_hash(cfg),
        "data_fingerprint": data.fingerprint,
    }
