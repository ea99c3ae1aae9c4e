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
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.core.config import SourceConfig
from capplan.core.errors import InputError
from capplan.core.tables import INPUTS

REQUIRED: dict[str, tuple[str, ...]] = {kind: spec.required for kind, spec in INPUTS.items()}
OPTIONAL: dict[str, tuple[str, ...]] = {kind: spec.optional for kind, spec in INPUTS.items()}


def check_input_file(path: Path, max_mb: float) -> int:
    """Size of ``path`` in bytes if it is a regular file of at most ``max_mb`` MiB, else InputError.

    Checked before anything reads the file: a FIFO or ``/dev/zero`` would block or never end.
    """
    try:
        st = os.stat(path)
    except OSError as err:
        raise InputError(path, f"cannot read file: {err.strerror or err}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, "not a regular file", expected="a file", found="a folder, device or pipe")
    if st.st_size > max_mb * 1024 * 1024:
        raise InputError(
            path,
            "file is larger than [ingest] max_file_mb",
            expected=f"at most {max_mb:g} MiB",
            found=f"{st.st_size / 1024 / 1024:,.1f} MiB",
        )
    return st.st_size


PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError, OverflowError)


def read_raw(path: Path, source: SourceConfig) -> pd.DataFrame:
    """Read one file of ``source`` into a raw frame with the kind's columns (as text) and ``_line``."""
    reader = _READERS[source.format]
    try:
        frame = reader(path, source)
    except InputError:
        raise
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read file: {err}") from None
    except PARSE_ERRORS as err:  # a shape no reader foresaw: the file is rejected, never the run
        raise InputError(path, f"cannot parse file: {type(err).__name__}: {str(err)[:200]}") from None
    if frame.empty:
        raise InputError(path, "file holds no data rows", expected="at least one row", found="none")
    return _conform(frame, path, source.kind)


def read_raw_chunks(path: Path, source: SourceConfig, chunk_rows: int) -> tuple[int, Iterator[pd.DataFrame]]:
    """The rows of :func:`read_raw` in frames of at most ``chunk_rows`` rows, and their total.

    A Parquet file is read one record batch at a time, so the raw rows of the whole file are never
    in memory at once; ``_line`` (the 1-based row) counts across chunks. Other formats are read
    whole and then sliced. A file the reader cannot read raises :class:`InputError` while iterating.
    """
    if source.format == "parquet":
        return _parquet_chunks(path, source, chunk_rows)
    frame = read_raw(path, source)
    starts = range(0, len(frame), chunk_rows)
    return len(frame), (frame.iloc[i : i + chunk_rows].reset_index(drop=True) for i in starts)


def _parquet_chunks(path: Path, source: SourceConfig, chunk_rows: int) -> tuple[int, Iterator[pd.DataFrame]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path, read_dictionary=_parquet_labels(path, source) or None)
        total = parquet.metadata.num_rows
    except Exception as err:  # pyarrow raises many types for a corrupt file
        raise InputError(path, f"cannot read Parquet: {err}") from None
    if total == 0:
        raise InputError(path, "file holds no data rows", expected="at least one row", found="none")

    def chunks() -> Iterator[pd.DataFrame]:
        batches, start = parquet.iter_batches(batch_size=chunk_rows), 0
        while True:
            try:
                batch = next(batches, None)
                frame = None if batch is None else batch.to_pandas()
            except Exception as err:  # a corrupt row group further into the file
                raise InputError(path, f"cannot read Parquet: {err}") from None
            if frame is None:
                return
            frame["_line"] = np.arange(start + 1, start + len(frame) + 1)
            start += len(frame)
            yield _conform(frame, path, source.kind)

    return total, chunks()


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
    """Every data row of a CSV as text, with ``_line`` its physical line (the header is line 1).

    pandas' C parser reads the common case. A file it would misread falls back to
    :func:`_read_python_csv`, which keeps ragged rows for quarantine: rows with more or fewer
    fields than the header (pandas would turn an extra field into an index or drop it), and
    files whose rows are not one per line (blank lines, quoted newlines), so line numbers stay
    physical. A UTF-8 byte-order mark is not part of the first column's name.
    """
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty", expected="a header row and data rows", found="0 bytes")
    _check_header(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False, encoding="utf-8-sig", **_CSV_OPTIONS)
    except pd.errors.EmptyDataError:
        raise InputError(
            path, "file is empty", expected="a header row and data rows", found="nothing"
        ) from None
    except pd.errors.ParserError:
        frame = None
    misread = any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
    if frame is None or misread or _physical_lines(path) != len(frame) + 1:
        frame = _read_python_csv(path)
    else:
        frame["_line"] = np.arange(2, len(frame) + 2).astype(str)
    if source.kind == "metrics":
        if source.unit is not None and "unit" not in frame.columns:
            frame["unit"] = source.unit
        if source.region is not None and "region" not in frame.columns:
            frame["region"] = source.region
    return frame


