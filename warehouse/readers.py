"""Readers: one function per input format, each returning a *raw* frame.

A raw frame keeps every input row (nothing is dropped here) with the text that arrived, plus
``_line`` (1-based line in a CSV, counting the header as line 1; for JSON the position, e.g.
``result[2].values[17]``). Parsing and checks happen afterwards in ``validation.py`` so a bad row
is quarantined with its original text, never lost.

File-level problems (unreadable, empty, required column missing, wrong JSON shape) raise
:class:`capplan.core.errors.InputError` naming the file and what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.core.config import SourceConfig
from capplan.core.errors import InputError
from capplan.core.tables import INPUTS

REQUIRED: dict[str, tuple[str, ...]] = {kind: spec.required for kind, spec in INPUTS.items()}
OPTIONAL: dict[str, tuple[str, ...]] = {kind: spec.optional for kind, spec in INPUTS.items()}


def read_raw(path: Path, source: SourceConfig) -> pd.DataFrame:
    """Read one file of ``source`` into a raw frame with the kind's columns (as text) and ``_line``."""
    reader = _READERS[source.format]
    try:
        frame = reader(path, source)
    except InputError:
        raise
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read file: {err}") from None
    if frame.empty:
        raise InputError(path, "file holds no data rows", expected="at least one row", found="none")
    return _conform(frame, path, source.kind)


def _conform(frame: pd.DataFrame, path: Path, kind: str) -> pd.DataFrame:
    cols = [str(c).strip() for c in frame.columns]
    frame.columns = cols
    missing = [c for c in REQUIRED[kind] if c not in cols]
    if kind == "loadtests" and "instances" not in cols and "concurrency" not in cols:
        missing.append("instances or concurrency")
    if missing:
        raise InputError(
            path,
            f"required column(s) missing: {', '.join(missing)}",
            expected=", ".join(REQUIRED[kind]),
            found=", ".join(c for c in cols if c != "_line") or "no columns",
        )
    keep = [c for c in (*REQUIRED[kind], *OPTIONAL[kind]) if c in cols]
    private = [c for c in cols if c.startswith("_")]
    out = frame[[*keep, *private]]  # copy-on-write: adding columns below leaves ``frame`` alone
    for c in OPTIONAL[kind]:
        if c not in out.columns:
            out[c] = None
    return out.reset_index(drop=True)


def _read_csv(path: Path, source: SourceConfig) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty", expected="a header row and data rows", found="0 bytes")
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[], skipinitialspace=True, on_bad_lines="error"
        )
    except pd.errors.EmptyDataError:
        raise InputError(
            path, "file is empty", expected="a header row and data rows", found="nothing"
        ) from None
    except pd.errors.ParserError as err:
        # A ragged row: fall back to the python engine, keeping ragged rows for quarantine.
        frame = _read_ragged_csv(path, err)
    frame["_line"] = np.arange(2, len(frame) + 2).astype(str)
    if source.kind == "metrics":
        if source.unit is not None and "unit" not in frame.columns:
            frame["unit"] = source.unit
        if source.region is not None and "region" not in frame.columns:
            frame["region"] = source.region
    return frame


def _read_ragged_csv(path: Path, err: Exception) -> pd.DataFrame:
    """Re-read a CSV whose rows have differing field counts; keep every row, flag the ragged ones."""
    import csv

    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise InputError(path, f"cannot parse CSV: {err}") from None
    header = [h.strip() for h in rows[0]]
    width = len(header)
    body = [(r + [""] * width)[:width] for r in rows[1:]]
    frame = pd.DataFrame(body, columns=header, dtype=str)
    frame["_ragged"] = [",".join(r) if len(r) != width else "" for r in rows[1:]]
    return frame


# Name-like columns (few distinct values in many rows) are read as categoricals from Parquet's
# dictionary: a fraction of the memory, and validation handles each distinct value once.
LABELS: dict[str, tuple[str, ...]] = {"metrics": ("service", "metric", "unit", "region")}


def _read_parquet(path: Path, source: SourceConfig) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        text = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
        labels = [c for c in LABELS.get(source.kind, ()) if c in text]
        frame = pd.read_parquet(path, read_dictionary=labels or None)
    except Exception as err:  # pyarrow raises many types for a corrupt file
        raise InputError(path, f"cannot read Parquet: {err}") from None
    frame["_line"] = np.arange(1, len(frame) + 1)
    return frame


