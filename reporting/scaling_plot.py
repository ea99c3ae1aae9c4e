"""The autoscaling cost-versus-risk frontier as PNG bytes (matplotlib Agg canvas, imported lazily)."""

from __future__ import annotations

import io

import pandas as pd

from .plots import DPI, plain

_COLOURS = {"reactive": "#3182bd", "predictive": "#e6550d", "hybrid": "#31a354"}
_MARKERS = {"reactive": "o", "predictive": "s", "hybrid": "^"}


def _label(row) -> str:
    parts = []
    if pd.notna(row["target_utilization"]):
        parts.append(f"u={row['target_utilization']:g}")
    if row["policy"] == "hybrid" and pd.notna(row.get("reactive_utilization")):
        parts.append(f"r={row['reactive_utilization']:g}")
    if pd.notna(row["quantile"]):
        parts.append(f"p{row['quantile'] * 100:g}")
    if pd.notna(row["forecast_margin"]) and row["forecast_margin"]:
        parts.append(f"+{row['forecast_margin']:.0%}")
    return " ".join(parts)


def frontier_png(frame: pd.DataFrame, title: str) -> bytes:
    """Instance-hours against under-provisioned minutes, one colour per policy; every swept
    setting a point, the efficient ones joined and labelled with their setting."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for policy, grp in frame.groupby("policy", sort=False):
        colour = _COLOURS.get(policy, "#636363")
        marker = _MARKERS.get(policy, "o")
        ax.scatter(grp["under_provisioned_minutes"], grp["instance_hours"], s=18, color=colour, alpha=0.35,
                   marker=marker)  # fmt: skip
        eff = grp[grp["efficient"]].sort_values("under_provisioned_minutes")
        ax.plot(eff["under_provisioned_minutes"], eff["instance_hours"], color=colour, marker=marker,
                label=f"{plain(policy)} (frontier)")  # fmt: skip
        for _, row in eff.iterrows():
            ax.annotate(_label(row), (row["under_provisioned_minutes"], row["instance_hours"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points", color=colour)  # fmt: skip
    ax.set_xlabel("under-provisioned minutes (demand above the SLO utilization)")
    ax.set_ylabel("instance-hours")
    ax.set_title(plain(title), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
