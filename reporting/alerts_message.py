"""The webhook message of one plan's alerts: pure, no I/O (:mod:`.webhook` sends it).

One JSON object per plan:

* ``text``: a Slack-compatible summary (plan id, as-of time, counts by severity, the
  :data:`TOP` most severe alerts with service / resource, kind, date, days left and scenarios);
  text from data is escaped (``&``, ``<``, ``>``), so a service named ``<!channel>`` mentions
  nobody.
* ``plan_id``, ``as_of`` (ISO 8601, UTC), ``min_severity``, ``counts`` (severity -> number of
  alerts sent) and ``alerts``: one dict per alert at or above ``min_severity``, worst first
  (at most :data:`MAX_ALERTS`; ``alerts_omitted`` says how many more). Every value is a string, a
  finite number or null: ``days_left`` beyond the horizon is null, never ``inf`` or ``NaN``.

A plan with no alert at or above ``min_severity`` has no message (``None``).
"""

from __future__ import annotations

import math

import pandas as pd

SEVERITIES = ("critical", "warning", "info")  # worst first
TOP = 5
MAX_ALERTS = 100
_FIELDS = ("severity", "service", "resource", "kind", "scenarios", "date", "days_left", "message")


def _rank(severity: object) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _slack(text: object) -> str:
    """``text`` as Slack shows it literally (its three control characters escaped)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _value(name: str, value: object) -> object:
    """A JSON-safe value: ISO dates, finite floats, None for anything missing or infinite."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if name == "date":
        return pd.Timestamp(value).isoformat()
    if name == "days_left":
        number = float(value)
        return round(number, 1) if math.isfinite(number) else None
    return str(value)


def _stamp(when: object) -> str:
    if when is None or pd.isna(when):
        return ""
    stamp = pd.Timestamp(when)
    return (stamp.tz_convert("UTC").tz_localize(None) if stamp.tz else stamp).isoformat()


def _line(alert: dict) -> str:
    when = f"from {alert['date'][:10]}" if alert["date"] else "no date"
    left = f" ({alert['days_left']:g} d left)" if alert["days_left"] is not None else ""
    scenarios = f" [{alert['scenarios']}]" if alert["scenarios"] else ""
    return _slack(
        f"• {alert['severity']}: {alert['service']} / {alert['resource']} {alert['kind']} {when}{left}{scenarios}"
    )


def alert_message(
    plan_id: str, as_of: object, alerts: pd.DataFrame, min_severity: str = "warning"
) -> dict | None:
    """The message for ``alerts`` (the plan's ``alerts`` table) at or above ``min_severity``.

    ``alerts``: ``severity, service, resource, kind, scenarios, date, days_left, message``
    (missing columns are null). Returns None when no alert reaches ``min_severity``.
    """
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity: expected one of {', '.join(SEVERITIES)}, found {min_severity!r}")
    if alerts is None or alerts.empty or "severity" not in alerts:
        return None
    rows = alerts.assign(_r=alerts["severity"].map(_rank))
    rows = rows[rows["_r"] <= _rank(min_severity)].sort_values("_r", kind="stable")
    if rows.empty:
        return None
    records = [{f: _value(f, r.get(f)) for f in _FIELDS} for r in rows.to_dict("records")]
    counts = {s: int((rows["severity"] == s).sum()) for s in SEVERITIES if (rows["severity"] == s).any()}
    stamp = _stamp(as_of)
    head = f"capplan plan {_slack(plan_id)} (as of {stamp.replace('T', ' ')} UTC): " + ", ".join(
        f"{n} {s}" for s, n in counts.items()
    )
    lines = [head, *(_line(a) for a in records[:TOP])]
    if len(records) > TOP:
        lines.append(f"… and {len(records) - TOP} more in the plan's alerts table")
    return {
        "text": "\n".join(lines),
        "plan_id": str(plan_id),
        "as_of": stamp or None,
        "min_severity": min_severity,
        "counts": counts,
        "alerts": records[:MAX_ALERTS],
        "alerts_omitted": max(len(records) - MAX_ALERTS, 0),
    }
