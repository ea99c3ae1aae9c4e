"""Training reads only its window: ``store.training_inputs(con, as_of, read_window(cfg))`` gives
``training_data`` the same frames as reading all history, from a fraction of the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capplan.core.config import config_from_dict
from capplan.features.training import read_window, training_data
from capplan.warehouse import store
from capplan.warehouse.connection import connect
from capplan.warehouse.load import ingest_file

END = pd.Timestamp("2025-07-01")


def _series(name: str, start: pd.Timestamp, end: pd.Timestamp, freq: str, drop=()) -> pd.DataFrame:
    ds = pd.date_range(start, end, freq=freq, inclusive="left")
    for lo, hi in drop:  # gaps: no sample from lo up to hi
        ds = ds[(ds < lo) | (ds >= hi)]
    y = 10 + 5 * np.sin(np.arange(len(ds)) / 7.0) + np.arange(len(ds)) * 0.01
    service, metric = name.split(":")
    return pd.DataFrame({"ts": ds, "service": service, "metric": metric, "value": y})


@pytest.fixture
def warehouse(tmp_path):
    window_start = END - pd.Timedelta(days=30)
    frames = [
        # a gap straddling the window's start: filling inside the window needs the sample before it
        _series(
            "a:cpu",
            END - pd.Timedelta(days=200),
            END,
            "h",
            [(window_start - pd.Timedelta(days=2), window_start + pd.Timedelta(days=3))],
        ),
        # 5-minute samples resampled to hourly peaks, with a gap at the window's start too
        _series(
            "b:cpu",
            END - pd.Timedelta(days=90),
            END,
            "5min",
            [(window_start - pd.Timedelta(hours=5, minutes=10), window_start + pd.Timedelta(hours=7))],
        ),
        _series("c:cpu", END - pd.Timedelta(days=10), END, "h"),  # younger than the window
        _series("d:cpu", END - pd.Timedelta(days=100), END - pd.Timedelta(days=40), "h"),  # stopped reporting
        _series("e:cpu", END - pd.Timedelta(days=400), END, "D"),  # daily: kept at its own frequency
    ]
    pd.concat(frames).to_csv(tmp_path / "m.csv", index=False)
    cfg = config_from_dict(
        {
            "warehouse": {"path": str(tmp_path / "w.duckdb")},
            "sources": [{"name": "usage", "kind": "metrics", "path": "m.csv"}],
            "forecast": {"frequency": "h", "train_window": "30D", "fill": "interpolate"},
        },
        base_dir=tmp_path,
    )
    con = connect(cfg.warehouse_path)
    assert ingest_file(con, tmp_path / "m.csv", cfg.sources[0], cfg).status == "loaded"
    yield con, cfg
    con.close()


@pytest.mark.parametrize("as_of", [None, END - pd.Timedelta(days=12)])
def test_windowed_read_gives_the_training_frames_of_all_history(warehouse, as_of):
    con, cfg = warehouse
    assert read_window(cfg) == pd.Timedelta(days=30)
    everything = store.training_inputs(con, as_of)
    recent = store.training_inputs(con, as_of, read_window(cfg))
    assert len(recent.observations) < 0.45 * len(everything.observations)
    full, windowed = training_data(everything, cfg), training_data(recent, cfg)
    assert [g.freq for g in windowed.groups] == [g.freq for g in full.groups] == ["D", "h"]
    for a, b in zip(full.groups, windowed.groups, strict=True):
        pd.testing.assert_frame_equal(b.df, a.df)
    cols = ["unique_id", "last", "status", "steps_behind"]
    pd.testing.assert_frame_equal(windowed.status[cols], full.status[cols])


def test_read_window_reads_everything_where_the_window_depends_on_more_than_a_duration(warehouse):
    _, cfg = warehouse
    for change in ({"train_window": 720}, {"train_window": None}, {"fill": "seasonal"}):
        forecast = cfg.forecast.model_copy(update=change)
        assert read_window(cfg.model_copy(update={"forecast": forecast})) is None
    forecast = cfg.forecast.model_copy(update={"train_window": "2W"})
    assert read_window(cfg.model_copy(update={"forecast": forecast})) == pd.Timedelta(days=14)
