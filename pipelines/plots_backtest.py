"""Backtest plots for MLflow (matplotlib, Agg, imported lazily)."""

from __future__ import annotations

import io

import pandas as pd

from capplan.core.contracts import quantile_columns


def backtest_figure(bt: pd.DataFrame, model: str, n_series: int = 4) -> bytes:
    """Actuals vs p50 with the outer quantile band, for the first few series of a backtest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    qcols = quantile_columns(bt.columns)
    uids = list(dict.fromkeys(bt["unique_id"]))[:n_series]
    fig, axes = plt.subplots(len(uids), 1, figsize=(10, 2.4 * len(uids)), squeeze=False)
    for ax, uid in zip(axes[:, 0], uids, strict=True):
        s = bt[bt["unique_id"] == uid].sort_values("ds")
        ax.plot(s["ds"], s["y"], color="black", lw=0.8, label="actual")
        for _, g in s.groupby("cutoff"):
            ax.plot(g["ds"], g["p50"], color="tab:blue", lw=1)
            if len(qcols) >= 2:
                ax.fill_between(g["ds"], g[qcols[0]], g[qcols[-1]], color="tab:blue", alpha=0.2)
        ax.set_title(f"{model}: {uid}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
