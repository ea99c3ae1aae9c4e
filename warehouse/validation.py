"""Parse raw input rows into typed frames and check them with Great Expectations suites.

Each input kind has one ordered list of :class:`Check`. A check is declared once and has two
equivalent executions:

* ``gx``: the Great Expectations 1.x expectation it maps to, run in an ephemeral GX context on
  the batch (``result_format=COMPLETE``; the ``unexpected_index_list`` gives the failing rows);
* ``vectorized``: the same rule as a numpy mask, for bulk loads where GX's per-row engine costs
  more than the load itself (about 0.5 s per expectation per million rows measured here).

``engine="auto"`` uses GX for batches up to ``gx_max_rows`` rows and the vectorized form above;
``tests/test_validation.py`` proves both agree on fuzzed data. A row failing any check goes to
quarantine with the *first* failing check's name and a reason naming the column, what was
expected and what was found. Nothing is dropped: every raw row ends up in ``good`` or ``bad``.

Metric name columns (``service``, ``metric``, ``region``, ``unit`` and the derived ``unique_id``,
``expected_unit``) are typed as categoricals: text is stripped, checked and joined once per
distinct value, whether the raw column arrived as text or as a categorical (Parquet dictionary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from capplan.core.config import Config, SourceConfig

from .checks import Check, checks_for

Engine = Literal["auto", "gx", "vectorized"]
GX_MAX_ROWS = 500_000  # engine "auto": Great Expectations for batches up to this many rows


def choose_engine(engine: Engine, rows: int, gx_max_rows: int = GX_MAX_ROWS) -> str:
    """The engine a batch of ``rows`` rows is checked with (``auto`` decides by its size)."""
    return engine if engine != "auto" else ("gx" if rows <= gx_max_rows else "vectorized")


@dataclass
class Checked:
    good: pd.DataFrame  # typed rows that passed every check
    bad: pd.DataFrame  # line, raw, check, reason
    engine: str
    units: dict[str, str] | None = None  # metrics: each series' expected unit (stored, else first seen)


# --- parsing -----------------------------------------------------------------------------------


def _text(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    return out.mask(out == "")


def _label(s: pd.Series) -> pd.Series:
    """:func:`_text` for a low-cardinality column (names, units), as a categorical.

    Same values as ``_text`` (stripped, empty -> NA), but the text is handled once per distinct
    value instead of once per row; a categorical input (Parquet dictionary) is used as it is.
    """
    cat = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
    text = pd.Series(cat.cat.categories, dtype=object).astype("string").str.strip()
    new_of_old, categories = pd.factorize(text.mask(text == ""))
    if len(categories) == len(text) and (new_of_old == np.arange(len(text))).all():
        return cat.cat.rename_categories(categories)  # already clean: same codes
    codes = _take(new_of_old, cat.cat.codes.to_numpy())
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=s.index, name=s.name)


def _take(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` with code -1 (missing) kept as -1."""
    return np.append(np.asarray(table, dtype=np.int64), -1)[codes]


def _na_label(index: pd.Index) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(np.full(len(index), -1), categories=[]), index=index)


_TS_MIN, _TS_MAX = pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01")


def parse_timestamps(raw: pd.Series, tz: str = "UTC", epoch: bool = False) -> pd.Series:
    """Parse to UTC, tz-naive datetime64[ns]; unparseable or outside 1900-2200 -> NaT.

    Naive text is read in ``tz``; text with an offset (``Z``, ``+02:00``) keeps its offset.
    """
    out = _parse_timestamps(raw, tz, epoch)
    return out.where((out >= _TS_MIN) & (out < _TS_MAX)).astype("datetime64[ns]")


