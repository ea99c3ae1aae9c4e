"""Rolling-origin splits: where each fold's cutoff lies, and the train/valid frames per fold.

Invariants:

* Every series is on its grid, sorted by ``ds``, without gaps (the ingest contract), so a
  position in the series is a step on its grid.
* Cutoffs are counted back from *each series'* end: fold ``folds - 1`` (the last) has its
  horizon end at the series' last observation; fold ``k`` lies ``stride`` steps before fold
  ``k + 1``. Fold numbers run 0 (earliest) to ``folds - 1`` (latest).
* ``train`` of a fold holds, per series, every row with ``ds <= cutoff``; ``valid`` holds the
  next ``h`` rows. A series with fewer than ``min_train`` points at or before a fold's cutoff
  is left out of that fold and *reported* by :func:`plan_folds`, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd

from capplan.core.contracts import CUTOFF, DS, ID

FOLD = "fold"
N_TRAIN = "n_train"


class Split(NamedTuple):
    """One fold: its per-series cutoffs (``unique_id, fold, cutoff, n_train``), train, valid."""

    cutoffs: pd.DataFrame
    train: pd.DataFrame
    valid: pd.DataFrame


def _check_args(h: int, folds: int, stride: int | None) -> int:
    if h < 1:
        raise ValueError(f"h must be at least 1 step, got {h}")
    if folds < 1:
        raise ValueError(f"folds must be at least 1, got {folds}")
    stride = h if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride must be at least 1 step, got {stride}")
    return stride


def _with_positions(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` sorted by series and time, with ``_pos`` (0-based) and ``_n`` (series length)."""
    out = df.sort_values([ID, DS], kind="stable").reset_index(drop=True)
    grouped = out.groupby(ID, sort=False, observed=True)[DS]
    out["_pos"] = grouped.cumcount()
    out["_n"] = grouped.transform("size")
    return out


def _cutoff_positions(df: pd.DataFrame, h: int, folds: int, stride: int) -> pd.DataFrame:
    """``unique_id, fold, _cut`` where ``_cut`` is the 0-based position of the cutoff (may be < 0)."""
    sizes = df.groupby(ID, sort=False, observed=True).size()
    fold = np.arange(folds)
    ids = np.repeat(sizes.index.to_numpy(), folds)
    n = np.repeat(sizes.to_numpy(), folds)
    k = np.tile(fold, len(sizes))
    cut = n - 1 - h - (folds - 1 - k) * stride
    return pd.DataFrame({ID: ids, FOLD: k, "_cut": cut})


def rolling_origin_cutoffs(df: pd.DataFrame, h: int, folds: int, stride: int | None = None) -> pd.DataFrame:
    """Per series and fold, the cutoff and how many points lie at or before it.

    Returns ``unique_id, fold, cutoff, n_train`` sorted by ``unique_id, fold``. Where a series is
    too short for a fold to exist at all, ``cutoff`` is ``NaT`` and ``n_train`` is ``<= 0``.
    """
    stride = _check_args(h, folds, stride)
    pos = _with_positions(df)
    cuts = _cutoff_positions(pos, h, folds, stride)
    lookup = pos[[ID, "_pos", DS]].rename(columns={"_pos": "_cut", DS: CUTOFF})
    out = cuts.merge(lookup, on=[ID, "_cut"], how="left")
    out[N_TRAIN] = out["_cut"] + 1
    out = out.sort_values([ID, FOLD], kind="stable").reset_index(drop=True)
    return out[[ID, FOLD, CUTOFF, N_TRAIN]]


def plan_folds(
    df: pd.DataFrame, h: int, folds: int, stride: int | None = None, min_train: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the cutoffs into the ones used and the ones skipped, with the reason.

    Returns ``(cutoffs, skipped)``: ``cutoffs`` as :func:`rolling_origin_cutoffs` for the
    (series, fold) pairs with at least ``min_train`` training points; ``skipped`` holds
    ``unique_id, fold, n_train, reason`` for the others.
    """
    if min_train < 1:
        raise ValueError(f"min_train must be at least 1, got {min_train}")
    cuts = rolling_origin_cutoffs(df, h, folds, stride)
    short = cuts[N_TRAIN] < min_train
    skipped = cuts.loc[short, [ID, FOLD, N_TRAIN]].reset_index(drop=True)
    skipped[N_TRAIN] = skipped[N_TRAIN].clip(lower=0)
    skipped["reason"] = (
        "too short for fold "
        + skipped[FOLD].astype(str)
        + ": "
        + skipped[N_TRAIN].astype(str)
        + f" points at or before the cutoff, need at least {min_train}"
    )
    return cuts.loc[~short].reset_index(drop=True), skipped


def backtest_splits(
    df: pd.DataFrame, h: int, folds: int, stride: int | None = None, min_train: int = 1
) -> Iterator[Split]:
    """Yield one :class:`Split` per fold, earliest first; folds with no usable series are not yielded.

    ``train`` and ``valid`` keep ``df``'s columns; ``valid`` has exactly ``h`` rows per series.
    Call :func:`plan_folds` with the same arguments for the (series, fold) pairs left out.
    """
    stride = _check_args(h, folds, stride)
    cuts, _ = plan_folds(df, h, folds, stride, min_train)
    pos = _with_positions(df)
    cut_pos = _cutoff_positions(pos, h, folds, stride)
    cuts = cuts.merge(cut_pos, on=[ID, FOLD], how="left")
    cols = list(df.columns)
    for _, fold_cuts in cuts.groupby(FOLD, sort=True):
        rows = pos.merge(fold_cuts[[ID, "_cut"]], on=ID, how="inner")
        in_train = rows["_pos"] <= rows["_cut"]
        in_valid = (rows["_pos"] > rows["_cut"]) & (rows["_pos"] <= rows["_cut"] + h)
        yield Split(
            cutoffs=fold_cuts[[ID, FOLD, CUTOFF, N_TRAIN]].reset_index(drop=True),
            train=rows.loc[in_train, cols].reset_index(drop=True),
            valid=rows.loc[in_valid, cols].reset_index(drop=True),
        )


_last: list = []  # [(weak reference to df, arguments, skipped, splits)]: the latest df's folds


def fold_plan(
    df: pd.DataFrame, h: int, folds: int, stride: int | None = None, min_train: int = 1
) -> tuple[pd.DataFrame, list[Split]]:
    """``(skipped, splits)``: :func:`plan_folds`' skipped pairs and :func:`backtest_splits` as a
    list, remembered for the last ``df`` object: every model of a batch is backtested on the same
    frame, and cutting it took about 7% of training (500 series, four models). Each call gets
    its own frames (copy-on-write copies: a model that writes into one leaves the others)."""
    import weakref

    args = (h, folds, stride, min_train)
    if not (_last and _last[0][0]() is df and _last[0][1] == args):
        _, skipped = plan_folds(df, h, folds, stride, min_train)
        _last[:] = [(weakref.ref(df), args, skipped, list(backtest_splits(df, h, folds, stride, min_train)))]
    _ref, _args, skipped, splits = _last[0]
    return _copy(skipped), [Split(_copy(s.cutoffs), _copy(s.train), _copy(s.valid)) for s in splits]


def forget_folds() -> None:
    """Drop the remembered folds (a batch's backtests are done: its frames need not stay)."""
    _last.clear()


def _copy(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.copy(deep=False)
