"""Report and MLflow figures as PNG bytes, drawn on matplotlib's Agg canvas (no pyplot, no display, no state).

Invariants:

* Every public function takes plain frames and returns the bytes of one PNG image (``*_chart``,
  :func:`backtest_figure`) or a Figure (``*_figure``, for :mod:`.pngs`; :func:`png` makes bytes).
* matplotlib is imported inside the functions, so importing this module (and ``capplan --help``)
  stays fast; figures are drawn on :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`
  directly, so the process-wide backend (``MPLBACKEND``) is neither needed nor changed.
* Text from data (service, resource, scenario names) is shown literally: ``$`` is escaped so
  mathtext never parses it, and a leading ``_`` (which legends hide) is protected.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import quantile_columns

DPI = 100
_BAND = "#9ecae1"
_MID = "#08519c"
_ACTUAL = "#252525"
_PLANNED = "#e6550d"
_STATUS_COLOURS = {"already_short": "#cb181d", "within_horizon": "#fd8d3c", "not_within_horizon": "#74c476"}
_PALETTE = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b", "#8c6d31")
MAX_RUNWAY_BARS = 40


def plain(text: object) -> str:
    """``text`` as matplotlib shows it literally: ``$`` escaped, a leading ``_`` kept visible."""
    out = str(text).replace("$", r"\$")
    return " " + out if out.startswith("_") else out


def figure(width: float, height: float, layout: str | None = "constrained"):
    """An empty Figure on its own Agg canvas (no pyplot state)."""
    return _figure(width, height, layout)


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def png(fig, dpi: float | None = None) -> bytes:
    """``fig`` as PNG bytes."""
    return _png(fig, dpi)


def _png(fig, dpi: float | None = None) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _money_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"${x:,.0f}"))


def _runway_rows(runway: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Rows to draw (shortest first, at most :data:`MAX_RUNWAY_BARS`) and the horizon in days."""
    rows = runway.copy()
    for col in ("days_left", "days_left_min", "days_left_max"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce") if col in rows else rows["days_left"]
    finite = rows[["days_left", "days_left_min", "days_left_max"]].to_numpy(float)
    finite = finite[np.isfinite(finite)]
    horizon = pd.to_numeric(rows.get("horizon_days", pd.Series(dtype=float)), errors="coerce").max()
    if not (isinstance(horizon, float) and math.isfinite(horizon) and horizon > 0):
        horizon = float(finite.max()) * 1.1 if finite.size and finite.max() > 0 else 30.0
    rows = rows.sort_values("days_left", kind="stable", na_position="last").head(MAX_RUNWAY_BARS)
    return rows.iloc[::-1].reset_index(drop=True), float(horizon)


def runway_chart(runway: pd.DataFrame, *, title: str) -> bytes:
    """:func:`runway_figure` as PNG bytes."""
    return _png(runway_figure(runway, title=title))


def runway_figure(runway: pd.DataFrame, *, title: str):
    """Horizontal bars of ``days_left`` per ``service / resource``, whiskers from min to max.

    ``runway``: ``service, resource, days_left`` and optionally ``days_left_min``,
    ``days_left_max``, ``status``, ``horizon_days``. ``inf`` (beyond the horizon) is drawn to the
    horizon, hatched, and labelled; at most :data:`MAX_RUNWAY_BARS` shortest rows are drawn.
    """
    rows, horizon = _runway_rows(runway)
    fig = _figure(7.5, 1.2 + 0.32 * max(len(rows), 1))
    ax = fig.subplots()
    y = np.arange(len(rows))
    left = rows["days_left"].to_numpy(float)
    shown = np.clip(np.nan_to_num(left, nan=0.0, posinf=horizon), 0, horizon)
    status = rows["status"] if "status" in rows else pd.Series(["within_horizon"] * len(rows))
    colours = [_STATUS_COLOURS.get(str(s), _PALETTE[0]) for s in status]
    bars = ax.barh(y, shown, color=colours, height=0.6)
    for bar, value in zip(bars, left, strict=True):
        if not math.isfinite(value):
            bar.set_hatch("//")
    lo = np.clip(np.nan_to_num(rows["days_left_min"].to_numpy(float), nan=0.0, posinf=horizon), 0, horizon)
    hi = np.clip(np.nan_to_num(rows["days_left_max"].to_numpy(float), nan=0.0, posinf=horizon), 0, horizon)
    ax.errorbar(
        shown,
        y,
        xerr=[np.maximum(shown - lo, 0), np.maximum(hi - shown, 0)],
        fmt="none",
        ecolor="#333",
        capsize=3,
    )
    for i, (value, state) in enumerate(zip(left, status, strict=True)):
        text = _runway_label(value, str(state))
        ax.text(max(shown[i], hi[i]) + horizon * 0.015, i, text, va="center", fontsize=7)
    labels = [plain(f"{s} / {r}") for s, r in zip(rows["service"], rows["resource"], strict=True)]
    ax.set_yticks(y, labels=labels, fontsize=8)
    ax.set_xlim(0, horizon * 1.22)
    ax.axvline(0, color=_ACTUAL, lw=1.2)
    ax.set_xlabel("capacity left (days from the plan's as-of time, 0 = now)")
    ax.set_ylabel("service / resource")
    ax.set_title(plain(title), fontsize=9, loc="left", wrap=True)
    ax.grid(axis="x", alpha=0.3)
    _status_legend(ax, set(map(str, status)))
    return fig


def _runway_label(days: float, status: str) -> str:
    if status == "already_short":
        return "already short"
    return "beyond horizon" if not math.isfinite(days) else f"{days:,.0f} d"


def _status_legend(ax, present: set[str]) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(color=colour, label=name.replace("_", " "))
        for name, colour in _STATUS_COLOURS.items()
        if name in present
    ]
    if handles:
        ax.figure.legend(handles=handles, fontsize=7, loc="outside lower center", ncols=3, frameon=False)