_CSV_OPTIONS = dict(
    dtype=str, keep_default_na=False, na_values=[], skipinitialspace=True, on_bad_lines="error"
)


def _check_header(path: Path) -> list[str]:
    """The header's column names; a file naming one column twice is rejected, naming it."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh, skipinitialspace=True), [])
    names = [h.strip() for h in header]
    seen: set[str] = set()
    dup = [n for n in names if n in seen or seen.add(n)]
    if dup:
        raise InputError(
            path, f"column {dup[0]!r} appears more than once in the header", expected="each column once"
        )
    return names


def _physical_lines(path: Path) -> int:
    """Lines in the file (a last line without a newline counts), counted in C over 1 MiB chunks."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def _read_python_csv(path: Path) -> pd.DataFrame:
    """Read a CSV with Python's csv module: blank lines skipped (they are not rows), every other row
    kept with its physical first line; rows whose field count differs from the header's (unless
    every row ends in empty extra fields) are flagged in ``_ragged`` with their original text."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, skipinitialspace=True)
        rows, lines, prev = [], [], 0
        for r in reader:
            start, prev = prev + 1, reader.line_num
            if r and any(f.strip() for f in r):
                rows.append(r)
                lines.append(start)
    if not rows:
        raise InputError(path, "file is empty", expected="a header row and data rows", found="nothing")
    header = [h.strip() for h in rows[0]]
    width = len(header)
    # A trailing comma on EVERY row (a writer's habit) is not data; on some rows it is a ragged row.
    trailing = all(len(r) > width and not any(f.strip() for f in r[width:]) for r in rows[1:])
    trimmed = [r[:width] for r in rows[1:]] if trailing else rows[1:]
    body = [(r + [""] * width)[:width] for r in trimmed]
    frame = pd.DataFrame(body, columns=header, dtype=str)
    frame["_ragged"] = [",".join(r) if len(r) != width else "" for r in trimmed]
    frame["_line"] = [str(n) for n in lines[1:]]
    return frame


# Name-like columns (few distinct values in many rows) are read as categoricals from Parquet's
# dictionary: a fraction of the memory, and validation handles each distinct value once.
LABELS: dict[str, tuple[str, ...]] = {"metrics": ("service", "metric", "unit", "region")}


def _parquet_labels(path: Path, source: SourceConfig) -> list[str]:
    """The label columns of ``source.kind`` stored as text in the Parquet file (read as dictionaries)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    text = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
    return [c for c in LABELS.get(source.kind, ()) if c in text]


def _read_parquet(path: Path, source: SourceConfig) -> pd.DataFrame:
    try:
        labels = _parquet_labels(path, source)
        frame = pd.read_parquet(path, read_dictionary=labels or None)
    except Exception as err:  # pyarrow raises many types for a corrupt file
        raise InputError(path, f"cannot read Parquet: {err}") from None
    frame["_line"] = np.arange(1, len(frame) + 1)
    return frame


