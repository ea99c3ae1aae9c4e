"""PNG charts written next to the workbook: the forecast fans, the runway and the monthly cost.

Invariants:

* Every axis says what it measures and in which unit; time runs on a date axis (UTC).
* Fans draw the forecast band and median, the actuals, the expected scenario's planned demand,
  usable capacity, required capacity, the ``max_instances`` cap, a "now" line at the forecast's
  start and a label on each uplift window (an event or business driver: the planned demand at
  least :data:`UPLIFT` times the median forecast).
* The cost chart marks the current month "now" and each partial month with its days planned.
* Nothing non-finite is drawn as a number; file names never carry text from data (fans are
  numbered in the runway order of the Summary's charts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .fans import Fan, fans, runway_scenario
from .specs import PlanBundle, partial_months, pivot, tables, usable_totals

UPLIFT = 1.25
COST_LABEL = "monthly cost ($/month)"
_STYLE = {
    "capacity": ("usable capacity", "#cb181d", "--"),
    "required": ("required capacity", "#756bb1", "-."),
    "cap": ("max_instances cap", "#000000", ":"),
}


def _uplifts(ts: pd.Series, mid: pd.Series, planned: pd.Series) -> list[tuple[pd.Timestamp, float, float]]:
    """(ts, planned demand, ratio) at the peak of each window where the planned demand is at least
    UPLIFT x the median forecast's daily peak (planning sizes for peaks: a trough is no event)."""
    peak = mid.groupby(ts.dt.floor("D").to_numpy()).transform("max")
    ratio = (planned / peak.where(peak > 0)).to_numpy(dtype=float, na_value=np.nan)
    hot = np.nan_to_num(ratio, nan=0.0, posinf=0.0) >= UPLIFT
    out, k = [], 0
    while k < len(hot):
        if not hot[k]:
            k += 1
            continue
        end = k
        while end + 1 < len(hot) and hot[end + 1]:
            end += 1
        peak = k + int(np.nanargmax(ratio[k : end + 1]))
        out.append((ts.iloc[peak], float(planned.iloc[peak]), float(ratio[peak])))
        k = end + 1
    return out


def fan_figure(fan: Fan):
    """The fan of one service and metric as a matplotlib Figure (see the module invariants)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    frame = fan.frame
    ts = pd.to_datetime(frame["ts"])
    fig = plots.figure(8.5, 3.8)
    ax = fig.subplots()
    if fan.actual:
        ax.plot(ts, frame[fan.actual], color="#252525", lw=1.0, label="actual")
    band = plots.plain(f"forecast {fan.lo}–{fan.hi}")
    ax.fill_between(ts, frame[fan.lo], frame[fan.hi], color="#9ecae1", alpha=0.6, lw=0, label=band)
    ax.plot(ts, frame[fan.mid], color="#08519c", lw=1.6, label=plots.plain(f"forecast {fan.mid}"))
    if fan.planned:
        ax.plot(ts, frame[fan.planned], color="#e6550d", lw=1.4, label="planned demand (expected scenario)")
        for when, value, ratio in _uplifts(ts, frame[fan.mid], frame[fan.planned]):
            ax.annotate(f"uplift ×{ratio:.1f}", (when, value), xytext=(0, 6), textcoords="offset points",
                        ha="center", fontsize=7, color="#e6550d")  # fmt: skip
    for role in ("capacity", "required", "cap"):
        col = getattr(fan, role)
        if col:
            label, colour, style = _STYLE[role]
            ax.plot(ts, frame[col], color=colour, lw=1.4, ls=style, label=label)
    start = ts[frame[fan.mid].notna().to_numpy()]
    if len(start):
        ax.axvline(start.iloc[0], color="#636363", lw=1.0, ls="--")
        ax.annotate("now", (start.iloc[0], 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                    textcoords="offset points", fontsize=8, color="#636363")  # fmt: skip
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    unit = f" ({fan.unit})" if fan.unit else ""
    ax.set_ylabel(plots.plain(f"{fan.metric if fan.metric is not None else 'demand'}{unit}"))
    ax.set_title(plots.plain(fan.title), fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    fig.legend(fontsize=7, loc="outside right upper", frameon=False)
    return fig


def cost_figure(totals: pd.DataFrame):
    """Monthly cost per scenario; the first month is "now", partial months say their days."""
    table = pivot(totals, "monthly_cost")
    notes = partial_months(totals)
    if len(table.index):
        first = table.index[0]
        notes[first] = f"now {notes.get(first, '')}".strip()
    return plots.scenario_figure(
        table,
        title="Monthly cost per scenario, all services (730 h at each month's peak)",
        ylabel=COST_LABEL,
        money=True,
        notes=notes,
    )


def chart_figures(bundle: PlanBundle, max_charts: int) -> dict[str, object]:
    """File name -> Figure: ``capplan_cost``, ``capplan_runway``, ``capplan_fan_<n>``."""
    t = tables(bundle)
    out: dict[str, object] = {}
    if usable_totals(t["totals"]) and "monthly_cost" in t["totals"]:
        out["capplan_cost"] = cost_figure(t["totals"])
    rows = runway_scenario(t["runway"], bundle.expected_scenario)
    if len(rows) and {"service", "resource", "days_left"} <= set(rows.columns):
        shown = rows["scenario"].iloc[0] if "scenario" in rows else bundle.expected_scenario
        title = f"Days of capacity left ({shown} scenario; whiskers: earliest to latest crossing)"
        out["capplan_runway"] = plots.runway_figure(rows, title=title)
    for k, fan in enumerate(fans(t, bundle.expected_scenario, max_charts), start=1):
        out[f"capplan_fan_{k}"] = fan_figure(fan)
    return out


def write_pngs(bundle: PlanBundle, folder: Path, max_charts: int) -> list[Path]:
    """Write :func:`chart_figures` as ``folder/<name>.png``; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("capplan_fan_*.png"):  # an earlier export's fans: not this plan's
        stale.unlink()
    paths = []
    for name, fig in chart_figures(bundle, max_charts).items():
        path = folder / f"{name}.png"
        path.write_bytes(plots.png(fig))
        paths.append(path)
    return paths
