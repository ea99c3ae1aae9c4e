"""Plain-text progress lines and summary tables for the CLI (no heavy imports)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ALL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_text(text: object, *, newlines: bool = True) -> str:
    """``text`` with control characters (ESC, NUL, BEL, C1 codes...) shown as ``\\x1b`` escapes.

    Names and messages come from data; printed raw, an escape sequence would drive the user's
    terminal. Newlines and tabs survive when ``newlines`` (messages), never in table cells.
    """
    pattern = _CONTROL if newlines else _CONTROL_ALL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def file_line(report) -> str:
    r = report
    name = safe_text(Path(r.path).name, newlines=False)
    if r.status == "rejected":
        return f"  REJECTED  {r.source:<12} {name}: {safe_text(r.message)}"
    if r.status == "unchanged":
        return f"  unchanged {r.source:<12} {name} (same content already loaded)"
    q = f", {r.rows_quarantined} quarantined" if r.rows_quarantined else ""
    notes = "".join(f"\n            note: {safe_text(n)}" for n in getattr(r, "notes", ()))
    return f"  loaded    {r.source:<12} {name}: {r.rows_loaded}/{r.rows_in} rows{q}{notes}"


def table(rows: Sequence[dict], columns: Sequence[tuple[str, str]], right: Collection[str] = ()) -> str:
    """Render ``rows`` as a fixed-width table; ``columns`` are (key, header) pairs.

    Numbers are right-aligned, other text left-aligned, except in the ``right`` columns (by key),
    where everything is right-aligned (e.g. days that may also read "beyond").
    """
    align_right = [k in right for k, _ in columns]
    cells = [[_fmt(r.get(k)) for k, _ in columns] for r in rows]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (_, h) in enumerate(columns)
    ]
    out = ["  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for c in cells:
        out.append(
            "  ".join(
                v.rjust(w) if r or _numeric(v) else v.ljust(w)
                for v, w, r in zip(c, widths, align_right, strict=True)
            )
        )
    return "\n".join(out)


def _fmt(v) -> str:
    if v is None:
        return ""
    if hasattr(v, "strftime"):
        return "" if str(v) == "NaT" else v.strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00")
    if isinstance(v, float):
        if v != v:  # NaN: nothing to show
            return ""
        if v in (float("inf"), float("-inf")):
            return "beyond"
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return safe_text(v, newlines=False)


def _numeric(s: str) -> bool:
    return s.replace(",", "").replace(".", "", 1).replace("-", "", 1).isdigit()


def print_runway(rw, scenarios: list[str]) -> None:
    """One line per service and resource short in any scenario: days left per scenario."""
    short = rw[rw["status"] != "not_within_horizon"]
    if short.empty:
        print("\nNo service runs out of capacity within the horizon in any scenario.")
        return
    keys = short[["service", "resource"]].drop_duplicates()
    rows = keys.merge(rw, on=["service", "resource"])
    days = rows.pivot_table(
        index=["service", "resource"], columns="scenario", values="days_left", aggfunc="min"
    )
    days = days.reindex(columns=[s for s in scenarios if s in days.columns])
    first = short.groupby(["service", "resource"])["crossing"].min()
    days = days.assign(_first=days.min(axis=1)).sort_values("_first", kind="stable")
    out = []
    for (service, resource), r in days.iterrows():
        line = {"service": service, "resource": resource, "first": first.get((service, resource))}
        for sc in days.columns[:-1]:
            v = r[sc]
            line[sc] = "beyond" if v == float("inf") or v != v else ("short now" if v <= 0 else f"{v:.1f}")
        out.append(line)
    print(
        f"\nRunway: days until demand crosses usable capacity ({len(out)} service/resources short in some "
        "scenario; 'beyond': not within the horizon):"
    )
    cols = [("service", "service"), ("resource", "resource")] + [(c, c) for c in days.columns[:-1]]
    print(table(out, [*cols, ("first", "earliest date")], right=set(days.columns[:-1])))


def print_alerts(al, limit: int = 12) -> None:
    """Counts per severity and kind, one line per service, then the most urgent alerts."""
    if al.empty:
        print("\nNo alerts.")
        return
    counts = al.groupby(["severity", "kind"]).size()
    summary = ", ".join(f"{n} {sev} {kind.replace('_', ' ')}" for (sev, kind), n in counts.items())
    print(f"\nAlerts: {summary}")
    serious = al[al["severity"] != "info"]
    if serious.empty:
        return
    per = serious.groupby("service", sort=False).agg(
        critical=("severity", lambda s: int((s == "critical").sum())),
        warning=("severity", lambda s: int((s == "warning").sum())),
        resources=("resource", lambda r: ", ".join(sorted({str(x) for x in r}))),
        scenarios=("scenarios", lambda r: ", ".join(dict.fromkeys(s for x in r for s in str(x).split(", ")))),
    )
    per = per.sort_values(["critical", "warning"], ascending=False, kind="stable").reset_index()
    print(
        table(
            per.to_dict("records"),
            [
                ("service", "service"),
                ("critical", "critical"),
                ("warning", "warning"),
                ("resources", "resources"),
                ("scenarios", "scenarios"),
            ],
        )
    )
    rank = {"critical": 0, "warning": 1}
    first = serious.assign(_r=serious["severity"].map(rank)).sort_values("_r", kind="stable").head(limit)
    more = len(serious) - len(first)
    print(
        f"\nFirst {len(first)} alerts"
        + (f" ({more} more in the alerts table and the Alerts sheet):" if more else ":")
    )
    print(
        table(
            first.to_dict("records"),
            [
                ("severity", "severity"),
                ("service", "service"),
                ("resource", "resource"),
                ("date", "by"),
                ("scenarios", "scenarios"),
                ("message", "message"),
            ],
        )
    )


def print_changes(changes, against: str | None, limit: int = 25) -> None:
    """What changed since plan ``against``: alerts first, then runway, instances and cost."""
    if against is None:
        print("\nNo earlier plan to compare with.")
        return
    if changes.empty:
        print(f"\nNothing changed since plan {against}.")
        return
    counts = changes.groupby("measure", sort=False).size()
    print(
        f"\nChanges since plan {against}: "
        + ", ".join(f"{n} {m.replace('_', ' ')}" for m, n in counts.items())
    )
    first = changes.head(limit)
    print(
        table(
            first.to_dict("records"),
            [("measure", "measure"), ("service", "service"), ("resource", "resource"), ("scenario", "scenario"),
             ("before", "before"), ("after", "after"), ("change", "change"), ("note", "note")],
        )
    )  # fmt: skip
    if len(changes) > limit:
        print(f"({len(changes) - limit} more in the Changes sheet of the workbook)")


def busiest_service(scores, schedule) -> str | None:
    """The service with the highest peak ``instances_recommended`` in the 48-h schedule (ties:
    the first by name); without a schedule, the highest reactive instance-hours of the replay."""
    if schedule is not None and len(schedule) and set(scores["service"]) & set(schedule["service"]):
        sched = schedule[schedule["service"].isin(set(scores["service"]))]
        peak = sched.groupby("service")["instances_recommended"].max()
        return str(peak[peak == peak.max()].index.min())
    if scores is None or scores.empty:
        return None
    hours = scores.groupby("service")["instance_hours"].max()
    return str(hours[hours == hours.max()].index.min())


def print_scaling(scores, schedule=None) -> None:
    """The replayed policies of the busiest service side by side (the demo's last table)."""
    service = busiest_service(scores, schedule) if scores is not None and len(scores) else None
    if service is None:
        print("\nNo autoscaling replay: no service has a season of history yet.")
        return
    s = scores[scores["service"] == service]
    rows = [
        {**r, "winner": "*" if r.get("winner") else "", "mean_utilization": f"{r['mean_utilization']:.0%}"}
        for r in s.to_dict("records")
    ]
    steps = float(s["steps"].max())
    print(f"\nAutoscaling replayed on the busiest service, {safe_text(service, newlines=False)} "
          f"({steps:,.0f} steps, walk-forward; * = fewest under-provisioned minutes, then cost):")  # fmt: skip
    cols = [("winner", ""), ("policy", "policy"), ("under_provisioned_minutes", "under-prov. min"),
            ("peak_shortfall", "peak shortfall"), ("instance_hours", "instance-h"), ("cost", "cost $"),
            ("mean_utilization", "mean util"), ("scaling_actions", "actions")]  # fmt: skip
    print(table(rows, cols, right={"mean_utilization"}))


def print_run(r) -> None:
    """What each step of a pipeline run (a ``RefreshResult``) did, in a line or two."""
    if r.ingest is not None:
        rejected = sum(x["status"] == "rejected" for x in r.ingest)
        print(
            f"      {sum(x['rows_loaded'] for x in r.ingest):,} rows loaded, "
            f"{sum(x['rows_quarantined'] for x in r.ingest)} quarantined (the planted bad rows), {rejected} files rejected"
        )
    if r.training is not None:
        print(r.training.leaderboard.to_string(index=False))
        counts = r.training.champions["champion"].value_counts()
        print("      champions: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if r.health is not None:
        scored = r.health[r.health["reference"].notna()] if len(r.health) else r.health
        flagged = int(r.health["degraded"].sum()) if len(r.health) else 0
        print(f"      {len(scored)} series scored; {flagged} flagged for retraining")
    if r.plan is not None:
        alerts = r.plan.tables.alerts
        print(
            f"      {len(r.plan.tables.runway)} runways, {(alerts['severity'] == 'critical').sum()} critical alerts"
        )


def run_summary(r) -> dict:
    """What a pipeline run (a ``RefreshResult``) did: counts, ids and paths (a scheduled run returns it)."""
    out: dict = {"decision": r.decision} if r.decision else {}
    if getattr(r, "resumed", None):
        out["resumed"] = "; ".join(r.resumed)
    if r.ingest is not None:
        out["files"] = len(r.ingest)
        out["rejected"] = sum(r["status"] == "rejected" for r in r.ingest)
    if r.training is not None:
        out["run_id"] = r.training.run_id
    if r.publication is not None:
        out["forecast_run"] = r.publication.run_id
        out["forecast_id"] = r.publication.forecast_id
    if r.health is not None:
        out["degraded"] = int(r.health["degraded"].sum()) if len(r.health) else 0
    if r.plan is not None:
        out["plan_id"] = r.plan.plan_id
        out["critical_alerts"] = int((r.plan.tables.alerts["severity"] == "critical").sum())
        if getattr(r.plan, "delivery", None) is not None:
            out["alerts"] = r.plan.delivery.line()
    if r.exports is not None:
        out["exports"] = {
            k: str(v if not isinstance(v, list) else Path(v[0]).parent) for k, v in r.exports.items()
        }
    return out
