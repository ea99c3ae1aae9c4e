"""A pipeline run told in Markdown (the Prefect UI's run summary) and its alerts as table rows."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

MAX_ALERT_ROWS = 200


def plain_text(text: str) -> str:
    """``text`` with control characters (ESC, NUL, newlines...) shown as escapes, never executed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _table(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    cols = [c for c in columns if c in frame]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame[cols].itertuples(index=False):
        cells = [f"{v:,.3g}" if isinstance(v, float) else plain_text(str(v)).replace("|", "/") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ingest(reports: list[dict]) -> list[str]:
    loaded = sum(r["rows_loaded"] for r in reports)
    quarantined = sum(r["rows_quarantined"] for r in reports)
    rejected = [r for r in reports if r["status"] == "rejected"]
    out = [f"**Ingest**: {len(reports)} file(s), {loaded:,} rows loaded, {quarantined:,} quarantined, "
           f"{len(rejected)} rejected."]  # fmt: skip
    out += [f"- rejected: {plain_text(r['message'])}" for r in rejected]
    return out


def run_markdown(
    *,
    ingest: list[dict] | None = None,
    leaderboard: pd.DataFrame | None = None,
    champions: pd.Series | None = None,
    degraded: int | None = None,
    summary: pd.DataFrame | None = None,
    exports: dict | None = None,
) -> str:
    """The run in a page: what was loaded, champions, accuracy, the plan's headline figures, files.

    (Keyword-only parts, each optional: a run that stopped early reports what it did.)
    """
    lines = ["# capplan run", ""]
    if ingest is not None:
        lines += _ingest(ingest) + [""]
    if leaderboard is not None and len(leaderboard):
        lines += ["**Backtest leaderboard** (mean over series; lower is better; rel: to seasonal naive)", ""]
        lines += _table(
            leaderboard, ["model", "mase", "rel_mase", "smape", "rel_crps", "coverage_p10_p90"]
        ) + [""]
    if champions is not None and len(champions):
        lines += ["**Champions**: " + ", ".join(f"{k} {v}" for k, v in champions.items()), ""]
    if degraded is not None:
        lines += [f"**Forecast health**: {degraded} series degraded beyond the threshold.", ""]
    if summary is not None and len(summary):
        lines += ["**Plan**", ""] + _table(summary, ["metric", "value", "note"]) + [""]
    for fmt, path in (exports or {}).items():
        lines.append(f"- {fmt}: `{path}`")
    return "\n".join(lines).rstrip() + "\n"


def alert_rows(alerts: pd.DataFrame) -> list[dict]:
    """The most severe alerts first, at most :data:`MAX_ALERT_ROWS`, as plain records."""
    if alerts.empty:
        return []
    rank = {"critical": 0, "warning": 1, "info": 2}
    cols = [c for c in ("severity", "service", "resource", "scenario", "kind", "message") if c in alerts]
    top = alerts.assign(_r=alerts["severity"].map(rank)).sort_values("_r", kind="stable").head(MAX_ALERT_ROWS)
    return [{k: plain_text(str(v)) for k, v in r.items()} for r in top[cols].to_dict("records")]
