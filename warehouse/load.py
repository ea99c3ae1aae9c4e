"""Idempotent, audited loading of input files into the warehouse.

Per file: hash the content (a file already loaded with the same hash is skipped and changes
nothing); read every row; type and check them (``validation.py``); put metric rows on their
series' grid; then, in ONE transaction, upsert the good rows by key, write failed rows to
``quarantine`` with their reason, and record the batch in ``load_batches``. A failure anywhere
rolls the whole batch back.

Accounting invariant for every batch: ``rows_in = rows_loaded + rows_quarantined``. Of the loaded
rows, ``rows_duplicate`` were superseded by a later row with the same key in the same batch (the
last arrival wins) and the rest were ``inserted``, ``updated`` (a different value was stored
before) or ``unchanged``; ``rows_regridded`` counts off-grid timestamps moved onto the grid.
Values from data reach DuckDB only as registered frames or bound parameters, never as SQL text.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from glob import glob
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.core.config import Config, SourceConfig
from capplan.core.errors import InputError
from capplan.core.tables import TABLES

from .grid import (
    finest_frequencies,
    frequency_seconds,
    infer_frequencies,
    is_key_sorted,
    key_order,
    place_on_grid,
)
from .readers import PARSE_ERRORS, check_input_file, read_raw_chunks
from .validation import Checked, Engine, check_frame, choose_engine
from .write import (
    new_series_gaps,
    refresh_gaps,
    touched_windows,
    upsert,
    upsert_observations,
    write_batch,
    write_quarantine,
)


def _keys_and_values(kind: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The table an input kind loads into, its key and its other columns (from the declaration)."""
    t = TABLES[kind]
    return kind, t.key, tuple(c for c in t.column_names if c not in t.key)


TABLE_KEYS = {kind: _keys_and_values(kind) for kind in ("kpis", "events", "inventory", "loadtests")}


@dataclass
class BatchReport:
    source: str
    path: str
    status: str  # loaded | unchanged | rejected
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_duplicate: int = 0
    rows_regridded: int = 0
    message: str = ""
    batch_id: str = ""
    engine: str = ""
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. a sparse series read at a coarser frequency

    def as_row(self) -> dict:
        d = asdict(self)
        d.pop("quarantine_reasons")
        d.pop("engine")
        d.pop("notes")
        return d


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# The SourceConfig fields that change how a file's bytes become rows (name and retries do not).
_PARSING_FIELDS = (
    "kind",
    "format",
    "timezone",
    "service_label",
    "metric_label",
    "region_label",
    "label_separator",
    "unit",
    "region",
)


def load_key(digest: str, source: SourceConfig, cfg: Config) -> str:
    """What "already loaded" compares: the file's bytes AND the options that parse them.

    A fixed ``timezone`` or ``label_separator`` (or grid rule, metric spec, negative-metric list)
    turns the same bytes into different rows, so the file loads again.
    """
    options = {f: getattr(source, f) for f in _PARSING_FIELDS}
    options["grid_rule"] = cfg.ingest.grid_rule
    options["allow_negative"] = sorted(cfg.ingest.allow_negative_metrics)
    options["frequencies"] = sorted(cfg.ingest.frequencies.items())
    options["metrics"] = sorted((k, v.model_dump_json()) for k, v in cfg.metrics.items())
    text = digest + json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def source_files(source: SourceConfig, cfg: Config) -> list[Path]:
    pattern = str(cfg.resolve(source.path))
    return [Path(p) for p in sorted(glob(pattern, recursive=True))]


