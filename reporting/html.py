"""The self-contained HTML report: inline CSS, figures as base64 ``data:`` URIs, all text escaped."""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .fans import fans, runway_scenario
from .longrange import chart_frames, long_range_png, purchase_totals
from .specs import (
    HIGHLIGHTS,
    HTML_MAX_ROWS,
    MAX_CHARTS,
    NO_ROWS,
    SPECS,
    XLSX_NAME,
    PlanBundle,
    cell_kind,
    column_kind,
    is_missing,
    is_number,
    nonfinite_text,
    partial_months,
    pivot,
    summary_kinds,
    tables,
    usable_totals,
)

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1200px;
 padding:0 24px 48px;color:#222;line-height:1.4}
h1{margin:24px 0 4px}h2{border-bottom:2px solid #ddebf7;padding-bottom:4px;margin-top:36px}
nav a{margin-right:12px;font-size:14px}.muted{color:#777;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;
 padding:10px 14px;min-width:180px}.card .v{font-size:22px;font-weight:600}.card .n{font-size:12px;color:#777}
.table-wrap{overflow-x:auto;max-height:560px;overflow-y:auto;border:1px solid #eee}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eee;
 text-align:left;white-space:nowrap}th{background:#ddebf7;position:sticky;top:0}td.num{text-align:right}
tr.bad td.hl,td.bad{background:#ffc7ce;color:#9c0006}td.warn{background:#ffeb9c;color:#9c5700}
td.info{background:#ddebf7;color:#1f4e78}.figs{display:flex;flex-wrap:wrap;gap:12px}
.figs img{max-width:100%;border:1px solid #eee}
"""
_NAV = (
    ("actions", "Actions"),
    ("summary", "Summary"),
    ("purchase", "Purchase plan"),
    ("alerts", "Alerts"),
    ("constrained", "Constrained"),
    ("runway", "Runway"),
    ("scenarios", "Scenarios"),
)
_PLAIN_TABLES = ("bottlenecks", "rightsizing", "frontier", "accuracy", "forecasts", "assumptions")


def _fmt(value: object, kind: str, column: str) -> str:
    """A cell as display text (not yet escaped)."""
    kind = cell_kind(value, kind)
    if is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime | dt.date):
        return pd.Timestamp(value).strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M")
    if is_number(value):
        number = float(value)
        if not math.isfinite(number):
            return nonfinite_text(column, number)
        return {
            "money": f"${number:,.0f}",
            "cents": f"${number:,.2f}",
            "ratio": f"{number:.1%}",
            "int": f"{number:,.0f}",
        }.get(kind, f"{number:,.2f}")
    return str(value)


def _cell_class(column: str, value: object) -> str:
    classes = ["num"] if is_number(value) else []
    key = bool(value) if isinstance(value, (bool, np.bool_)) else value
    style = HIGHLIGHTS.get(column, {}).get(key) if isinstance(key, str | bool) else None
    if style:
        classes.append(style)
    return f' class="{" ".join(classes)}"' if classes else ""


def html_table(frame: pd.DataFrame, max_rows: int = HTML_MAX_ROWS, row_kinds: dict | None = None) -> str:
    """An escaped ``<table>`` of at most ``max_rows`` rows, with a note when cut or empty."""
    columns = [str(c) for c in frame.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = frame.head(max_rows)
    kinds = {c: (row_kinds or {}).get(c) or [column_kind(c, frame[c])] * len(body) for c in columns}
    rows = []
    for i, record in enumerate(body.itertuples(index=False, name=None)):
        cells = "".join(
            f"<td{_cell_class(c, v)}>{html.escape(_fmt(v, kinds[c][i], c))}</td>"
            for c, v in zip(columns, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    note = ""
    if body.empty:
        note = f'<p class="muted">{NO_ROWS}</p>'
    elif len(frame) > len(body):
        note = f'<p class="muted">showing {len(body):,} of {len(frame):,} rows; all rows in {XLSX_NAME} and csv/</p>'
    table = f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    return table + note


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _summary_cards(summary: pd.DataFrame) -> str:
    if summary.empty or "metric" not in summary or "value" not in summary:
        return html_table(summary)
    kinds = summary_kinds(summary) or []
    notes = summary["note"] if "note" in summary else [""] * len(summary)
    cards = []
    for (metric, value, note), kind in zip(
        zip(summary["metric"], summary["value"], notes, strict=True), kinds, strict=True
    ):
        cards.append(
            f'<div class="card"><div class="n">{html.escape(str(metric))}</div>'
            f'<div class="v">{html.escape(_fmt(value, kind, "value"))}</div>'
            f'<div class="n">{html.escape("" if is_missing(note) else str(note))}</div></div>'
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _scenario_figures(totals: pd.DataFrame) -> list[str]:
    """Monthly cost and required instances per scenario, from the bundle's totals as given."""
    if not usable_totals(totals):
        return []
    out = []
    notes = partial_months(totals)
    if "monthly_cost" in totals:
        png = plots.scenario_chart(
            pivot(totals, "monthly_cost"),
            title="Monthly cost per scenario (run rate at each month's peak)",
            ylabel="monthly cost ($/month)",
            money=True,
            notes=notes,
        )
        out.append(_img(png, "Monthly cost per scenario"))
    if "instances_required" in totals:
        ref = pivot(totals, "instances").iloc[:, 0] if "instances" in totals else None
        png = plots.scenario_chart(
            pivot(totals, "instances_required"),
            title="Required instances per scenario (all services)",
            ylabel="instances",
            reference=ref,
            reference_label="current instances",
            notes=notes,
        )
        out.append(_img(png, "Required instances per scenario"))
    return out


def _fan_figures(t: dict[str, pd.DataFrame], scenario: str, n: int) -> list[str]:
    from .pngs import fan_figure

    return [_img(plots.png(fan_figure(fan)), f"Forecast fan: {fan.title}") for fan in fans(t, scenario, n)]


def _runway_figure(runway: pd.DataFrame, scenario: str) -> list[str]:
    rows = runway_scenario(runway, scenario)
    if rows.empty or not {"service", "resource", "days_left"} <= set(rows.columns):
        return []
    shown = rows["scenario"].iloc[0] if "scenario" in rows else scenario
    title = f"Days of capacity left ({shown} scenario; whiskers: earliest to latest crossing)"
    return [_img(plots.runway_chart(rows, title=title), title)]


def _section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def _figs(images: list[str], empty: str) -> str:
    return (
        f'<div class="figs">{"".join(images)}</div>'
        if images
        else f'<p class="muted">{html.escape(empty)}</p>'
    )


def _purchase_sections(bundle: PlanBundle, t: dict[str, pd.DataFrame]) -> list[str]:
    """The purchase plan: monthly totals per scenario, the long-range charts, every row."""
    if bundle.purchase_plan is None:
        return [_section("purchase", "Purchase plan", '<p class="muted">no long-range plan</p>')]
    figs = [_img(long_range_png(*c), c[0]) for c in chart_frames(bundle.long_range, bundle.expected_scenario)]
    return [
        _section(
            "purchase",
            SPECS["purchase_plan"].title,
            html_table(purchase_totals(t["purchase_plan"])),
            _figs(figs, "no long-range series to chart"),
            html_table(t["purchase_plan"]),
        )
    ]


def _sections(bundle: PlanBundle, t: dict[str, pd.DataFrame], max_charts: int) -> list[str]:
    scenario = bundle.expected_scenario
    sections = [
        _section("actions", SPECS["actions"].title, html_table(t["actions"])),
        _section("summary", "Summary", _summary_cards(t["summary"])),
        *_purchase_sections(bundle, t),
        _section("alerts", "Alerts", html_table(t["alerts"])),
        _section(
            "constrained",
            "Most constrained services",
            _figs(_fan_figures(t, scenario, max_charts), "no forecasts to chart"),
        ),
        _section(
            "runway",
            "Runway",
            _figs(_runway_figure(t["runway"], scenario), "no runway rows"),
            html_table(t["runway"]),
        ),
        _section(
            "scenarios",
            "Scenario comparison",
            _figs(_scenario_figures(t["totals"]), "no scenario totals"),
            html_table(t["plan"]),
        ),
    ]
    if bundle.changes is not None:
        sections.append(_section("changes", SPECS["changes"].title, html_table(t["changes"])))
    if bundle.autoscaling is not None:
        sections.append(_section("autoscaling", SPECS["autoscaling"].title, html_table(t["autoscaling"])))
    if bundle.accuracy_by_week is not None:
        weekly = bundle.accuracy_by_week
        fig = [_img(plots.accuracy_by_week_chart(weekly), "Accuracy by week of forecast vintage")]
        sections.append(
            _section(
                "accuracy_by_week",
                SPECS["accuracy_by_week"].title,
                _figs(fig, ""),
                html_table(t["accuracy_by_week"]),
            )
        )
    for name in _PLAIN_TABLES:
        sections.append(_section(name, SPECS[name].title, html_table(t[name])))
    return sections


def render_html(bundle: PlanBundle, max_charts: int = MAX_CHARTS) -> str:
    """The whole report as one self-contained HTML string."""
    sections = _sections(bundle, tables(bundle), max_charts)
    nav = "".join(f'<a href="#{a}">{html.escape(n)}</a>' for a, n in _NAV)
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>capplan capacity plan</title><style>{_CSS}</style></head><body>"
        f'<h1>Capacity plan</h1><p class="muted">generated by capplan, {stamp}</p><nav>{nav}</nav>'
        f"{''.join(sections)}</body></html>"
    )


def write_html(bundle: PlanBundle, path: Path, max_charts: int = MAX_CHARTS) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(bundle, max_charts), encoding="utf-8")
    return path
