"""Series batches: one deterministic partition, every series in exactly one batch, and every fit
(backtests and final fits, global models included) sees one batch's series only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capplan.core.batches import batch_failure, run_batches, series_batches
from capplan.core.contracts import Covariates, ModelSpec
from capplan.evaluation import TrainParams, train_group
from capplan.evaluation.testing import SumAhead
from capplan.features.training import Group, batch_groups


def test_batches_are_sorted_equal_chunks_whatever_the_input_order():
    uids = [f"s{i:02d}" for i in range(7)]
    rng = np.random.default_rng(0)
    shuffled = list(rng.permutation(uids)) + ["s03", "s05"]  # repeats count once
    assert series_batches(shuffled, 3) == [["s00", "s01", "s02"], ["s03", "s04"], ["s05", "s06"]]
    assert series_batches(reversed(uids), 3) == series_batches(uids, 3)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 100])
def test_every_series_is_in_exactly_one_batch(size):
    uids = [f"svc{i}:cpu" for i in range(7)]
    batches = series_batches(uids, size)
    flat = [u for b in batches for u in b]
    assert sorted(flat) == sorted(uids) and len(flat) == len(set(flat))
    sizes = [len(b) for b in batches]
    assert max(sizes) <= size and max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    assert len(batches) == -(-7 // size)


def test_ten_thousand_series_in_twenty_equal_batches_by_default():
    """Twenty batches keep two (or four, five, ten) pool workers busy to the last one."""
    batches = series_batches([f"s{i:05d}" for i in range(10_000)])
    assert len(batches) == 20 and {len(b) for b in batches} == {500}
    assert [len(b) for b in series_batches([f"s{i}" for i in range(1001)], 500)] == [334, 334, 333]


@pytest.mark.parametrize("size", [0, None])
def test_zero_or_none_is_one_batch(size):
    assert series_batches(["b", "a"], size) == [["a", "b"]]
    assert series_batches([], size) == []


def _group(n_series: int = 5, days: int = 10) -> Group:
    ds = pd.date_range("2026-01-01", periods=24 * days, freq="h")
    uids = [f"svc{i}:cpu" for i in range(n_series)]
    t = np.arange(len(ds))
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": ds, "y": 10.0 + k + np.sin(2 * np.pi * t / 24)})
            for k, u in enumerate(uids)
        ],
        ignore_index=True,
    )
    past = df[["unique_id", "ds"]].assign(kpi=1.0)
    spec = ModelSpec(freq="h", season_length=24, quantiles=(0.1, 0.5, 0.9))
    return Group("h", df, spec, 24, Covariates(future=None, past=past))


def test_batch_groups_cut_rows_and_covariates_by_series():
    group = _group(5)
    parts = batch_groups([group], 2)
    assert [sorted(p.df["unique_id"].unique()) for p in parts] == series_batches(group.df["unique_id"], 2)
    for p in parts:
        assert set(p.cov.past["unique_id"]) == set(p.df["unique_id"])
        assert (p.freq, p.horizon, p.spec) == (group.freq, group.horizon, group.spec)
    rows = pd.concat([p.df for p in parts]).sort_values(["unique_id", "ds"], ignore_index=True)
    pd.testing.assert_frame_equal(rows, group.df.sort_values(["unique_id", "ds"], ignore_index=True))
    assert batch_groups([group], 0) == [group] and batch_groups([group], 5) == [group]


def test_every_fit_sees_one_batch_only(monkeypatch):
    """The global model is fitted per batch: no backtest or final fit mixes two batches."""
    from capplan.evaluation import engine

    seen: list[frozenset] = []

    class Recording(SumAhead):
        def fit(self, df, cov=None):
            seen.append(frozenset(df["unique_id"].unique()))
            return super().fit(df, cov)

    monkeypatch.setattr(engine, "build_model", lambda name, spec: Recording(quantiles=spec.quantiles))
    group = _group(5)
    batches = [frozenset(b) for b in series_batches(group.df["unique_id"], 2)]
    params = TrainParams(("seasonal_naive", "lightgbm"), 24, folds=2, min_history=2)
    results = [train_group(p.df, p.spec, params, p.cov) for p in batch_groups([group], 2)]
    assert seen and all(any(s <= b for b in batches) for s in seen)
    assert {frozenset(r.champions["unique_id"]) for r in results} == set(batches)
    for r in results:  # the final fits: each batch's champions on that batch's series
        assert r.fitted and all(
            set(m._last["unique_id"]) <= set(r.champions["unique_id"]) for m in r.fitted.values()
        )
    assert len(seen) == len(batches) * (2 * 2 + 1)  # per batch: 2 models x 2 folds, then 1 final fit


def test_a_failing_batch_is_returned_in_its_place_and_the_others_go_on():
    def task(batch, k):
        if "b" in batch:
            raise RuntimeError("model exploded")
        return [u * k for u in batch]

    out = run_batches(task, [["a"], ["b"], ["c"]], False, 2)
    assert out[0] == ["aa"] and out[2] == ["cc"]
    assert isinstance(out[1], RuntimeError) and str(out[1]) == "model exploded"
    uids, err, note = batch_failure(_group(3), out[1])
    assert uids == ["svc0:cpu", "svc1:cpu", "svc2:cpu"] and err is out[1]
    assert note == (
        "training batch of 3 series (svc0:cpu..svc2:cpu) failed, no champion this run: model exploded"
    )


class _Future:
    def __init__(self, value):
        self.value = value

    def result(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_a_window_keeps_that_many_batches_in_flight_and_the_results_in_order():
    """A pool of 2: a batch is submitted (and pickled) only as one finishes; they finish out of
    order (newest first here) and come back in the batches' order, a failure in its place."""
    in_flight, most = set(), []

    class Task:
        @staticmethod
        def submit(batch, k):
            future = _Future(RuntimeError("boom") if batch == "c" else batch * k)
            in_flight.add(future)
            most.append(len(in_flight))
            return future

    def as_completed(futures):
        assert set(futures) == in_flight
        done = futures[-1]
        in_flight.discard(done)
        yield done

    out = run_batches(Task, list("abcde"), True, 2, window=2, as_completed=as_completed)
    assert out[:2] == ["aa", "bb"] and out[3:] == ["dd", "ee"] and str(out[2]) == "boom"
    assert max(most) == 2 and len(most) == 5 and not in_flight


def test_every_model_of_a_batch_backtests_on_folds_cut_once(monkeypatch):
    """The folds are cut once per batch frame and each model gets frames of its own."""
    from capplan.evaluation import splits

    cuts = []
    real = splits.backtest_splits

    def counted(*args, **kwargs):
        cuts.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(splits, "backtest_splits", counted)
    group = _group(3)
    params = TrainParams(("seasonal_naive", "seasonal_profile", "theta"), 24, folds=2, min_history=2)
    result = train_group(group.df, group.spec, params, None)
    assert len(cuts) == 1 and not splits._last  # cut once; forgotten when the batch's backtests end
    one, two = splits.fold_plan(group.df, 24, 2), splits.fold_plan(group.df, 24, 2)
    assert len(cuts) == 2 and one[1][0].train is not two[1][0].train
    one[1][0].train.loc[0, "y"] = -1.0  # a model writing into its frame leaves the next one's
    assert two[1][0].train.loc[0, "y"] != -1.0
    assert set(result.backtests["model"]) >= {"seasonal_naive", "seasonal_profile", "theta"}
    splits.forget_folds()
