"""The ensemble weighted by backtest skill per series, on hand-built backtests with known MASEs.

Every series' history is ``y = t`` (season 1), so each fold's MASE scale is exactly 1 and a
member's MASE on a fold is its absolute error there.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from capplan.evaluation.engine import GroupResult, forecast_group
from capplan.evaluation.ensemble import (
    ensemble_backtest,
    fold_errors,
    fold_weights,
    published_weights,
    skill_weights,
)
from capplan.models import ModelSpec

QCOLS = ["p10", "p50", "p90"]
SPEC = ModelSpec(freq="h", season_length=1, quantiles=(0.1, 0.5, 0.9))
T0 = pd.Timestamp("2026-01-01")
CUTOFFS = [13, 15, 17]  # three folds of h = 2: steps 14-15, 16-17, 18-19
# (series, model) -> the signed point error on each fold
ERRORS = {
    ("a", "m1"): [1, 1, 3],
    ("a", "m2"): [-2, -2, -2],
    ("a", "seasonal_naive"): [4, 4, 4],
    ("b", "m1"): [2, 2, 2],  # worse than seasonal naive on b: weight 0 there
    ("b", "m2"): [-1, -1, -1],
    ("b", "seasonal_naive"): [1.5, 1.5, 1.5],
}


def _ts(t: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=t)


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        [{"unique_id": u, "ds": _ts(t), "y": float(t)} for u in ("a", "b") for t in range(20)]
    )


def _backtests(errors=ERRORS, y_shift: dict | None = None) -> dict[str, pd.DataFrame]:
    """Member backtests; ``y_shift`` ((series, cutoff) -> added to the actuals of that fold, the
    forecasts staying where they were)."""
    rows: dict[str, list] = {}
    for (uid, model), errs in errors.items():
        for cut, err in zip(CUTOFFS, errs, strict=True):
            for t in (cut + 1, cut + 2):
                p50 = float(t) + err
                y = float(t) + (y_shift or {}).get((uid, cut), 0.0)
                rows.setdefault(model, []).append(
                    {"unique_id": uid, "model": model, "cutoff": _ts(cut), "ds": _ts(t), "y": y}
                    | {"p10": p50 - 1, "p50": p50, "p90": p50 + 1}
                )
    return {m: pd.DataFrame(r) for m, r in rows.items()}


def _weights(frame: pd.DataFrame) -> dict:
    keys = [k for k in ("unique_id", "cutoff", "model") if k in frame]
    return {tuple(r[k] for k in keys): r["weight"] for r in frame.to_dict("records")}


def test_skill_weights_inverse_mase_to_the_fourth_and_worse_than_seasonal_naive_excluded():
    mase = pd.DataFrame(
        [
            ("a", "m1", 0.5), ("a", "m2", 1.0), ("a", "seasonal_naive", 2.0),
            ("b", "m1", 1.0), ("b", "m2", 3.0), ("b", "seasonal_naive", 2.0),
            ("c", "m1", 3.0), ("c", "m2", 6.0), ("c", "seasonal_naive", 2.0),  # all worse: all kept
            ("d", "m1", 0.0), ("d", "m2", 0.5), ("d", "seasonal_naive", np.nan),  # a perfect member
        ],
        columns=["unique_id", "model", "mase"],
    )  # fmt: skip
    got = _weights(skill_weights(mase, ["m1", "m2"]))
    assert got == pytest.approx(
        {
            ("a", "m1"): 16 / 17, ("a", "m2"): 1 / 17,  # 1/0.5**4 : 1/1**4 = 16 : 1
            ("b", "m1"): 1.0,
            ("c", "m1"): 16 / 17, ("c", "m2"): 1 / 17,  # 1/81 : 1/1296
            ("d", "m1"): 1.0, ("d", "m2"): 0.0,
        }
    )  # fmt: skip


def test_fold_and_published_weights_and_the_weighted_backtest_are_exact():
    bt = _backtests()
    errors = fold_errors(bt, _history(), season=1)
    a = errors[(errors["unique_id"] == "a") & (errors["model"] == "m1")]
    assert a["err"].tolist() == [2.0, 2.0, 6.0]  # |error| x 2 steps, scale 1
    used = _weights(fold_weights(errors, ["m1", "m2"]))
    # series a: m1's MASE on the other folds is 2, 2, 1 and m2's 2: equal, equal, then 1 : 1/16
    assert used[("a", _ts(13), "m1")] == pytest.approx(0.5)
    assert used[("a", _ts(15), "m2")] == pytest.approx(0.5)
    assert used[("a", _ts(17), "m1")] == pytest.approx(16 / 17)
    assert used[("a", _ts(17), "m2")] == pytest.approx(1 / 17)
    assert used[("b", _ts(13), "m2")] == pytest.approx(1.0)  # m1 (2) worse than seasonal naive (1.5)
    assert ("b", _ts(13), "m1") not in used
    published = _weights(published_weights(errors, ["m1", "m2"]))
    # a: m1 MASE 5/3, m2 2 -> 81/625 : 1/16
    assert published == pytest.approx(
        {("a", "m1"): 0.1296 / 0.1921, ("a", "m2"): 0.0625 / 0.1921, ("b", "m2"): 1.0}
    )
    ens = ensemble_backtest(bt, fold_weights(errors, ["m1", "m2"]), QCOLS).set_index(["unique_id", "ds"])
    err = ens["p50"] - ens["y"]
    assert err[("a", _ts(14))] == pytest.approx(0.5 * 1 + 0.5 * -2)
    assert err[("a", _ts(19))] == pytest.approx(16 / 17 * 3 + 1 / 17 * -2)
    assert err[("b", _ts(16))] == pytest.approx(-1.0)
    assert (ens["p90"] - ens["p50"]).to_numpy() == pytest.approx(1.0)  # every quantile weighted alike
    assert set(ens["model"]) == {"ensemble"} and len(ens) == 12


def test_a_fold_s_weights_do_not_depend_on_that_fold_s_actuals():
    before = fold_weights(fold_errors(_backtests(), _history(), 1), ["m1", "m2"])
    shifted = _backtests(y_shift={("a", 17): 5.0})  # fold 3's actuals move, its errors with them
    after = fold_weights(fold_errors(shifted, _history(), 1), ["m1", "m2"])
    on = before["cutoff"] == _ts(17)
    pd.testing.assert_frame_equal(
        before[on].reset_index(drop=True), after[after["cutoff"] == _ts(17)].reset_index(drop=True)
    )
    # the other folds learn from fold 3, so theirs change: the check above can fail
    assert _weights(before[~on]) != pytest.approx(_weights(after[after["cutoff"] != _ts(17)]))
    ens = ensemble_backtest(shifted, after, QCOLS).set_index(["unique_id", "ds"])
    orig = ensemble_backtest(_backtests(), before, QCOLS).set_index(["unique_id", "ds"])
    assert ens.loc[("a", _ts(19)), "p50"] == pytest.approx(orig.loc[("a", _ts(19)), "p50"])
    assert ens.loc[("a", _ts(19)), "y"] - orig.loc[("a", _ts(19)), "y"] == pytest.approx(5.0)
    assert ens.loc[("a", _ts(14)), "p50"] != pytest.approx(orig.loc[("a", _ts(14)), "p50"])


def test_a_member_that_fails_on_a_series_is_excluded_there():
    bt = _backtests()
    m2 = bt["m2"]
    m2.loc[(m2["unique_id"] == "a") & (m2["cutoff"] == _ts(15)), "p50"] = np.nan  # m2 failed a fold on a
    bt["m1"] = bt["m1"][bt["m1"]["unique_id"] != "b"]  # m1 left no rows on b
    errors = fold_errors(bt, _history(), 1)
    published = _weights(published_weights(errors, ["m1", "m2"]))
    assert published == pytest.approx({("a", "m1"): 1.0, ("b", "m2"): 1.0})
    used = fold_weights(errors, ["m1", "m2"])
    # m2 keeps a weight only on the failed fold itself (learned from the two others), where it has no
    # forecast: the others' weights are renormalised there
    m2_on_a = used[(used["unique_id"] == "a") & (used["model"] == "m2")]
    assert m2_on_a["cutoff"].tolist() == [_ts(15)]
    ens = ensemble_backtest(bt, used, QCOLS)
    a = ens[ens["unique_id"] == "a"]
    assert (a["p50"] - a["y"]).tolist() == [1.0, 1.0, 1.0, 1.0, 3.0, 3.0]  # m1 alone
    assert not ens[QCOLS].isna().any().any()


class _Frozen:
    """A fitted member whose forecast is given."""

    def __init__(self, forecast: pd.DataFrame) -> None:
        self.forecast = forecast

    def predict(self, h: int, cov=None) -> pd.DataFrame:
        return self.forecast


def _member_forecast(values: dict[str, float]) -> pd.DataFrame:
    rows = [
        {"unique_id": u, "ds": _ts(20 + s), "p10": v - 1, "p50": v, "p90": v + 1}
        for u, v in values.items()
        for s in range(2)
    ]
    return pd.DataFrame(rows)


def _result(weights: pd.DataFrame | None) -> GroupResult:
    champions = pd.DataFrame({"unique_id": ["a", "b"], "champion": "ensemble", "reason": ""})
    fitted = {
        "m1": _Frozen(_member_forecast({"a": 10.0, "b": 20.0})),
        "m2": _Frozen(_member_forecast({"a": 30.0, "b": 40.0})),
        "m3": _Frozen(_member_forecast({"a": 0.0, "b": 0.0})),
    }
    empty = pd.DataFrame()
    result = GroupResult(SPEC, 2, empty, empty, empty, champions, ["m1", "m2", "m3"], {}, fitted=fitted)
    result.ensemble_weights = weights
    return result


def test_the_published_forecast_is_the_weighted_mean_with_every_fold_s_weights():
    weights = pd.DataFrame(
        {"unique_id": ["a", "a", "b"], "model": ["m1", "m2", "m2"], "weight": [0.75, 0.25, 1.0]}
    )
    fc = forecast_group(_result(weights), 2).set_index(["unique_id", "ds"])
    assert fc.loc[("a", _ts(20)), "p50"] == pytest.approx(0.75 * 10 + 0.25 * 30)
    assert fc.loc[("b", _ts(21)), "p50"] == pytest.approx(40.0)
    assert fc.loc[("a", _ts(21)), "p90"] == pytest.approx(16.0)
    assert set(fc["model"]) == {"ensemble"}


def test_an_older_pickle_without_weights_still_forecasts_the_members_median():
    result = _result(None)
    del result.__dict__["ensemble_weights"]  # as pickled before the attribute existed
    old = pickle.loads(pickle.dumps(result))
    assert "ensemble_weights" not in old.__dict__
    fc = forecast_group(old, 2).set_index(["unique_id", "ds"])
    assert fc.loc[("a", _ts(20)), "p50"] == pytest.approx(10.0)  # median of 10, 30, 0
    assert fc.loc[("b", _ts(20)), "p50"] == pytest.approx(20.0)


def test_train_group_keeps_weights_per_series_and_backtests_the_ensemble_out_of_fold():
    from capplan.evaluation import TrainParams, train_group

    rng = np.random.default_rng(3)
    hours = 24 * 14
    t = np.arange(hours)
    df = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{k}",
                    "ds": pd.date_range("2026-01-01", periods=hours, freq="h"),
                    "y": 50 + k * t / 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1 + k, hours),
                }
            )
            for k in range(3)
        ],
        ignore_index=True,
    )
    spec = ModelSpec(freq="h", season_length=24, quantiles=(0.1, 0.5, 0.9))
    models = ("seasonal_naive", "seasonal_profile", "theta", "ensemble")
    result = train_group(df, spec, TrainParams(models=models, horizon=24, folds=3, ensemble_size=2))
    w = result.ensemble_weights
    assert list(w.columns) == ["unique_id", "model", "weight"]
    assert set(w["model"]) <= set(result.ensemble_members) and len(result.ensemble_members) == 2
    assert w.groupby("unique_id")["weight"].sum().to_numpy() == pytest.approx(1.0)
    bt = result.backtests
    members = {m: bt[bt["model"] == m] for m in result.ensemble_members}
    raw = {m: b for m, b in members.items()} | {"seasonal_naive": bt[bt["model"] == "seasonal_naive"]}
    used = fold_weights(fold_errors(raw, df, 24), result.ensemble_members)
    again = ensemble_backtest(members, used, QCOLS)  # the calibration keeps each member's point
    ens = bt[bt["model"] == "ensemble"].merge(again, on=["unique_id", "cutoff", "ds"])
    assert len(ens) == 3 * 3 * 24
    assert ens["p50_x"].to_numpy() == pytest.approx(ens["p50_y"].to_numpy())


def test_the_reason_of_an_ensemble_champion_ends_with_its_weights():
    from capplan.evaluation.engine import _with_weights

    champions = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "champion": ["ensemble", "m1"],
            "reason": ["ensemble: MASE 0.5", "m1: MASE 0.7"],
        }
    )
    weights = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "b"],
            "model": ["m1", "m2", "m3", "m1"],
            "weight": [0.25, 0.75, 0.0, 1.0],
        }
    )
    got = _with_weights(champions, weights)["reason"].tolist()
    assert got == ["ensemble: MASE 0.5; weights m2 0.75, m1 0.25", "m1: MASE 0.7"]
