"""When the learning loop retrains: no champion, old champions, or a degraded series of theirs."""

from __future__ import annotations

import pandas as pd

from capplan.evaluation.ledger import retrain_due

NOW = pd.Timestamp("2026-03-10")
WEEK = pd.Timedelta(days=7)


def _health(run_id, degraded):
    return pd.DataFrame({"unique_id": ["a", "b"], "run_id": run_id, "degraded": [degraded, False]})


def test_no_champion_retrains():
    assert retrain_due(None, None, None, NOW, WEEK) == (True, "no champion registered yet")


def test_a_degraded_series_of_the_current_champions_retrains():
    due, why = retrain_due(_health("r2", True), "r2", NOW - pd.Timedelta(days=1), NOW, WEEK)
    assert due and why.startswith("1 series degraded") and "a" in why


def test_a_healthy_or_older_runs_degradation_does_not():
    for health in (_health("r2", False), _health("r1", True), None):
        due, why = retrain_due(health, "r2", NOW - pd.Timedelta(days=1), NOW, WEEK)
        assert not due and "re-forecast only" in why


def test_age_beyond_retrain_after_retrains():
    due, why = retrain_due(_health("r2", False), "r2", NOW - pd.Timedelta(days=8), NOW, WEEK)
    assert due and why == "champions are 8.0 days old (retrain after 7.0 days)"
