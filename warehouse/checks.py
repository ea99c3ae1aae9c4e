"""The checks of each input kind, declared once with two equivalent executions.

Each :class:`Check` maps to a Great Expectations 1.x expectation (``gx``) and to the same rule
as a numpy mask (``mask``, True where a row fails); ``validation.check_frame`` runs one or the
other. Numeric checks bound every value both by its domain (usage >= 0, utilization in (0, 1])
and by what the warehouse column and the arithmetic on it can hold (:data:`BOUNDS`): a value
that would wrap an integer column or overflow to ``inf`` when combined is quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from capplan.core.contracts import RESOURCES

# A name: no ':' (the unique_id separator), no control characters (NUL, ESC, newlines: they would
# reach terminals and files), no leading or trailing spaces.
_CTRL = r"\x00-\x1f\x7f\x80-\x9f"
NAME_REGEX = rf"^[^:\s{_CTRL}](?:[^:{_CTRL}]*[^:\s{_CTRL}])?$"
EVENT_KINDS = ("launch", "campaign", "sale", "holiday", "outage", "maintenance", "other")
_NAME_RE = re.compile(NAME_REGEX)

# Largest accepted value per quantity: far beyond any real fleet, far below what overflows.
MAX_USAGE = 1e15  # a metric sample or a KPI (two of them summed or averaged stay finite)
MAX_COUNT = 1e9  # instances, max_instances, load-test points (fit BIGINT exactly)
MAX_UPLIFT = 1e3  # an event's expected_uplift (a multiplier of normal demand)
MAX_COST = 1e9  # cost per instance hour
MAX_LATENCY_MS = 1e9


@dataclass(frozen=True)
class Check:
    name: str
    column: str
    expected: str
    gx: Callable[[], Any]  # builds the GX expectation (imported lazily)
    mask: Callable[[pd.DataFrame], np.ndarray]  # True where the row FAILS
    show: str | None = None  # raw column to quote as "found" (defaults to column)


# --- checks ------------------------------------------------------------------------------------


def _gxe():
    import great_expectations.expectations as gxe

    return gxe


def _not_null(name: str, col: str, expected: str, show: str | None = None) -> Check:
    return Check(
        name,
        col,
        expected,
        gx=lambda: _gxe().ExpectColumnValuesToNotBeNull(column=col),
        mask=lambda f: f[col].isna().to_numpy(),
        show=show,
    )


def _in_set(name: str, col: str, values: tuple, expected: str) -> Check:
    return Check(
        name,
        col,
        expected,
        gx=lambda: _gxe().ExpectColumnValuesToBeInSet(column=col, value_set=list(values)),
        mask=lambda f: (f[col].notna() & ~f[col].isin(values)).to_numpy(),
    )


def _name(name: str, col: str) -> Check:
    def mask(f: pd.DataFrame) -> np.ndarray:
        s = f[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes, uniques = s.cat.codes.to_numpy(), s.cat.categories
        else:
            codes, uniques = pd.factorize(s)  # check each distinct name once
        ok = np.array([bool(_NAME_RE.match(str(u))) for u in uniques], dtype=bool)
        bad = np.zeros(len(s), dtype=bool)
        valid = codes >= 0
        bad[valid] = ~ok[codes[valid]]
        return bad

    return Check(
        name,
        col,
        "a name without ':', control characters or leading/trailing spaces",
        gx=lambda: _gxe().ExpectColumnValuesToMatchRegex(column=col, regex=NAME_REGEX),
        mask=mask,
    )


def _between(
    name: str, col: str, lo: float | None, hi: float | None, expected: str, strict_lo=False
) -> Check:
    def mask(f: pd.DataFrame) -> np.ndarray:
        v = f[col].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.zeros(len(v), dtype=bool)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                bad |= (v <= lo) if strict_lo else (v < lo)
            if hi is not None:
                bad |= v > hi
        return bad & ~np.isnan(v)

    return Check(
        name,
        col,
        expected,
        gx=lambda: _gxe().ExpectColumnValuesToBeBetween(
            column=col, min_value=lo, max_value=hi, strict_min=strict_lo
        ),
        mask=mask,
    )


def _well_formed_check() -> Check:
    return Check(
        "row_well_formed",
        "well_formed",
        "the header's number of fields",
        gx=lambda: _gxe().ExpectColumnValuesToBeInSet(column="well_formed", value_set=[True]),
        mask=lambda f: ~f["well_formed"].to_numpy(dtype=bool),
        show="_ragged",
    )


def _metrics_checks(wf: Check) -> list[Check]:
    return [
        wf,
        _not_null("ts_parseable", "ds", "an ISO-8601 timestamp or unix seconds", show="ts"),
        _not_null("service_present", "service", "a service name"),
        _name("service_valid", "service"),
        _not_null("metric_present", "metric", "a metric name"),
        _name("metric_valid", "metric"),
        _not_null("value_numeric", "y", "a finite number", show="value"),
        _between("value_non_negative", "y_checked", 0, MAX_USAGE, f"usage in [0, {MAX_USAGE:g}]"),
        Check(
            "unit_consistent",
            "unit",
            "the series' unit",
            gx=lambda: _gxe().ExpectColumnPairValuesToBeEqual(
                column_A="unit", column_B="expected_unit", ignore_row_if="either_value_is_missing"
            ),
            mask=lambda f: _differ(f["unit"], f["expected_unit"]),
        ),
    ]


def _kpis_checks(wf: Check) -> list[Check]:
    return [
        wf,
        _not_null("ts_parseable", "ds", "an ISO-8601 timestamp or unix seconds", show="ts"),
        _not_null("kpi_present", "kpi", "a KPI name"),
        _name("kpi_valid", "kpi"),
        _not_null("value_numeric", "value", "a finite number"),
        _between("value_non_negative", "value", 0, MAX_USAGE, f"a KPI in [0, {MAX_USAGE:g}]"),
    ]


def _events_checks(wf: Check) -> list[Check]:
    return [
        wf,
        _not_null("name_present", "name", "an event name"),
        _not_null("kind_present", "kind", "an event kind"),
        _in_set("kind_allowed", "kind", EVENT_KINDS, "one of " + "|".join(EVENT_KINDS)),
        _not_null("start_parseable", "start", "an ISO-8601 timestamp"),
        _not_null("end_parseable", "end", "an ISO-8601 timestamp"),
        Check(
            "end_after_start",
            "end",
            "end >= start",
            gx=lambda: _gxe().ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="end", column_B="start", or_equal=True, ignore_row_if="either_value_is_missing"
            ),
            mask=lambda f: (f["end"].notna() & f["start"].notna() & (f["end"] < f["start"])).to_numpy(
                dtype=bool
            ),
        ),
        _not_null("services_present", "services_text", "a list like 'web;api' or '*'", show="services"),
        _in_set("uplift_numeric", "uplift_bad", (False,), "a number or empty"),
        _between(
            "uplift_positive",
            "expected_uplift",
            0,
            MAX_UPLIFT,
            f"an uplift in (0, {MAX_UPLIFT:g}]",
            strict_lo=True,
        ),
    ]


def _inventory_checks(wf: Check) -> list[Check]:
    return [
        wf,
        _not_null("service_present", "service", "a service name"),
        _name("service_valid", "service"),
        _in_set("resource_allowed", "resource", RESOURCES, "one of " + "|".join(RESOURCES)),
        _not_null("resource_present", "resource", "a resource"),
        _not_null("capacity_numeric", "capacity_per_instance", "a number"),
        _between(
            "capacity_positive",
            "capacity_per_instance",
            0,
            MAX_USAGE,
            f"in (0, {MAX_USAGE:g}]",
            strict_lo=True,
        ),
        _not_null("unit_present", "unit", "a unit"),
        _not_null("instances_numeric", "instances", "a whole number"),
        _between("instances_non_negative", "instances", 0, MAX_COUNT, f"in [0, {MAX_COUNT:g}]"),
        _not_null("target_utilization_numeric", "target_utilization", "a number"),
        _between("target_utilization_range", "target_utilization", 0, 1, "in (0, 1]", strict_lo=True),
        _not_null("max_instances_numeric", "max_instances", "a whole number"),
        _between("max_instances_positive", "max_instances", 1, MAX_COUNT, f"in [1, {MAX_COUNT:g}]"),
        _not_null("cost_numeric", "cost_per_instance_hour", "a number"),
        _between("cost_non_negative", "cost_per_instance_hour", 0, MAX_COST, f"in [0, {MAX_COST:g}]"),
        _in_set("lead_time_numeric", "lead_time_bad", (False,), "a number of days or empty"),
        _between("lead_time_range", "lead_time_days", 0, 3650, "days in [0, 3650]"),
    ]


def _loadtests_checks(wf: Check) -> list[Check]:
    return [
        wf,
        _not_null("service_present", "service", "a service name"),
        _name("service_valid", "service"),
        _not_null("point_present", "point", "instances or concurrency", show="instances"),
        _between("point_positive", "point", 0, MAX_COUNT, f"in (0, {MAX_COUNT:g}]", strict_lo=True),
        _not_null("throughput_numeric", "throughput", "a number"),
        _between("throughput_non_negative", "throughput", 0, MAX_USAGE, f"in [0, {MAX_USAGE:g}]"),
        _not_null("latency_numeric", "latency_p99_ms", "a number"),
        _between("latency_non_negative", "latency_p99_ms", 0, MAX_LATENCY_MS, f"in [0, {MAX_LATENCY_MS:g}]"),
    ]


_KIND_CHECKS = {
    "metrics": _metrics_checks,
    "kpis": _kpis_checks,
    "events": _events_checks,
    "inventory": _inventory_checks,
    "loadtests": _loadtests_checks,
}


def checks_for(kind: str) -> list[Check]:
    """The ordered checks of an input kind (a row is quarantined for the first one it fails)."""
    if kind not in _KIND_CHECKS:
        raise ValueError(f"unknown input kind {kind!r}")
    return _KIND_CHECKS[kind](_well_formed_check())


def _differ(a: pd.Series, b: pd.Series) -> np.ndarray:
    """True where both are present and differ (compared on codes when both share categories)."""
    cat = pd.CategoricalDtype
    if isinstance(a.dtype, cat) and isinstance(b.dtype, cat) and a.cat.categories.equals(b.cat.categories):
        ca, cb = a.cat.codes.to_numpy(), b.cat.codes.to_numpy()
        return (ca >= 0) & (cb >= 0) & (ca != cb)
    a, b = a.astype("string"), b.astype("string")
    return (a.notna() & b.notna() & (a != b)).to_numpy(dtype=bool)
