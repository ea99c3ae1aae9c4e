import pandas as pd
import pytest

from capplan.evaluation.splits import backtest_splits, plan_folds, rolling_origin_cutoffs


def _frame(lengths: dict[str, int], start: str = "2024-01-01") -> pd.DataFrame:
    parts = [
        pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=n, freq="h"), "y": range(n)})
        for uid, n in lengths.items()
    ]
    return pd.concat(parts, ignore_index=True).astype({"y": "float64"})


def _hour(i: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(hours=i)


def test_cutoffs_counted_back_from_each_series_end():
    cuts = rolling_origin_cutoffs(_frame({"a": 10}), h=2, folds=3)
    assert cuts["fold"].tolist() == [0, 1, 2]
    assert cuts["cutoff"].tolist() == [_hour(3), _hour(5), _hour(7)]
    assert cuts["n_train"].tolist() == [4, 6, 8]


def test_stride_and_per_series_ends():
    df = _frame({"a": 10, "b": 7})
    cuts = rolling_origin_cutoffs(df, h=2, folds=2, stride=1)
    a = cuts[cuts.unique_id == "a"]["cutoff"].tolist()
    b = cuts[cuts.unique_id == "b"]["cutoff"].tolist()
    assert a == [_hour(6), _hour(7)]
    assert b == [_hour(3), _hour(4)]


def test_too_short_series_are_reported_with_reason():
    df = _frame({"long": 12, "short": 5})
    cuts, skipped = plan_folds(df, h=2, folds=3, min_train=3)
    assert skipped[["unique_id", "fold", "n_train"]].values.tolist() == [["short", 0, 0], ["short", 1, 1]]
    assert "need at least 3" in skipped["reason"].iloc[1]
    assert "1 points" in skipped["reason"].iloc[1]
    assert sorted(zip(cuts.unique_id, cuts.fold, strict=True)) == [
        ("long", 0),
        ("long", 1),
        ("long", 2),
        ("short", 2),
    ]


def test_backtest_splits_train_and_valid():
    df = _frame({"a": 10, "b": 8}).sample(frac=1, random_state=0)  # order must not matter
    splits = list(backtest_splits(df, h=2, folds=2, min_train=5))
    assert len(splits) == 2
    first, last = splits
    # fold 0: a cut at 5 (6 points), b cut at 3 -> 4 points < 5: skipped
    assert first.cutoffs["unique_id"].tolist() == ["a"]
    assert first.train["ds"].max() == _hour(5) and len(first.train) == 6
    assert first.valid["ds"].tolist() == [_hour(6), _hour(7)]
    assert set(last.train.columns) == {"unique_id", "ds", "y"}
    for uid, cut in zip(last.cutoffs.unique_id, last.cutoffs.cutoff, strict=True):
        tr = last.train[last.train.unique_id == uid]
        va = last.valid[last.valid.unique_id == uid]
        assert tr["ds"].max() == cut
        assert va["ds"].tolist() == [cut + pd.Timedelta(hours=1), cut + pd.Timedelta(hours=2)]


def test_fold_with_no_usable_series_is_not_yielded():
    splits = list(backtest_splits(_frame({"a": 6}), h=2, folds=3, min_train=2))
    assert [s.cutoffs["fold"].iloc[0] for s in splits] == [1, 2]


@pytest.mark.parametrize(
    "kwargs", [{"h": 0, "folds": 1}, {"h": 1, "folds": 0}, {"h": 1, "folds": 1, "stride": 0}]
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        rolling_origin_cutoffs(_frame({"a": 5}), **kwargs)