def ingest_file(
    con, path: Path, source: SourceConfig, cfg: Config, *, engine: Engine = "auto"
) -> BatchReport:
    """Load one file of ``source``. Never raises for a user's bad input: reports it instead.

    The file must be a regular file under ``[ingest] max_file_mb`` (checked before reading). It is
    skipped as ``unchanged`` only when the LAST batch recorded for this path has the same
    :func:`load_key` and loaded; a file rejected before with the same key is reported rejected
    again (with the earlier reason), without a new batch row.
    """
    path = Path(path)
    try:
        check_input_file(path, cfg.ingest.max_file_mb)
        key = load_key(file_hash(path), source, cfg)
    except InputError as err:
        return BatchReport(source.name, str(path), "rejected", message=str(err))
    except OSError as err:
        return BatchReport(source.name, str(path), "rejected", message=f"{path}: cannot read file: {err}")
    last = _last_batch(con, source.name, str(path))
    if last is not None and last[0] == key:
        if last[1] == "rejected":
            return BatchReport(source.name, str(path), "rejected", message=last[2], batch_id=last[3])
        return BatchReport(source.name, str(path), "unchanged", message="same content already loaded")
    try:
        rows_in, checked = read_checked(path, source, cfg, _series_units(con), engine=engine)
    except InputError as err:
        report = BatchReport(source.name, str(path), "rejected", message=str(err))
        _record_rejection(con, report, source, key)
        return report
    except PARSE_ERRORS as err:  # a shape nothing foresaw rejects this file, never the whole run
        report = BatchReport(
            source.name,
            str(path),
            "rejected",
            message=f"{path}: cannot check rows: {type(err).__name__}: {err}",
        )
        _record_rejection(con, report, source, key)
        return report
    report = _report(source, path, rows_in, checked)
    con.execute("BEGIN TRANSACTION")
    try:
        if source.kind == "metrics":
            _load_metrics(con, checked.good, source, cfg, report)
        else:
            _load_table(con, checked.good, source, report)
        report.message = "; ".join(report.notes)
        write_quarantine(con, checked.bad, source, path, report)
        write_batch(con, report, source, key)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def _report(source: SourceConfig, path: Path, rows_in: int, checked: Checked) -> BatchReport:
    report = BatchReport(
        source.name,
        str(path),
        "loaded",
        rows_in=rows_in,
        rows_loaded=len(checked.good),
        rows_quarantined=len(checked.bad),
        batch_id=uuid.uuid4().hex[:16],
        engine=checked.engine,
        quarantine_reasons=checked.bad["check"].value_counts().to_dict() if len(checked.bad) else {},
    )
    assert report.rows_in == report.rows_loaded + report.rows_quarantined
    return report


def read_checked(
    path: Path, source: SourceConfig, cfg: Config, series_units: dict[str, str], *, engine: Engine = "auto"
) -> tuple[int, Checked]:
    """Read and check ``path`` in chunks of ``[ingest] chunk_rows``: (rows in, the whole file's Checked).

    Each chunk is typed and checked on its own; its bad rows are kept for quarantine and its good
    metric rows only as the columns loading needs, copied into arrays sized for the whole file
    (no second copy when the chunks are joined). The engine is chosen once, for the whole file's
    rows, and a series' first unit in the file is expected in every later chunk, so the good and
    bad rows are those of checking the file as one batch.
    """
    total, chunks = read_raw_chunks(path, source, cfg.ingest.chunk_rows)
    use = choose_engine(engine, total)
    units = dict(series_units)
    rows_in, goods, bads = 0, _GoodRows(total) if source.kind == "metrics" else [], []
    for raw in chunks:
        checked = check_frame(raw, source, cfg, series_units=units, engine=use)
        rows_in += len(raw)
        del raw
        goods.append(checked.good)
        bads.append(checked.bad)
        units.update(checked.units or {})
        del checked
    good = goods.frame() if isinstance(goods, _GoodRows) else pd.concat(goods, ignore_index=True)
    bad = bads[0] if len(bads) == 1 else pd.concat(bads, ignore_index=True)
    return rows_in, Checked(good=good, bad=bad, engine=use)


