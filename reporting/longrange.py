"""The long-range plan shown: which series to chart, the native Excel chart, its PNG for the report,
and the purchase plan's monthly totals per scenario.

The chart shows, for one service/resource in the expected scenario, the long-range demand (the
weekly or daily peak, its interval ``demand_low``-``demand_high``), the usable capacity today,
and the capacity at ``max_instances`` (linear: ``usable_capacity x max_instances / instances``),
on a date axis with axis titles and units. The series charted are those with the earliest
long-range crossing (then the highest peak utilization).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .plots import _figure, _png, plain
from .xlsx_charts import CHART_HEIGHT, CHART_WIDTH, SHEET, ChartData

LINES = (  # column, legend name, Excel line style
    ("demand", "demand (peak)", {"color": "#08519C", "width": 2.25}),
    ("demand_low", "demand, low", {"color": "#6BAED6", "width": 1.0, "dash_type": "dash"}),
    ("demand_high", "demand, high", {"color": "#6BAED6", "width": 1.0, "dash_type": "dash"}),
    ("usable_capacity", "usable capacity", {"color": "#CB181D", "width": 2.0, "dash_type": "long_dash"}),
    (
        "max_capacity",
        "capacity at max_instances",
        {"color": "#636363", "width": 1.5, "dash_type": "dash_dot"},
    ),
)


def chart_frames(
    long_range: pd.DataFrame | None, scenario: str, n: int = 2
) -> list[tuple[str, str, pd.DataFrame]]:
    """Up to ``n`` ``(title, y axis title, frame)`` for the most urgent service/resources."""
    if long_range is None or long_range.empty or "scenario" not in long_range:
        return []
    lr = long_range[long_range["scenario"] == scenario]
    if lr.empty:
        return []
    lr = lr.assign(_short=lr["demand"] > lr["usable_capacity"])
    first = lr[lr["_short"]].groupby(["service", "resource"])["ds"].min()
    util = (
        (lr["demand"] / lr["usable_capacity"].where(lr["usable_capacity"] > 0))
        .groupby([lr["service"], lr["resource"]])
        .max()
    )
    rank = pd.DataFrame({"first": first, "util": util}).sort_values(
        ["first", "util"], ascending=[True, False]
    )
    out = []
    for service, resource in rank.index[:n]:
        g = lr[(lr["service"] == service) & (lr["resource"] == resource)].sort_values("ds")
        inst = g["instances"].where(g["instances"] > 0)
        frame = pd.DataFrame(
            {"ds": g["ds"].to_numpy(), "demand": g["demand"].to_numpy(), "demand_low": g["demand_low"].to_numpy(),
             "demand_high": g["demand_high"].to_numpy(), "usable_capacity": g["usable_capacity"].to_numpy(),
             "max_capacity": (g["usable_capacity"] / inst * g["max_instances"]).to_numpy()}
        )  # fmt: skip
        unit = str(g["unit"].iloc[0]) if "unit" in g and pd.notna(g["unit"].iloc[0]) else ""
        model = str(g["model"].iloc[0]) if "model" in g else ""
        title = f"Long range: {service} / {resource} ({scenario}; {model})"
        out.append((title, f"{resource} ({unit})" if unit else resource, frame))
    return out


def long_range_chart(wb, cd: ChartData, title: str, y_title: str, frame: pd.DataFrame):
    """Line chart on a date axis of one :func:`chart_frames` frame, data on ChartData."""
    shown = frame.rename(columns={c: name for c, name, _ in LINES}).rename(columns={"ds": "week"})
    kinds = {"week": "date", **{name: "float" for _, name, _ in LINES}}
    title_row, header, last = cd.block(title, shown, kinds)
    chart = wb.add_chart({"type": "line"})
    for j, (col, _name, style) in enumerate(LINES, start=1):
        if frame[col].notna().any():
            chart.add_series(
                {"name": [SHEET, header, j], "categories": [SHEET, header + 1, 0, last, 0],
                 "values": [SHEET, header + 1, j, last, j], "line": style, "marker": {"type": "none"}}
            )  # fmt: skip
    chart.set_title({"name": [SHEET, title_row, 0], "name_font": {"size": 11}})
    chart.set_x_axis(
        {"date_axis": True, "name": "date (UTC)", "num_format": "yyyy-mm-dd", "num_font": {"rotation": -45},
         "major_unit": 1, "major_unit_type": "months"}
    )  # fmt: skip
    chart.set_y_axis({"name": y_title, "major_gridlines": {"visible": True}, "num_format": "#,##0.0"})
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart


def long_range_png(title: str, y_title: str, frame: pd.DataFrame) -> bytes:
    """The same chart as a PNG (for the HTML report)."""
    fig = _figure(7.5, 3.4)
    ax = fig.subplots()
    ds = pd.to_datetime(frame["ds"])
    ax.fill_between(
        ds, frame["demand_low"], frame["demand_high"], color="#9ecae1", alpha=0.5, label="interval"
    )
    for col, name, style in LINES:
        if col in ("demand_low", "demand_high") or not frame[col].notna().any():
            continue
        ax.plot(
            ds,
            frame[col],
            color=style["color"],
            lw=style["width"],
            ls="-" if col == "demand" else "--",
            label=name,
        )
    ax.set_title(plain(title), fontsize=9, loc="left", wrap=True)
    ax.set_xlabel("date (UTC)")
    ax.set_ylabel(plain(y_title))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def purchase_totals(purchase: pd.DataFrame | None) -> pd.DataFrame:
    """Per ``scenario, period``: instances to add over all services and the cumulative cost change."""
    cols = ["scenario", "period", "instances_to_add", "instances_needed", "monthly_cost_change"]
    if purchase is None or purchase.empty:
        return pd.DataFrame(columns=cols)
    g = purchase.groupby(["scenario", "period"], sort=False)
    out = g[["instances_to_add", "instances_needed", "monthly_cost_change"]].sum().reset_index()
    return (
        out[cols]
        .astype({"instances_to_add": float, "monthly_cost_change": float})
        .replace([np.inf, -np.inf], np.nan)
    )