def _parse_timestamps(raw: pd.Series, tz: str, epoch: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        ts = raw
        if getattr(ts.dt, "tz", None) is None:
            ts = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT") if tz != "UTC" else ts
        else:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
            return ts
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        return ts
    if epoch or pd.api.types.is_numeric_dtype(raw):
        num = pd.to_numeric(raw, errors="coerce")
        num = num.where(np.isfinite(num) & (num.abs() < 1e11))
        return pd.to_datetime(num, unit="s", errors="coerce")
    text = _text(raw)
    out = _parse_iso(text, tz)
    missed = out.isna() & text.notna()
    if missed.any():  # unix seconds arriving as text (a CSV column of 1735689600)
        sub = text[missed]
        digits = sub[sub.str.fullmatch(r"\d{9,11}(?:\.\d*)?", na=False)]  # 1973..5138
        if len(digits):
            epoch = _parse_timestamps(pd.to_numeric(digits), tz, True)
            out = out.copy()
            out[digits.index] = epoch.astype(out.dtype)  # same unit: "0" may be year 0 in ``out``
    return out


def _parse_iso(text: pd.Series, tz: str) -> pd.Series:
    if tz == "UTC":
        ts = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        return ts.dt.tz_localize(None)
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], utc=True, errors="coerce", format="ISO8601")
        out[has_offset] = aware.dt.tz_localize(None)
    naive_idx = ~has_offset & text.notna()
    if naive_idx.any():
        naive = pd.to_datetime(text[naive_idx], errors="coerce", format="ISO8601")
        local = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        out[naive_idx] = local.dt.tz_localize(None)
    return out


def _number(raw: pd.Series) -> pd.Series:
    num = pd.to_numeric(raw if pd.api.types.is_numeric_dtype(raw) else _text(raw), errors="coerce")
    num = num.astype("float64")
    return num.where(np.isfinite(num))


def _well_formed(raw: pd.DataFrame) -> pd.Series:
    if "_ragged" in raw.columns:
        return raw["_ragged"].fillna("").astype(str) == ""
    return pd.Series(True, index=raw.index)


def typed_frame(raw: pd.DataFrame, source: SourceConfig, cfg: Config) -> pd.DataFrame:
    """Typed columns for ``source.kind`` (same index as ``raw``); parse failures become NA."""
    kind = source.kind
    out = pd.DataFrame(index=raw.index)
    out["well_formed"] = _well_formed(raw)
    if kind == "metrics":
        epoch = "_epoch" in raw.columns
        out["ds"] = parse_timestamps(raw["ts"], source.timezone, epoch=epoch)
        out["service"] = _label(raw["service"])
        out["metric"] = _label(raw["metric"])
        out["region"] = _label(raw["region"]) if "region" in raw else _na_label(raw.index)
        out["y"] = _number(raw["value"])
        out["unit"] = _label(raw["unit"]) if "unit" in raw else _na_label(raw.index)
        out["allow_negative"] = out["metric"].isin(cfg.ingest.allow_negative_metrics).to_numpy()
    elif kind == "kpis":
        out["ds"] = parse_timestamps(raw["ts"], source.timezone)
        out["kpi"] = _text(raw["kpi"])
        out["value"] = _number(raw["value"])
    elif kind == "events":
        out["name"] = _text(raw["name"])
        out["kind"] = _text(raw["kind"]).str.lower()
        out["start"] = parse_timestamps(raw["start"], source.timezone)
        out["end"] = parse_timestamps(raw["end"], source.timezone)
        out["services_text"] = _text(raw["services"])
        up_txt = (
            _text(raw["expected_uplift"]) if "expected_uplift" in raw else pd.Series(pd.NA, index=raw.index)
        )
        out["expected_uplift"] = _number(up_txt)
        out["uplift_bad"] = up_txt.notna() & out["expected_uplift"].isna()
    elif kind == "inventory":
        out["service"] = _text(raw["service"])
        out["resource"] = _text(raw["resource"]).str.lower()
        out["capacity_per_instance"] = _number(raw["capacity_per_instance"])
        out["unit"] = _text(raw["unit"])
        out["instances"] = _number(raw["instances"])
        out["target_utilization"] = _number(raw["target_utilization"])
        out["max_instances"] = _number(raw["max_instances"])
        out["cost_per_instance_hour"] = _number(raw["cost_per_instance_hour"])
        out["instance_type"] = _text(raw["instance_type"]) if "instance_type" in raw else pd.NA
        lead_txt = (
            _text(raw["lead_time_days"]) if "lead_time_days" in raw else pd.Series(pd.NA, index=raw.index)
        )
        out["lead_time_days"] = _number(lead_txt)
        out["lead_time_bad"] = lead_txt.notna() & out["lead_time_days"].isna()
    elif kind == "loadtests":
        out["service"] = _text(raw["service"])
        out["instances"] = _number(raw["instances"]) if "instances" in raw else np.nan
        out["concurrency"] = _number(raw["concurrency"]) if "concurrency" in raw else np.nan
        out["point"] = out["instances"].fillna(out["concurrency"])
        out["throughput"] = _number(raw["throughput"])
        out["latency_p99_ms"] = _number(raw["latency_p99_ms"])
    return out