def scenario_chart(
    table: pd.DataFrame,
    *,
    title: str,
    ylabel: str,
    money: bool = False,
    reference: pd.Series | None = None,
    reference_label: str = "current",
    notes: dict | None = None,
) -> bytes:
    """:func:`scenario_figure` as PNG bytes (same parameters)."""
    return _png(
        scenario_figure(
            table, title=title, ylabel=ylabel, money=money, reference=reference,
            reference_label=reference_label, notes=notes,
        )
    )  # fmt: skip


def scenario_figure(
    table: pd.DataFrame,
    *,
    title: str,
    ylabel: str,
    money: bool = False,
    reference: pd.Series | None = None,
    reference_label: str = "current",
    notes: dict | None = None,
):
    """Grouped bars per scenario over periods.

    (Seven parameters: one table and keyword-only labels and optional overlays.)

    ``table``: index = period (month start), one column per scenario (values in the same unit).
    ``reference`` (indexed like ``table``) is drawn as a dashed line, e.g. current instances.
    ``notes``: period -> text shown under its label, e.g. "(2 of 31 days)" for a partial month.
    """
    fig = _figure(7.5, 3.4)
    ax = fig.subplots()
    n = max(len(table.columns), 1)
    x = np.arange(len(table.index))
    width = 0.8 / n
    for i, scenario in enumerate(table.columns):
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            table[scenario].to_numpy(float),
            width=width,
            color=_PALETTE[i % len(_PALETTE)],
            label=plain(scenario),
        )
    top = np.nanmax(table.to_numpy(float), initial=0.0)
    if reference is not None:
        ref = reference.reindex(table.index).to_numpy(float)
        ax.hlines(ref, x - 0.45, x + 0.45, colors="k", linestyles="--", lw=1.2, label=plain(reference_label))
        top = max(top, np.nanmax(ref, initial=0.0))
    ax.set_ylim(0, top * 1.3 if top > 0 else 1.0)
    labels = _period_labels(table.index)
    if notes:
        labels = [
            f"{lab}\n{plain(notes[p])}" if p in notes else lab
            for lab, p in zip(labels, table.index, strict=True)
        ]
    ax.set_xticks(x, labels=labels, fontsize=8, rotation=45 if len(x) > 8 else 0)
    if money:
        _money_axis(ax.yaxis)
    ax.set_ylabel(plain(ylabel))
    ax.set_xlabel("month")
    ax.set_title(plain(title), fontsize=10, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, ncols=min(n + 1, 4), loc="upper left")
    return fig


def _period_labels(index: Sequence) -> list[str]:
    out = []
    for p in index:
        stamp = (
            pd.Timestamp(p) if isinstance(p, (pd.Timestamp, np.datetime64)) or hasattr(p, "year") else None
        )
        out.append(plain(stamp.strftime("%Y-%m") if stamp is not None else p))
    return out


