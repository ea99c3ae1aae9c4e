"""A warehouse with 5-minute, 30-minute and hourly series is forecast at each series' own grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.config import config_from_dict
from capplan.evaluation import TrainParams, forecast_group, train_group
from capplan.features.training import training_data
from capplan.warehouse import store
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_source


def _write(tmp_path):
    rows = []
    end = pd.Timestamp("2025-03-01")
    for service, freq, days in (("fast", "5min", 4), ("mid", "30min", 8), ("slow", "1h", 10)):
        ds = pd.date_range(end - pd.Timedelta(days=days), end, freq=freq, inclusive="left")
        y = 10 + np.sin(np.arange(len(ds)) * 2 * np.pi / (pd.Timedelta("1D") / pd.Timedelta(freq)))
        rows.append(
            pd.DataFrame(
                {"ts": ds.strftime("%Y-%m-%dT%H:%M:%SZ"), "service": service, "metric": "cpu", "value": y}
            )
        )
    pd.concat(rows).to_csv(tmp_path / "m.csv", index=False)


def test_each_series_is_forecast_on_its_own_grid(tmp_path):
    _write(tmp_path)
    cfg = config_from_dict(
        {
            "warehouse": {"path": "w.duckdb"},
            "sources": [{"name": "m", "kind": "metrics", "path": "m.csv"}],
            "forecast": {"horizon": "2h", "train_window": None, "min_history": 2},
        },
        base_dir=tmp_path,
    )
    with connect(cfg.warehouse_path) as con:
        ingest_source(con, cfg.sources[0], cfg, engine="vectorized")
        assert dict(con.execute("SELECT unique_id, frequency FROM series").fetchall()) == {
            "fast:cpu": "5min",
            "mid:cpu": "30min",
            "slow:cpu": "h",
        }
        data = training_data(store.training_inputs(con), cfg)
    groups = {g.freq: g for g in data.groups}
    assert {f: g.horizon for f, g in groups.items()} == {"5min": 24, "30min": 4, "h": 2}
    for freq, g in groups.items():
        result = train_group(
            g.df, g.spec, TrainParams(("seasonal_naive",), g.horizon, folds=1, min_history=1)
        )
        fc = forecast_group(result, g.horizon)
        steps = fc["ds"].diff().dropna().unique()
        assert list(steps) == [pd.Timedelta(freq if freq != "h" else "1h")]
        assert fc["ds"].min() == pd.Timestamp("2025-03-01")
        assert len(fc) == g.horizon