def _codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(codes, categories) of a column; -1 marks a missing value."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = _label(s)
    return s.cat.codes.to_numpy().astype(np.int64), s.cat.categories


def _prepare_metrics(typed: pd.DataFrame, series_units: dict[str, str], cfg: Config) -> pd.DataFrame:
    """Add the derived columns the metric checks read: ``unique_id``, ``y_checked``, ``expected_unit``.

    ``unique_id`` is ``service:metric`` or ``service:metric:region`` (NA without service or
    metric). A missing unit defaults to the metric's spec; the expected unit is the one already
    stored for the series, else the first unit seen for it in this batch. All of it is computed
    on categorical codes, once per distinct name, never per row on text.
    """
    typed["y_checked"] = typed["y"].where(
        ~typed["allow_negative"], typed["y"].abs()
    )  # sign allowed, size bounded
    metric, metrics = _codes(typed["metric"])
    unit, units = _default_units(*_codes(typed["unit"]), metric, metrics, cfg)
    uid, uids = _unique_ids(_codes(typed["service"]), (metric, metrics), _codes(typed["region"]))
    typed["unique_id"] = pd.Categorical.from_codes(uid, categories=uids)
    expected, units = _expected_units(uid, uids, unit, units, series_units)
    typed["unit"] = pd.Categorical.from_codes(unit, categories=units)
    typed["expected_unit"] = pd.Categorical.from_codes(expected, categories=units)
    return typed


def _default_units(
    unit: np.ndarray, units: pd.Index, metric: np.ndarray, metrics: pd.Index, cfg: Config
) -> tuple[np.ndarray, list]:
    """Fill a missing unit with the metric spec's unit; returns (codes, categories)."""
    cats = list(units)
    pos = {u: i for i, u in enumerate(cats)}
    unit_of_metric = []
    for m in metrics:
        d = cfg.metric_spec(str(m)).unit
        if d is not None and d not in pos:
            pos[d] = len(cats)
            cats.append(d)
        unit_of_metric.append(-1 if d is None else pos[d])
    out = unit.copy()
    missing = out < 0
    out[missing] = _take(np.asarray(unit_of_metric, dtype=np.int64), metric[missing])
    return out, cats


def _unique_ids(
    service: tuple[np.ndarray, pd.Index],
    metric: tuple[np.ndarray, pd.Index],
    region: tuple[np.ndarray, pd.Index],
) -> tuple[np.ndarray, pd.Index]:
    """Codes and names of ``service:metric[:region]``, each name built once per distinct triple.

    Missing service or metric gives a missing id; triples spelling the same id share one code.
    """
    (sc, scat), (mc, mcat), (rc, rcat) = service, metric, region
    pair, pairs = pd.factorize(np.where((sc >= 0) & (mc >= 0), sc * len(mcat) + mc, -1))
    triple, triples = pd.factorize(pair * (len(rcat) + 1) + rc + 1)
    names = []
    for k in triples:
        p, r = divmod(int(k), len(rcat) + 1)
        if pairs[p] < 0:
            names.append(None)
            continue
        s, m = divmod(int(pairs[p]), len(mcat))
        names.append(f"{scat[s]}:{mcat[m]}" + (f":{rcat[r - 1]}" if r else ""))
    merged, uids = pd.factorize(pd.Series(names, dtype=object))
    return _take(merged, triple), pd.Index(uids, dtype="str")


