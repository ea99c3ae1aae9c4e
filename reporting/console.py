"""Plain-text progress lines and summary tables for the CLI (no heavy imports)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path


def file_line(report) -> str:
    r = report
    name = Path(r.path).name
    if r.status == "rejected":
        return f"  REJECTED  {r.source:<12} {name}: {r.message}"
    if r.status == "unchanged":
        return f"  unchanged {r.source:<12} {name} (same content already loaded)"
    q = f", {r.rows_quarantined} quarantined" if r.rows_quarantined else ""
    return f"  loaded    {r.source:<12} {name}: {r.rows_loaded}/{r.rows_in} rows{q}"


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
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _numeric(s: str) -> bool:
    return s.replace(",", "").replace(".", "", 1).replace("-", "", 1).isdigit()
