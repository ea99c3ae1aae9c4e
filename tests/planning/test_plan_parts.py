"""The plan's per-service parts computed by service batch give the plan of one process exactly."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from capplan.core.bundles import PlanInputs, PlanTables
from capplan.core.config import config_from_dict
from capplan.planning import build_plan, parts
from capplan.planning.parts import merge_parts, partition, service_parts, split_inputs

CUTOFF = pd.Timestamp("2026-11-01 23:00")
SERVICES = [f"svc{i}" for i in range(7)]
# svc2 and svc3 stopped reporting 3 days ago; svc5 has a day of history only; svc6 no inventory row


def _cfg():
    return config_from_dict(
        {
            "forecast": {"quantiles": [0.1, 0.5, 0.9]},
            "scenarios": {"expected": {"quantile": 0.5}, "high": {"quantile": 0.9, "demand_multiplier": 1.3}},
            "planning": {"long_range_months": 2, "long_range_resolution": "weekly"},
            "orchestration": {"batch_size": 4},
        }
    )


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch):
    monkeypatch.setattr(parts, "MIN_BATCH_SERIES", 1)  # hand-built inputs of 14 series


def _inputs() -> PlanInputs:
    rng = np.random.default_rng(3)
    hours = pd.date_range(CUTOFF - pd.Timedelta(days=40), CUTOFF, freq="h")
    days = pd.date_range(CUTOFF.floor("D") - pd.Timedelta(days=150), CUTOFF.floor("D"), freq="D")
    ahead = pd.date_range(CUTOFF + pd.Timedelta(hours=1), periods=72, freq="h")
    t = np.arange(len(hours))
    series, history, peaks, forecasts, inventory = [], [], [], [], []
    for k, svc in enumerate(SERVICES):
        for metric, unit, scale in (("cpu", "cores", 0.02), ("memory", "GiB", 0.05)):
            uid = f"{svc}:{metric}"
            level = (40 + 30 * k) * scale
            y = level * (1 + 0.4 * np.sin(2 * np.pi * t / 24)) * rng.normal(1, 0.05, len(t))
            kept = hours[-24:] if svc == "svc5" else hours[:-72] if svc in ("svc2", "svc3") else hours
            history.append(pd.DataFrame({"unique_id": uid, "ds": kept, "y": y[: len(kept)]}))
            growth = level * 1.4 * np.exp(0.004 * np.arange(len(days))) * rng.normal(1, 0.03, len(days))
            peaks.append(pd.DataFrame({"unique_id": uid, "ds": days, "y": growth}))
            mid = level * (1 + 0.4 * np.sin(2 * np.pi * np.arange(72) / 24)) * (1 + 0.01 * k)
            forecasts.append(
                pd.DataFrame({"unique_id": uid, "ds": ahead, "model": "stub", "cutoff": CUTOFF,
                              "p10": 0.9 * mid, "p50": mid, "p90": 1.1 * mid})
            )  # fmt: skip
            series.append({"unique_id": uid, "service": svc, "metric": metric, "region": None, "unit": unit,
                           "kind": "gauge", "frequency": "h", "source": "test"})  # fmt: skip
            if svc != "svc6":
                inventory.append({"service": svc, "resource": metric, "capacity_per_instance": level / 2,
                                  "unit": unit, "instances": 3, "target_utilization": 0.7, "max_instances": 8,
                                  "cost_per_instance_hour": 0.1 + k / 100, "instance_type": None,
                                  "lead_time_days": 30.0})  # fmt: skip
    return PlanInputs(
        run_id="run1",
        forecasts=pd.concat(forecasts, ignore_index=True),
        series=pd.DataFrame(series),
        inventory=pd.DataFrame(inventory),
        history=pd.concat(history, ignore_index=True),
        daily_peaks=pd.concat(peaks, ignore_index=True),
        events=pd.DataFrame(columns=["name", "kind", "start", "end", "services", "expected_uplift"]),
    )


def test_service_batches_hold_whole_services_once(monkeypatch):
    inputs = _inputs()
    batches = split_inputs(inputs, 4)  # 2 series a service: 2 services a batch
    assert [sorted(b.series["service"].unique()) for b in batches] == [
        ["svc0", "svc1"], ["svc2", "svc3"], ["svc4", "svc5"], ["svc6"],
    ]  # fmt: skip
    assert sum(len(b.history) for b in batches) == len(inputs.history)
    assert sum(len(b.inventory) for b in batches) == len(inputs.inventory)
    assert split_inputs(inputs, 0) == [inputs] and split_inputs(inputs, 100) == [inputs]
    # at least a batch per worker: 14 series on 3 workers, batches of at most 5 series
    assert [len(b.series) for b in partition(inputs, _cfg(), 3)[0]] == [4, 4, 4, 2]
    assert len(partition(inputs, _cfg(), 1)[0]) == 4  # batch_size 4 still applies
    monkeypatch.setattr(parts, "MIN_BATCH_SERIES", 250)
    assert len(partition(inputs, _cfg(), 2)[0]) == 1  # too small a plan to start workers for


@pytest.mark.parametrize("workers", [2, 3])
def test_the_plan_from_batched_parts_is_the_plan_of_one_process(workers):
    inputs, cfg = _inputs(), _cfg()
    whole = build_plan(inputs, cfg)
    batches, start = partition(inputs, cfg, workers)
    assert len(batches) > 1
    merged = merge_parts([service_parts(b, cfg, start) for b in reversed(batches)])  # any order
    batched = build_plan(inputs, cfg, merged)
    assert len(whole.autoscaling) and len(whole.long_range) and len(whole.long_range_accuracy)
    assert "svc5" not in set(whole.autoscaling["service"])  # a day of history: not replayed
    assert "autoscaling replay: svc5" in set(whole.plan_assumptions["key"])
    for f in fields(PlanTables):
        pd.testing.assert_frame_equal(getattr(batched, f.name), getattr(whole, f.name), obj=f.name)