def _expected_units(
    uid: np.ndarray, uids: pd.Index, unit: np.ndarray, units: list, series_units: dict[str, str]
) -> tuple[np.ndarray, list]:
    """Per row, the series' stored unit or else its first unit in the batch; (codes, categories)."""
    cats = list(units)
    pos = {u: i for i, u in enumerate(cats)}
    unit_of_uid = np.full(len(uids), -1, dtype=np.int64)
    seen = np.flatnonzero((uid >= 0) & (unit >= 0))
    first = seen[~pd.Series(uid[seen]).duplicated().to_numpy()]
    unit_of_uid[uid[first]] = unit[first]
    for k, name in enumerate(uids):
        stored = series_units.get(name)
        if stored is not None:
            if stored not in pos:
                pos[stored] = len(cats)
                cats.append(stored)
            unit_of_uid[k] = pos[stored]
    return _take(unit_of_uid, uid), cats


def check_frame(
    raw: pd.DataFrame,
    source: SourceConfig,
    cfg: Config,
    *,
    series_units: dict[str, str] | None = None,
    engine: Engine = "auto",
    gx_max_rows: int = GX_MAX_ROWS,
) -> Checked:
    """Type and check ``raw``; split into good typed rows and quarantined rows with reasons."""
    typed = typed_frame(raw, source, cfg)
    if source.kind == "metrics":
        typed = _prepare_metrics(typed, series_units or {}, cfg)
    checks = checks_for(source.kind)
    use = choose_engine(engine, len(typed), gx_max_rows)
    masks = _gx_masks(typed, checks, source.kind) if use == "gx" else [c.mask(typed) for c in checks]
    failed_any = np.zeros(len(typed), dtype=bool)
    first = np.full(len(typed), -1, dtype=np.int64)
    for i, m in enumerate(masks):
        new = m & ~failed_any
        first[new] = i
        failed_any |= m
    bad_idx = np.flatnonzero(failed_any)
    bad = _quarantine_rows(raw, typed, checks, bad_idx, first[bad_idx], source)
    good = typed.iloc[np.flatnonzero(~failed_any)] if len(bad_idx) else typed
    units = _units_of_series(typed) if source.kind == "metrics" else None
    return Checked(good=good, bad=bad, engine=use, units=units)


def _units_of_series(typed: pd.DataFrame) -> dict[str, str]:
    """unique_id -> the unit its rows were checked against (one per series of the batch).

    A batch checked in chunks passes it on as ``series_units`` of the next chunk, so a series'
    first unit in the file is expected in every chunk, as in one batch.
    """
    pairs = typed[["unique_id", "expected_unit"]].dropna().drop_duplicates("unique_id")
    return dict(zip(pairs["unique_id"].astype(str), pairs["expected_unit"].astype(str), strict=True))