def _read_wide_csv(path: Path, source: SourceConfig) -> pd.DataFrame:
    wide = _read_csv(path, source).drop(columns=["_line"])
    if "ts" not in wide.columns:
        raise InputError(path, "wide CSV needs a 'ts' column first", found=", ".join(wide.columns[:5]))
    series_cols = [c for c in wide.columns if c != "ts" and c not in ("unit", "region")]
    bad = [c for c in series_cols if c.count(":") != 1 or not all(p.strip() for p in c.split(":"))]
    if bad:
        raise InputError(path, f"wide CSV column(s) {bad[:5]} are not named 'service:metric'")
    if not series_cols:
        raise InputError(path, "wide CSV has no series columns", expected="ts,service:metric,...")
    n = len(wide)
    line = np.tile(np.arange(2, n + 2), len(series_cols))
    long = pd.DataFrame(
        {
            "ts": np.tile(wide["ts"].to_numpy(), len(series_cols)),
            "service": np.repeat([c.split(":")[0].strip() for c in series_cols], n),
            "metric": np.repeat([c.split(":")[1].strip() for c in series_cols], n),
            "value": np.concatenate([wide[c].to_numpy() for c in series_cols]),
            "_line": [f"{ln}:{col}" for col in series_cols for ln in line[:n]],
        }
    )
    long["unit"] = source.unit
    long["region"] = source.region
    # An empty cell in a wide file means "no sample at this time" (series start at different
    # times), so it is not an input row: rows in counts the non-empty cells.
    return long[long["value"].astype("string").str.strip().fillna("") != ""]


def _load_json(path: Path) -> object:
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty", expected="a JSON document", found="0 bytes")
    try:
        with open(path, "rb") as fh:
            return json.load(fh)
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON: {err}") from None


def _read_prometheus(path: Path, source: SourceConfig) -> pd.DataFrame:
    doc = _load_json(path)
    result = doc.get("data", {}).get("result") if isinstance(doc, dict) else None
    if not isinstance(result, list):
        raise InputError(
            path,
            "not a Prometheus query_range response",
            expected="{'data': {'result': [{'metric': {...}, 'values': [[t, v], ...]}]}}",
            found=f"top-level keys {sorted(doc)[:6]}" if isinstance(doc, dict) else type(doc).__name__,
        )
    parts = []
    for i, item in enumerate(result):
        if not isinstance(item, dict) or not isinstance(item.get("values"), list):
            raise InputError(
                path, f"result[{i}] has no 'values' list", expected="'metric' labels and 'values'"
            )
        labels = item.get("metric") or {}
        vals = item["values"]
        ts = [v[0] if isinstance(v, list | tuple) and len(v) == 2 else None for v in vals]
        ys = [v[1] if isinstance(v, list | tuple) and len(v) == 2 else None for v in vals]
        parts.append(
            pd.DataFrame(
                {
                    "ts": ts,
                    "service": labels.get(source.service_label),
                    "metric": labels.get(source.metric_label),
                    "value": ys,
                    "unit": labels.get("unit", source.unit),
                    "region": labels.get(source.region_label, source.region)
                    if source.region_label
                    else source.region,
                    "_line": [f"result[{i}].values[{j}]" for j in range(len(vals))],
                    "_epoch": True,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _read_cloudwatch(path: Path, source: SourceConfig) -> pd.DataFrame:
    doc = _load_json(path)
    results = doc.get("MetricDataResults") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise InputError(
            path,
            "not a CloudWatch get-metric-data export",
            expected="{'MetricDataResults': [{'Label', 'Timestamps', 'Values'}]}",
            found=f"top-level keys {sorted(doc)[:6]}" if isinstance(doc, dict) else type(doc).__name__,
        )
    parts = []
    sep = source.label_separator
    for i, item in enumerate(results):
        ts, vs = item.get("Timestamps"), item.get("Values")
        if not isinstance(ts, list) or not isinstance(vs, list) or len(ts) != len(vs):
            raise InputError(
                path,
                f"MetricDataResults[{i}] needs 'Timestamps' and 'Values' lists of equal length",
                found=f"{type(ts).__name__}/{type(vs).__name__}",
            )
        label = str(item.get("Label") or item.get("Id") or "")
        bits = label.split(sep)
        service = bits[0] if len(bits) >= 2 else None
        metric = bits[1] if len(bits) >= 2 else None
        region = bits[2] if len(bits) >= 3 else source.region
        parts.append(
            pd.DataFrame(
                {
                    "ts": ts,
                    "service": service,
                    "metric": metric,
                    "value": vs,
                    "unit": source.unit,
                    "region": region,
                    "_line": [f"MetricDataResults[{i}].Values[{j}]" for j in range(len(vs))],
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


_READERS = {
    "csv": _read_csv,
    "parquet": _read_parquet,
    "csv_wide": _read_wide_csv,
    "prometheus": _read_prometheus,
    "cloudwatch": _read_cloudwatch,
}
