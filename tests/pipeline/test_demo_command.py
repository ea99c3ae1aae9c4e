"""`capplan demo` end to end on a fresh folder (what `make demo` runs)."""

from __future__ import annotations

import pytest

from capplan.cli import main

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_pipeline(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--out", "data/demo"]) == 0
    out = capsys.readouterr().out
    exports = tmp_path / "data" / "demo" / "exports"
    for name in ("capplan_plan.xlsx", "capplan_report.html", "forecast.csv"):
        assert (exports / name).stat().st_size > 0
        assert name in out
    assert (tmp_path / "mlruns" / "mlflow.db").exists()  # tracked where `make ui` looks
    assert "3 quarantined" in out and "0 files rejected" in out
    assert (
        'tracking_uri = "sqlite:///../../mlruns/mlflow.db"'
        in (tmp_path / "data" / "demo" / "capplan.toml").read_text()
    )