def _gx_masks(typed: pd.DataFrame, checks: list[Check], kind: str) -> list[np.ndarray]:
    import great_expectations as gx

    frame = typed.reset_index(drop=True)
    # GX's pandas engine does not take pandas' string dtype everywhere: hand it object columns.
    for c in frame.columns:
        if isinstance(frame[c].dtype, pd.StringDtype | pd.CategoricalDtype):
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    import logging

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = ctx.data_sources.add_pandas("capplan").add_dataframe_asset(kind)
    batch = asset.add_batch_definition_whole_dataframe("batch").get_batch(
        batch_parameters={"dataframe": frame}
    )
    suite = gx.ExpectationSuite(name=f"capplan_{kind}")
    for c in checks:
        suite.add_expectation(c.gx())
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    masks = []
    for c, r in zip(checks, result.results, strict=True):
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(f"Great Expectations failed on check {c.name}: {r.exception_info}")
        m = np.zeros(len(frame), dtype=bool)
        idx = (r.result or {}).get("unexpected_index_list") or []
        if idx:
            m[np.asarray(idx, dtype=np.int64)] = True
        masks.append(m)
    return masks


def _quarantine_rows(
    raw: pd.DataFrame,
    typed: pd.DataFrame,
    checks: list[Check],
    idx: np.ndarray,
    which: np.ndarray,
    source: SourceConfig,
) -> pd.DataFrame:
    kind = source.kind
    if len(idx) == 0:
        return pd.DataFrame({"line": [], "raw": [], "check": [], "reason": []}, dtype=object)
    from .readers import OPTIONAL, REQUIRED

    cols = [c for c in (*REQUIRED[kind], *OPTIONAL[kind]) if c in raw.columns]
    sub = raw.iloc[idx]
    if "_ragged" in sub.columns:
        ragged = sub["_ragged"].fillna("").astype(str)
    else:
        ragged = pd.Series("", index=sub.index)
    text = sub[cols].astype("string").fillna("").agg(",".join, axis=1)
    text = text.where(ragged == "", ragged)
    reasons = []
    tsub = typed.iloc[idx]
    for j, k in enumerate(which):
        c = checks[k]
        col = c.show or c.column
        if col in sub.columns:
            found = sub[col].iloc[j]
        elif col in tsub.columns:
            found = tsub[col].iloc[j]
        else:
            found = None
        if c.name == "value_non_negative":
            found = sub["value"].iloc[j]
        if c.name == "row_well_formed":
            reasons.append(f"row has a different number of fields than the header ({len(cols)} expected)")
            continue
        col_name = {"y_checked": "value", "y": "value", "ds": "ts", "services_text": "services"}.get(
            c.column, c.column
        )
        if c.name == "unit_consistent":
            reasons.append(
                f"column 'unit': expected the series' unit {_show(tsub['expected_unit'].iloc[j])}, found {_show(found)}"
            )
            continue
        if c.name == "uplift_numeric":
            col_name, found = "expected_uplift", sub["expected_uplift"].iloc[j]
        problem = _time_problem(found, source.timezone) if c.name in _TIME_CHECKS else None
        if problem:
            reasons.append(f"column '{col_name}': {problem}, found {_show(found)}")
            continue
        reasons.append(f"column '{col_name}': expected {c.expected}, found {_show(found)}")
    return pd.DataFrame(
        {
            "line": sub["_line"].astype(str).to_numpy(),
            "raw": text.to_numpy(dtype=object),
            "check": [checks[k].name for k in which],
            "reason": reasons,
        }
    )


_TIME_CHECKS = ("ts_parseable", "start_parseable", "end_parseable")


def _time_problem(text: object, tz: str) -> str | None:
    """What is wrong with a timestamp that parses but was refused (DST, range), else None."""
    try:
        t = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError, OverflowError):
        return None
    if t is pd.NaT:
        return None
    if t.tzinfo is None and tz != "UTC":
        try:
            t = t.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except ValueError as err:
            if "nonexistent" in str(err):
                return (
                    f"a local time that does not exist in {tz} (skipped by a DST change); give a UTC offset"
                )
            return f"a local time that occurs twice in {tz} (a DST overlap, ambiguous); give a UTC offset"
    utc = t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t
    if not _TS_MIN <= utc < _TS_MAX:
        return "expected a time between 1900 and 2200"
    return None


def _show(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return "nothing"
    s = str(v)
    return repr(s[:80])
