"""What changed between two plans: runway, instances, cost and alerts, as one ``changes`` frame.

:func:`compare_plans` takes two plans as ``{table name: frame}`` dicts (a :class:`PlanTables`'
``items()`` or the store's ``plan_tables``) and returns one row per change with
:data:`CHANGE_COLUMNS`:

* ``days_left``: per ``service, resource, scenario`` of ``runway`` whose days left moved by a day
  or more or whose status changed (``inf``, beyond the horizon, is shown as empty with the status);
* ``instances_required``, ``instances_uncapped``, ``monthly_cost``: per ``service, scenario`` of
  ``cost`` where the value changed (``resource`` is empty: the service's instance pool);
* ``alert``: per ``service, resource, kind`` of ``alerts`` (the most severe when a plan holds
  several): ``new`` (only in the newer plan),
  ``cleared`` (only in the older one) or ``severity`` (changed); ``before``/``after`` empty,
  the severities and the message in ``note``.

A row in only one plan counts as a change (``before`` or ``after`` empty). Sorted by measure,
then service, resource, scenario.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CHANGE_COLUMNS = ("measure", "service", "resource", "scenario", "before", "after", "change", "note")
_ORDER = {"alert": 0, "days_left": 1, "instances_required": 2, "instances_uncapped": 3, "monthly_cost": 4}


def _finite(x) -> float:
    x = float(x) if x is not None and not pd.isna(x) else np.nan
    return x if np.isfinite(x) else np.nan


def _runway(new: pd.DataFrame, old: pd.DataFrame) -> list[dict]:
    keys = ["service", "resource", "scenario"]
    if new.empty and old.empty:
        return []
    cols = [*keys, "status", "days_left"]
    m = new.reindex(columns=cols).merge(
        old.reindex(columns=cols), on=keys, how="outer", suffixes=("", "_old")
    )
    rows = []
    for r in m.itertuples(index=False):
        a, b = _finite(r.days_left), _finite(r.days_left_old)
        moved = (np.isnan(a) != np.isnan(b)) or (not np.isnan(a) and abs(a - b) >= 1.0)
        if not moved and r.status == r.status_old:
            continue
        rows.append(
            dict(measure="days_left", service=r.service, resource=r.resource, scenario=r.scenario, before=b,
                 after=a, change=a - b, note=f"{r.status_old} -> {r.status}")
        )  # fmt: skip
    return rows


def _cost(new: pd.DataFrame, old: pd.DataFrame) -> list[dict]:
    keys = ["service", "scenario"]
    measures = ["instances_required", "instances_uncapped", "monthly_cost"]
    if new.empty and old.empty:
        return []
    cols = [*keys, *measures]
    m = new.reindex(columns=cols).merge(
        old.reindex(columns=cols), on=keys, how="outer", suffixes=("", "_old")
    )
    rows = []
    for measure in measures:
        for r in m[[*keys, measure, f"{measure}_old"]].itertuples(index=False):
            a, b = _finite(r[2]), _finite(r[3])
            if (np.isnan(a) and np.isnan(b)) or a == b:
                continue
            note = "new in this plan" if np.isnan(b) else ("gone from this plan" if np.isnan(a) else "")
            rows.append(
                dict(measure=measure, service=r.service, resource="", scenario=r.scenario, before=b, after=a,
                     change=a - b, note=note)
            )  # fmt: skip
    return rows


def _worst(alerts: pd.DataFrame, keys: list[str], cols: list[str]) -> pd.DataFrame:
    """One alert per key, the most severe (older plans kept one per scenario)."""
    a = alerts.reindex(columns=cols)
    rank = a["severity"].map({"critical": 0, "warning": 1, "info": 2})
    return a.assign(_r=rank).sort_values("_r", kind="stable").drop_duplicates(keys).drop(columns="_r")


def _alerts(new: pd.DataFrame, old: pd.DataFrame) -> list[dict]:
    keys = ["service", "resource", "kind"]
    cols = [*keys, "severity", "message"]
    m = _worst(new, keys, cols).merge(_worst(old, keys, cols), on=keys, how="outer", suffixes=("", "_old"))
    rows = []
    for r in m.itertuples(index=False):
        if pd.isna(r.severity_old):
            what, note = "new", f"{r.kind} {r.severity}: {r.message}"
        elif pd.isna(r.severity):
            what, note = "cleared", f"{r.kind} was {r.severity_old}: {r.message_old}"
        elif r.severity != r.severity_old:
            what, note = "severity", f"{r.kind} {r.severity_old} -> {r.severity}: {r.message}"
        else:
            continue
        rows.append(
            dict(measure="alert", service=r.service, resource=r.resource, scenario=what, before=np.nan,
                 after=np.nan, change=np.nan, note=note)
        )  # fmt: skip
    return rows


def compare_plans(new: dict[str, pd.DataFrame], old: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What changed from plan ``old`` to plan ``new`` (see the module docstring)."""

    def get(tables, name):
        frame = tables.get(name)
        return frame if frame is not None else pd.DataFrame()

    rows = _alerts(get(new, "alerts"), get(old, "alerts"))
    rows += _runway(get(new, "runway"), get(old, "runway"))
    rows += _cost(get(new, "cost"), get(old, "cost"))
    out = pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))
    if out.empty:
        return out
    out = out.assign(_o=out["measure"].map(_ORDER)).sort_values(
        ["_o", "service", "resource", "scenario"], kind="stable"
    )
    return out.drop(columns="_o").reset_index(drop=True)
