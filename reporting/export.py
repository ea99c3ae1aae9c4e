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
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise CapplanError(
            f"export: unknown format(s) {', '.join(map(repr, unknown))}; expected {', '.join(FORMATS)}"
        )
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