class _GoodRows:
    """Good metric rows of a file's chunks, in arrays allocated once for ``capacity`` rows.

    Keeps what loading needs: ``ds``, ``y`` and the names as codes over categories that grow
    chunk by chunk (a name keeps its code); :meth:`frame` gives them as one frame.
    """

    LABELS = ("unique_id", "service", "metric", "region", "unit")

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.ds = np.empty(capacity, dtype="datetime64[ns]")
        self.y = np.empty(capacity, dtype="float64")
        self.codes = {c: np.empty(capacity, dtype=np.int32) for c in self.LABELS}
        self.names: dict[str, dict[str, int]] = {c: {} for c in self.LABELS}

    def append(self, good: pd.DataFrame) -> None:
        rows = slice(self.n, self.n + len(good))
        self.ds[rows] = good["ds"].to_numpy(dtype="datetime64[ns]")
        self.y[rows] = good["y"].to_numpy(dtype="float64")
        for c in self.LABELS:
            cat, names = good[c].astype("category"), self.names[c]
            code_of = [names.setdefault(str(v), len(names)) for v in cat.cat.categories]
            self.codes[c][rows] = np.array([*code_of, -1], dtype=np.int32)[cat.cat.codes.to_numpy()]
        self.n += len(good)

    def frame(self) -> pd.DataFrame:
        n, out = self.n, {"unique_id": None, "ds": self.ds[: self.n], "y": self.y[: self.n]}
        for c in self.LABELS:
            cats = pd.Index(list(self.names[c]), dtype="str")
            out[c] = pd.Categorical.from_codes(self.codes.pop(c)[:n], categories=cats)
        return pd.DataFrame(out, copy=False)


def _last_batch(con, source: str, path: str) -> tuple | None:
    """(load key, status, message, batch_id) of the newest batch of ``path``, None if none."""
    rows = con.execute(
        "SELECT content_hash, status, message, batch_id FROM load_batches WHERE source = ? AND path = ? "
        "ORDER BY loaded_at DESC, rowid DESC LIMIT 1",
        [source, path],
    ).fetchall()
    return rows[0] if rows else None


def _series_units(con) -> dict[str, str]:
    return dict(con.execute("SELECT unique_id, unit FROM series WHERE unit IS NOT NULL").fetchall())


def _series_frequencies(con) -> dict[str, str]:
    return dict(con.execute("SELECT unique_id, frequency FROM series").fetchall())


def _dedupe_last(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, int]:
    dup = frame.duplicated(subset=keys, keep="last")
    return frame[~dup], int(dup.sum())


def _load_metrics(con, good: pd.DataFrame, source: SourceConfig, cfg: Config, report: BatchReport) -> None:
    """Metric rows -> ``series``, ``observations`` and ``gaps``, computed on series codes.

    The rows are sorted once by (series, ds), arrival order kept within a key; dedupe, frequency
    inference, grid placement and combining all work on that order, on arrays, never per row on
    the ``unique_id`` text.
    """
    if good.empty:
        return
    rows, arrival, last_row, report.rows_duplicate = _sorted_rows(good)
    names = rows["unique_id"].cat.categories
    used = np.flatnonzero(last_row >= 0)
    series = _plain(good.iloc[last_row[used]][["unique_id", "service", "metric", "region", "unit"]])
    known = _series_frequencies(con)
    freq_of = _frequencies(rows, cfg, known, [names[k] for k in used])
    if any(u not in known and u not in cfg.ingest.frequencies for u in freq_of):
        report.notes.extend(_sparse_notes(rows, freq_of, known, cfg))
    step_of = {u: frequency_seconds(f) for u, f in freq_of.items()}
    grid = place_on_grid(rows["ds"], _per_row(rows["unique_id"], freq_of), cfg.ingest.grid_rule)
    report.rows_regridded = int((grid != rows["ds"]).sum())
    rows["ds"] = grid
    del grid
    series["kind"] = [cfg.metric_spec(str(m)).kind for m in series["metric"]]
    series["frequency"] = [freq_of[u] for u in series["unique_id"]]
    series["source"] = source.name
    kind_of = dict(zip(series["unique_id"], series["kind"], strict=True))
    obs = _combine_on_grid(rows, arrival, _per_code(rows["unique_id"], kind_of) == "counter")
    report.rows_duplicate += len(rows) - len(obs)  # samples combined onto a shared grid point
    del rows, arrival
    touched = touched_windows(con, obs, step_of, {u: known.get(u) != f for u, f in freq_of.items()})
    upsert(
        con,
        "series",
        series,
        ("unique_id",),
        ("service", "metric", "region", "unit", "kind", "frequency", "source"),
    )
    ins, upd, same = upsert_observations(con, obs, touched)
    report.rows_inserted, report.rows_updated, report.rows_unchanged = ins, upd, same
    refresh_gaps(con, touched, new_series_gaps(obs, touched, step_of))