def _read_wide_csv(path: Path, source: SourceConfig) -> pd.DataFrame:
    wide = _read_csv(path, source)
    lines = wide.pop("_line").to_numpy()
    if "_ragged" in wide.columns:
        ragged = wide.pop("_ragged")
        if (ragged != "").any():
            first = int(np.flatnonzero((ragged != "").to_numpy())[0])
            raise InputError(
                path,
                f"line {lines[first]} has a different number of fields than the header",
                expected="one field per column",
            )
    if "ts" not in wide.columns:
        raise InputError(path, "wide CSV needs a 'ts' column first", found=", ".join(wide.columns[:5]))
    series_cols = [c for c in wide.columns if c != "ts" and c not in ("unit", "region")]
    bad = [c for c in series_cols if c.count(":") != 1 or not all(p.strip() for p in c.split(":"))]
    if bad:
        raise InputError(path, f"wide CSV column(s) {bad[:5]} are not named 'service:metric'")
    if not series_cols:
        raise InputError(path, "wide CSV has no series columns", expected="ts,service:metric,...")
    n = len(wide)
    long = pd.DataFrame(
        {
            "ts": np.tile(wide["ts"].to_numpy(), len(series_cols)),
            "service": np.repeat([c.split(":")[0].strip() for c in series_cols], n),
            "metric": np.repeat([c.split(":")[1].strip() for c in series_cols], n),
            "value": np.concatenate([wide[c].to_numpy() for c in series_cols]),
            "_line": [f"{ln}:{col}" for col in series_cols for ln in lines],
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
    except RecursionError:
        raise InputError(
            path, "JSON nested too deeply", expected="a query export, a few levels deep"
        ) from None


def _scalars(values: list) -> list:
    """Scalars kept; anything nested (a list, an object) as its JSON text, so the row is
    quarantined with what arrived instead of crashing the parse."""
    return [v if v is None or isinstance(v, str | int | float) else json.dumps(v)[:200] for v in values]


def _labels(path: Path, labels: object, where: str) -> dict[str, str]:
    """A Prometheus ``metric`` object: label -> text. Anything else rejects the file, naming where."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise InputError(path, f"{where} is not an object of labels", found=type(labels).__name__)
    for k, v in labels.items():
        if not isinstance(v, str):
            raise InputError(
                path, f"{where}.{k} is not a text label", expected="a string", found=type(v).__name__
            )
    return labels


def _read_prometheus(path: Path, source: SourceConfig) -> pd.DataFrame:
    doc = _load_json(path)
    data = doc.get("data") if isinstance(doc, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
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
        labels = _labels(path, item.get("metric"), f"result[{i}].metric")
        vals = item["values"]
        pair = [isinstance(v, list | tuple) and len(v) == 2 for v in vals]
        ts = _scalars([v[0] if ok else json.dumps(v)[:200] for v, ok in zip(vals, pair, strict=True)])
        ys = _scalars([v[1] if ok else None for v, ok in zip(vals, pair, strict=True)])
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
        if not isinstance(item, dict):
            raise InputError(
                path,
                f"MetricDataResults[{i}] is not an object",
                expected="{'Label', 'Timestamps', 'Values'}",
                found=type(item).__name__,
            )
        ts, vs = item.get("Timestamps"), item.get("Values")
        if not isinstance(ts, list) or not isinstance(vs, list) or len(ts) != len(vs):
            raise InputError(
                path,
                f"MetricDataResults[{i}] needs 'Timestamps' and 'Values' lists of equal length",
                found=f"{type(ts).__name__}/{type(vs).__name__}",
            )
        label = item.get("Label") or item.get("Id") or ""
        if not isinstance(label, str):
            raise InputError(
                path,
                f"MetricDataResults[{i}].Label is not text",
                expected="'service:metric[:region]'",
                found=type(label).__name__,
            )
        bits = label.split(sep)
        service = bits[0] if len(bits) >= 2 else None
        metric = bits[1] if len(bits) >= 2 else None
        region = bits[2] if len(bits) >= 3 else source.region
        parts.append(
            pd.DataFrame(
                {
                    "ts": _scalars(ts),
                    "service": service,
                    "metric": metric,
                    "value": _scalars(vs),
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
