"""CSV files that are safe to open in a spreadsheet (OWASP CSV injection).

A text cell (or header) starting with ``= + - @``, tab or CR gets a leading ``'``, so no
spreadsheet runs it as a formula; numbers stay numbers (a negative number is not text).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .specs import TABLES, PlanBundle, present, tables


def forecast_view(forecasts: pd.DataFrame, series: pd.DataFrame, quantiles) -> pd.DataFrame:
    """Forecasts as planners read them: service, metric, region, unit, ts, model, p10, p50, ..."""
    from capplan.core.contracts import quantile_cols

    cat = series[["unique_id", "service", "metric", "region", "unit"]]
    out = forecasts.merge(cat, on="unique_id", how="left").rename(columns={"ds": "ts"})
    return out[["service", "metric", "region", "unit", "ts", "model", *quantile_cols(quantiles)]]


CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def neutralise_csv(value: object) -> object:
    """A string starting with ``= + - @``, tab or CR gets a leading ``'``; anything else unchanged."""
    if isinstance(value, str) and value.startswith(CSV_TRIGGERS):
        return "'" + value
    return value


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.astype(object).map(neutralise_csv)
    out.columns = [neutralise_csv(str(c)) for c in out.columns]
    return out


def write_safe_csv(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as CSV at ``path`` (parent folder created), text cells neutralised, no index.

    Timestamps are written as ISO ``%Y-%m-%dT%H:%M:%S``; numbers as numbers.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _csv_safe(frame).to_csv(path, index=False, date_format=DATE_FORMAT)
    return path


def write_csv(bundle: PlanBundle, folder: Path) -> list[Path]:
    """One ``<table>.csv`` per table (optional tables such as ``history.csv`` only when given)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t = tables(bundle)
    return [write_safe_csv(t[s.field], folder / f"{s.field}.csv") for s in TABLES if present(bundle, s.field)]
