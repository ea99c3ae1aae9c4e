"""One call for every format: the workbook, one CSV per table, the HTML report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from capplan.core.errors import CapplanError

from .csv import write_csv
from .html import write_html
from .pngs import write_pngs
from .specs import CSV_DIR, FORMATS, HTML_NAME, MAX_CHARTS, XLSX_NAME, PlanBundle
from .xlsx import write_xlsx

POOL_FROM_SERIES = 1000  # from this many series the formats are written in two processes


def check_formats(formats: Sequence[str]) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise CapplanError(
            f"export: unknown format(s) {', '.join(map(repr, unknown))}; expected {', '.join(FORMATS)}"
        )


def format_groups(formats: Sequence[str]) -> list[tuple[str, ...]]:
    """The requested formats in two groups of about equal work, a task each: the workbook (with
    its PNG charts), and the CSV tables with the HTML report (1,000 series: 20 and 14 CPU s).
    Fewer when some were not asked for."""
    check_formats(formats)
    groups = [
        tuple(f for f in FORMATS if f in formats and f in group) for group in (("xlsx",), ("csv", "html"))
    ]
    return [g for g in groups if g]


def export_bundle(
    bundle: PlanBundle,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    *,
    max_charts: int = MAX_CHARTS,
) -> dict[str, Path | list[Path]]:
    """Write the requested formats under ``out_dir``; returns format -> path (csv: list of paths).

    xlsx -> ``out_dir/capplan_plan.xlsx`` and, next to it, its charts as PNG files
    (``png``: ``capplan_cost.png``, ``capplan_runway.png``, ``capplan_fan_<n>.png``);
    csv -> ``out_dir/csv/<table>.csv``;
    html -> ``out_dir/capplan_report.html``. ``max_charts``: fan charts for that many services.
    """
    check_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path | list[Path]] = {}
    if "xlsx" in formats:
        written["xlsx"] = write_xlsx(bundle, out_dir / XLSX_NAME, max_charts)
        written["png"] = write_pngs(bundle, out_dir, max_charts)
    if "csv" in formats:
        written["csv"] = write_csv(bundle, out_dir / CSV_DIR)
    if "html" in formats:
        written["html"] = write_html(bundle, out_dir / HTML_NAME, max_charts)
    return written