def _sparse_notes(rows: pd.DataFrame, freq_of: dict[str, str], known: dict[str, str], cfg: Config) -> list:
    """A note per series whose inferred frequency is coarser than its finest spacing.

    A sparse hourly series (most hours missing) has a median spacing of a day or more; it is read
    at that coarser frequency, which the user must hear about (and can override).
    """
    fine = finest_frequencies(rows)
    notes = []
    for uid, f in fine.items():
        got = freq_of.get(uid)
        if got is None or uid in known or uid in cfg.ingest.frequencies:
            continue
        if frequency_seconds(got) > frequency_seconds(f):
            notes.append(
                f"{uid}: read as frequency {got!r} (median spacing) although samples arrive every {f!r}: "
                f"a sparse series; set [ingest] frequencies {uid!r} = {f!r} to keep {f!r}"
            )
    return notes


def _sorted_rows(good: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """``good``'s (unique_id, ds, y) sorted by key, keeping each key's last arrival only.

    Also returns each kept row's arrival position, per series code the position of its last row
    (-1 for a code without rows) and how many rows a later arrival superseded.
    """
    uid = good["unique_id"].astype("category")
    codes = uid.cat.codes.to_numpy()
    ds = good["ds"].to_numpy(dtype="datetime64[ns]")
    y = good["y"].to_numpy(dtype="float64")
    order = np.arange(len(codes))
    if not is_key_sorted(codes, ds):
        order = key_order(codes, ds)
        codes, ds, y = codes[order], ds[order], y[order]
    last_row = _last_rows(codes, order)
    keep = np.r_[(codes[1:] != codes[:-1]) | (ds[1:] != ds[:-1]), True]
    duplicates = int(len(keep) - keep.sum())
    if duplicates:
        codes, ds, y, order = codes[keep], ds[keep], y[keep], order[keep]
    unique_id = pd.Categorical.from_codes(codes, categories=uid.cat.categories)
    return pd.DataFrame({"unique_id": unique_id, "ds": ds, "y": y}, copy=False), order, last_row, duplicates


def _last_rows(codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per code, the largest arrival position among its rows (``codes`` sorted, ``order`` aligned)."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    out[codes[starts]] = np.maximum.reduceat(order, starts)
    return out


def _frequencies(rows: pd.DataFrame, cfg: Config, known: dict[str, str], uids: list[str]) -> dict[str, str]:
    """unique_id -> frequency: configured, else stored, else inferred, else the batch's usual one.

    Inference (on the key-sorted rows) runs only when some series has neither of the first two.
    """
    set_freq = {u: cfg.ingest.frequencies.get(u) or known.get(u) for u in uids}
    if all(set_freq.values()):
        return set_freq
    inferred = infer_frequencies(rows)
    fallback = pd.Series(list(inferred.values())).mode()
    default = fallback.iloc[0] if len(fallback) else "h"
    return {u: set_freq[u] or inferred.get(u) or default for u in uids}


def _per_code(uid: pd.Series, value_of: dict[str, object]) -> np.ndarray:
    """Per category of the categorical ``uid``, ``value_of[name]`` (None where absent)."""
    return np.array([value_of.get(u) for u in uid.cat.categories], dtype=object)


def _per_row(uid: pd.Series, value_of: dict[str, str]) -> pd.Series:
    """``uid.map(value_of)`` as a categorical, through the codes (one lookup per series)."""
    codes, values = pd.factorize(_per_code(uid, value_of))
    row_codes = np.append(codes, -1)[uid.cat.codes.to_numpy()]
    return pd.Series(pd.Categorical.from_codes(row_codes, categories=values), index=uid.index)


def _combine_on_grid(rows: pd.DataFrame, arrival: np.ndarray, counter: np.ndarray) -> pd.DataFrame:
    """Several samples on one grid point: sum for counters, mean for gauges and rates.

    ``rows`` are sorted by key, ``arrival`` is each row's arrival position and ``counter`` says
    per series code whether it is a counter. Samples are combined in arrival order by pandas'
    groupby, so the values are bit-for-bit those of a groupby over the whole batch.
    """
    codes = rows["unique_id"].cat.codes.to_numpy()
    ds = rows["ds"].to_numpy()
    first = np.r_[True, (codes[1:] != codes[:-1]) | (ds[1:] != ds[:-1])]
    if first.all():
        return rows
    group = np.cumsum(first) - 1
    shared = np.bincount(group)[group] > 1
    y = rows["y"].to_numpy()[first]
    part = pd.DataFrame(
        {"group": group[shared], "y": rows["y"].to_numpy()[shared], "counter": counter[codes[shared]]},
        index=arrival[shared],
    ).sort_index()
    for is_counter, agg in ((True, "sum"), (False, "mean")):
        sel = part[part["counter"] == is_counter]
        if len(sel):
            combined = sel.groupby("group", sort=False)["y"].agg(agg)
            y[combined.index.to_numpy()] = combined.to_numpy()
    out = rows[first].reset_index(drop=True)
    out["y"] = y
    return out


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns for DuckDB registration (string or categorical dtype with NA -> None)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.StringDtype | pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _load_table(con, good: pd.DataFrame, source: SourceConfig, report: BatchReport) -> None:
    table, keys, values = TABLE_KEYS[source.kind]
    frame = good.copy()
    if source.kind == "events":
        frame["services"] = [
            [p.strip() for p in str(t).replace(",", ";").split(";") if p.strip()]
            for t in frame["services_text"]
        ]
    if source.kind == "inventory":
        frame["instances"] = frame["instances"].round().astype("int64")
        frame["max_instances"] = frame["max_instances"].round().astype("int64")
    frame = frame[[*keys, *values]]
    frame, report.rows_duplicate = _dedupe_last(frame, list(keys))
    ins, upd, same = upsert(con, table, _plain(frame), keys, values)
    report.rows_inserted, report.rows_updated, report.rows_unchanged = ins, upd, same


def _record_rejection(con, report: BatchReport, source: SourceConfig, digest: str) -> None:
    report.batch_id = uuid.uuid4().hex[:16]
    write_batch(con, report, source, digest)


def ingest_source(
    con, source: SourceConfig, cfg: Config, *, engine: Engine = "auto", paths=None
) -> list[BatchReport]:
    """Load every file matching ``source.path``; a source matching no file is itself rejected."""
    files = list(paths) if paths is not None else source_files(source, cfg)
    if not files:
        return [
            BatchReport(
                source.name,
                str(cfg.resolve(source.path)),
                "rejected",
                message=f"source '{source.name}': no file matches {cfg.resolve(source.path)}",
            )
        ]
    return [ingest_file(con, p, source, cfg, engine=engine) for p in files]


__all__ = ["BatchReport", "ingest_file", "ingest_source", "source_files", "file_hash"]