def draw_backtest(
    bt: pd.DataFrame,
    model: str,
    n_series: int = 4,
    units: dict | None = None,
    scores: dict | None = None,
):
    """The backtest figure (a matplotlib Figure): one panel per series, the first ``n_series`` of
    ``bt`` in its order (the caller puts the worst first).

    ``bt``: ``unique_id, ds, cutoff, y`` and quantile columns, optionally ``model`` (then every
    model in it is drawn, ``model`` with its outermost interval, the others, e.g. the seasonal
    naive baseline, as dashed medians). Each panel has a legend (actual, each model's p50,
    ``model``'s interval, fold cutoff), one labelled vertical line per fold cutoff, a y label in
    the series' unit (``units``: unique_id -> unit; "value" when unknown) and a date x axis.
    ``scores`` (unique_id -> MASE) go into the panel titles.
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    bt = bt if "model" in bt.columns else bt.assign(model=model)
    qcols = [c for c in quantile_columns(bt.columns) if bt.loc[bt["model"] == model, c].notna().any()]
    uids = list(dict.fromkeys(bt["unique_id"]))[:n_series]
    others = [m for m in dict.fromkeys(bt["model"]) if m != model]
    fig = _figure(10, 2.6 * max(len(uids), 1) + 0.4, layout="tight")
    axes = fig.subplots(max(len(uids), 1), 1, squeeze=False)
    for ax, uid in zip(axes[:, 0], uids, strict=False):
        s = bt[bt["unique_id"] == uid].sort_values("ds")
        actual = s.drop_duplicates("ds")
        ax.plot(actual["ds"], actual["y"], color=_ACTUAL, lw=0.8, label="actual")
        for j, name in enumerate([model, *others]):
            for k, (_, g) in enumerate(s[s["model"] == name].groupby("cutoff")):
                label = plain(f"{name} p50") if k == 0 else None
                style = {"color": _PALETTE[j % len(_PALETTE)], "lw": 1.2 if j == 0 else 0.9}
                ax.plot(g["ds"], g["p50"], ls="-" if j == 0 else "--", label=label, **style)
                if j == 0 and len(qcols) >= 2:
                    band = plain(f"{name} {qcols[0]}–{qcols[-1]} interval") if k == 0 else None
                    ax.fill_between(
                        g["ds"], g[qcols[0]], g[qcols[-1]], color=_BAND, alpha=0.5, lw=0, label=band
                    )
        for i, cut in enumerate(sorted(s["cutoff"].dropna().unique()), start=1):
            ax.axvline(
                cut, color="#636363", ls=":", lw=1, gid="cutoff", label="fold cutoff" if i == 1 else None
            )
            ax.annotate(f"fold {i}", (cut, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                        ha="left", va="top", xytext=(2, -2), textcoords="offset points")  # fmt: skip
        unit = (units or {}).get(uid)
        ax.set_ylabel(plain(unit if isinstance(unit, str) and unit else "value"), fontsize=8)
        score = (scores or {}).get(uid)
        title = f"{model}: {uid}" + (f" (backtest MASE {score:.3g})" if score is not None else "")
        ax.set_title(plain(title), fontsize=9, loc="left")
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_xlabel("time (UTC)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", frameon=False, ncols=3)
    return fig


def backtest_figure(
    bt: pd.DataFrame,
    model: str,
    n_series: int = 4,
    units: dict | None = None,
    scores: dict | None = None,
) -> bytes:
    """:func:`draw_backtest` as PNG bytes (what MLflow logs per model)."""
    return _png(draw_backtest(bt, model, n_series, units, scores), dpi=80)


def draw_accuracy_by_week(weekly: pd.DataFrame):
    """ "Is it getting better?": MASE (left axis) and coverage (right axis, nominal dashed) per week
    of forecast vintage, a labelled vertical line where the champions changed.

    ``weekly``: ``week, mase, coverage, coverage_nominal, champion_change`` (one row per week).
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    fig = _figure(7.5, 3.4)
    ax = fig.subplots()
    weeks = pd.to_datetime(weekly["week"])
    ax.plot(weeks, weekly["mase"], color=_MID, marker="o", lw=1.6, label="MASE (lower is better)")
    ax.set_ylabel("MASE")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    handles = ax.get_lines()
    if "coverage" in weekly and pd.to_numeric(weekly["coverage"], errors="coerce").notna().any():
        right.plot(weeks, weekly["coverage"], color=_PLANNED, marker="s", lw=1.2, label="coverage")
        nominal = pd.to_numeric(weekly.get("coverage_nominal"), errors="coerce").dropna()
        if len(nominal):
            right.axhline(
                nominal.iloc[-1], color=_PLANNED, ls="--", lw=0.8, label=f"nominal {nominal.iloc[-1]:.0%}"
            )
        handles = [*handles, *right.get_lines()]
    right.set_ylim(0, 1.05)
    right.set_ylabel("interval coverage")
    changes = weeks[weekly["champion_change"].astype(bool).to_numpy()] if "champion_change" in weekly else []
    for k, week in enumerate(changes):
        line = ax.axvline(week, color="#636363", ls=":", lw=1.2, gid="champion_change",
                          label="new champions" if k == 0 else None)  # fmt: skip
        ax.annotate("new champions", (week, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    ha="left", va="top", xytext=(2, -2), textcoords="offset points")  # fmt: skip
        if k == 0:
            handles.append(line)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("week of forecast vintage (UTC)")
    ax.set_title("Published forecast accuracy by week of vintage", fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="lower left", ncols=2)
    return fig


def accuracy_by_week_chart(weekly: pd.DataFrame) -> bytes:
    """:func:`draw_accuracy_by_week` as PNG bytes (report, workbook, MLflow)."""
    return _png(draw_accuracy_by_week(weekly))
