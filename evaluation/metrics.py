"""Score: metric functions sharing one signature, applied to a backtest (or ledger) frame afterwards.

Every metric is ``metric(frame, by) -> pd.Series`` indexed by the ``by`` columns and named by the
metric (``metric.__name__``): ``mae``, ``mase``, ``rmsse``, ``smape``, ``bias``, and the
parametrised ``pinball(q)``, ``coverage(lo, hi)``, ``msis(alpha)`` which return such a function.
A new metric means rescoring, never retraining.

Invariants of the scored frame:

* ``y`` is the actual; the point forecast is the median column ``p50``; interval and quantile
  metrics read the columns :func:`capplan.core.contracts.quantile_col` names.
* Scaled metrics (MASE, RMSSE, MSIS) read ``scale_mae`` / ``scale_mse``: the in-sample seasonal
  naive MAE / MSE of each series computed by :func:`seasonal_scale` from the training data *up
  to each row's cutoff* (so a fold's scale never uses data after that fold's cutoff).
* Scale when the seasonal naive error is 0 (a series constant across seasons) or undefined
  (fewer than ``season + 1`` points): the lag-1 (non-seasonal) naive error is used instead;
  when that is 0 too (a constant series) the scale is NaN, so the scaled metrics are NaN for
  that series rather than infinite. NaN is never silently skipped inside a group: one NaN row
  makes the group's value NaN.
* ``bias`` is the relative mean error ``mean(f - y) / mean(|y|)``: positive = over-forecast,
  scale free; NaN when every actual is 0.
* ``smape`` is M4's, on a 0-200 scale: ``200 * |y - f| / (|y| + |f|)``, 0 where both are 0.
* ``crps`` is the quantile approximation of the continuous ranked probability score:
  ``2 * mean over the quantile columns of the pinball loss``, in the series' units.
* Relative scores (BOOM / GIFT-Eval style; :func:`relative_scores`): the geometric mean over
  series of a model's per-series metric divided by the baseline's (seasonal naive) on the same
  series. A series whose baseline value is 0, NaN or infinite, or whose model value is NaN, has no
  ratio and is left out (the count of series used is returned); ratios are clipped to
  ``[1e-3, 1e3]`` before the logarithm, so one perfect (0) or hopeless series cannot make the
  mean 0 or infinite.
* Coverage error (:func:`coverage_errors`): per interval, the mean over series of
  ``|coverage - nominal|`` (calibration per series, not only on average).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import CUTOFF, DS, ID, MODEL, Y, quantile_col, quantile_from_col

from .backtest import POINT, STEP, horizon_step, quantile_columns

Metric = Callable[[pd.DataFrame, Sequence[str]], pd.Series]

SCALE_MAE = "scale_mae"
SCALE_MSE = "scale_mse"
HORIZON = "horizon"
N = "n"


def _group_mean(
    values: pd.Series | np.ndarray, frame: pd.DataFrame, by: Sequence[str], name: str
) -> pd.Series:
    s = pd.Series(np.asarray(values, dtype="float64"), index=frame.index)
    keys = [frame[k] for k in by]
    return s.groupby(keys, sort=True, observed=True, dropna=False).mean(skipna=False).rename(name)


def _need(frame: pd.DataFrame, cols: Sequence[str], metric: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise KeyError(
            f"metric {metric!r} needs columns {missing}; the frame has {list(map(str, frame.columns))}"
            + (
                " (add scales with seasonal_scale / evaluate)"
                if any(c.startswith("scale") for c in missing)
                else ""
            )
        )


def _error(frame: pd.DataFrame) -> np.ndarray:
    return frame[POINT].to_numpy(dtype="float64") - frame[Y].to_numpy(dtype="float64")


def mae(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
    """Mean absolute error of the median forecast, in the series' units."""
    _need(frame, [Y, POINT], "mae")
    return _group_mean(np.abs(_error(frame)), frame, by, "mae")


def mase(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
    """Mean absolute scaled error: ``mean(|y - p50| / scale_mae)``."""
    _need(frame, [Y, POINT, SCALE_MAE], "mase")
    return _group_mean(np.abs(_error(frame)) / frame[SCALE_MAE].to_numpy(), frame, by, "mase")


def rmsse(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
    """Root mean squared scaled error: ``sqrt(mean((y - p50)^2 / scale_mse))`` (M5)."""
    _need(frame, [Y, POINT, SCALE_MSE], "rmsse")
    msse = _group_mean(_error(frame) ** 2 / frame[SCALE_MSE].to_numpy(), frame, by, "rmsse")
    return np.sqrt(msse)


def smape(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
    """M4 sMAPE on 0-200: ``200 * |y - f| / (|y| + |f|)``, 0 where ``y == f == 0``."""
    _need(frame, [Y, POINT], "smape")
    y = frame[Y].to_numpy(dtype="float64")
    f = frame[POINT].to_numpy(dtype="float64")
    denom = np.abs(y) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.where(denom == 0, 0.0, 200.0 * np.abs(y - f) / denom)
    return _group_mean(vals, frame, by, "smape")


def bias(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
    """Relative mean error ``mean(p50 - y) / mean(|y|)``: > 0 over-forecasts; NaN if all ``y`` are 0."""
    _need(frame, [Y, POINT], "bias")
    err = _group_mean(_error(frame), frame, by, "bias")
    level = _group_mean(frame[Y].abs(), frame, by, "bias")
    return err / level.where(level != 0)


def pinball(q: float) -> Metric:
    """Mean pinball (quantile) loss of column ``quantile_col(q)``, in the series' units."""
    col = quantile_col(q)

    def metric(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
        _need(frame, [Y, col], metric.__name__)
        diff = frame[Y].to_numpy(dtype="float64") - frame[col].to_numpy(dtype="float64")
        loss = np.maximum(q * diff, (q - 1.0) * diff)
        return _group_mean(loss, frame, by, metric.__name__)

    metric.__name__ = f"pinball_{col}"
    return metric


def coverage(lo: float, hi: float) -> Metric:
    """Share of actuals inside ``[quantile_col(lo), quantile_col(hi)]`` (nominal: ``hi - lo``)."""
    lo_col, hi_col = quantile_col(lo), quantile_col(hi)

    def metric(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
        _need(frame, [Y, lo_col, hi_col], metric.__name__)
        inside = (frame[Y] >= frame[lo_col]) & (frame[Y] <= frame[hi_col])
        return _group_mean(inside.to_numpy(), frame, by, metric.__name__)

    metric.__name__ = f"coverage_{lo_col}_{hi_col}"
    return metric


def below(q: float) -> Metric:
    """Share of actuals at or below ``quantile_col(q)``: the one-sided interval's coverage (nominal ``q``),
    named ``coverage_<col>``."""
    col = quantile_col(q)

    def metric(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
        _need(frame, [Y, col], metric.__name__)
        return _group_mean((frame[Y] <= frame[col]).to_numpy(), frame, by, metric.__name__)

    metric.__name__ = f"coverage_{col}"
    return metric


def crps(quantiles: Sequence[float]) -> Metric:
    """Quantile-approximated CRPS: ``2 * mean_q pinball_q`` over ``quantiles`` (GIFT-Eval's mean
    weighted quantile loss before scaling), in the series' units."""
    qs = sorted({round(float(q), 10) for q in quantiles})
    cols = [quantile_col(q) for q in qs]

    def metric(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
        _need(frame, [Y, *cols], "crps")
        y = frame[Y].to_numpy(dtype="float64")
        total = np.zeros(len(frame))
        for q, col in zip(qs, cols, strict=True):
            diff = y - frame[col].to_numpy(dtype="float64")
            total += np.maximum(q * diff, (q - 1.0) * diff)
        return _group_mean(2.0 * total / len(qs), frame, by, "crps")

    metric.__name__ = "crps"
    return metric


RATIO_CLIP = (1e-3, 1e3)


def geometric_mean_ratio(values: Sequence[float], baseline: Sequence[float]) -> tuple[float, int]:
    """``(geometric mean of values / baseline, series used)`` under the rule of the module docstring:
    pairs with a baseline 0, NaN or infinite, or a NaN value, are left out; ratios clipped to
    :data:`RATIO_CLIP`. NaN when no pair is left."""
    v = np.asarray(values, dtype="float64")
    b = np.asarray(baseline, dtype="float64")
    ok = np.isfinite(b) & (b != 0) & ~np.isnan(v)
    if not ok.any():
        return float("nan"), 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(np.abs(v[ok] / b[ok]), *RATIO_CLIP)
    return float(np.exp(np.mean(np.log(ratio)))), int(ok.sum())


def relative_scores(
    metrics: pd.DataFrame, metric: str = "mase", baseline: str = "seasonal_naive"
) -> pd.DataFrame:
    """Per model: ``model, rel_<metric>, rel_<metric>_series``: the geometric mean over series of
    the model's ``metric`` divided by ``baseline``'s on the same series (the baseline scores 1)."""
    _need(metrics, [ID, MODEL, metric], f"rel_{metric}")
    wide = metrics.pivot_table(index=ID, columns=MODEL, values=metric, aggfunc="first", dropna=False)
    rows = []
    for model in wide.columns:
        base = wide[baseline] if baseline in wide else pd.Series(np.nan, index=wide.index)
        value, used = geometric_mean_ratio(wide[model], base)
        rows.append({MODEL: model, f"rel_{metric}": value, f"rel_{metric}_series": used})
    return pd.DataFrame(rows, columns=[MODEL, f"rel_{metric}", f"rel_{metric}_series"])


def coverage_errors(metrics: pd.DataFrame, by: Sequence[str] = (MODEL,)) -> pd.DataFrame:
    """Per ``by``: ``coverage_error_<interval>`` = mean over series of ``|coverage - nominal|`` for
    every coverage column of ``metrics`` (nominal read from its name, as :func:`interval_nominals`)."""
    nominal = {}
    for col in metrics.columns:
        parts = col.split("_")[1:] if col.startswith("coverage_p") else []
        qs = [quantile_from_col(p) for p in parts]
        if len(qs) == 2:
            nominal[col] = qs[1] - qs[0]
        elif len(qs) == 1:
            nominal[col] = qs[0]
    errors = pd.DataFrame({f"coverage_error_{c[len('coverage_') :]}": (metrics[c] - n).abs()
                           for c, n in nominal.items()})  # fmt: skip
    errors[list(by)] = metrics[list(by)]
    return errors.groupby(list(by), observed=True).mean().reset_index()


def interval_nominals(quantiles: Sequence[float]) -> dict[str, float]:
    """Every configured interval's coverage metric and its nominal level: each central interval
    (``coverage_p10_p90``: 0.8) and each upper quantile without a lower partner (``coverage_p95``: 0.95)."""
    qs = sorted({round(float(q), 10) for q in quantiles})
    out = {f"coverage_{quantile_col(q)}_{quantile_col(1 - q)}": round(1 - 2 * q, 10)
           for q in qs if q < 0.5 and round(1 - q, 10) in qs}  # fmt: skip
    out.update({f"coverage_{quantile_col(q)}": q for q in qs if q > 0.5 and round(1 - q, 10) not in qs})
    return out


def msis(alpha: float = 0.05) -> Metric:
    """M4 mean scaled interval score of the ``1 - alpha`` interval (columns ``alpha/2``, ``1 - alpha/2``).

    Per row ``(hi - lo) + 2/alpha * (lo - y) * [y < lo] + 2/alpha * (y - hi) * [y > hi]``,
    divided by ``scale_mae`` (the in-sample seasonal naive MAE, as MASE), averaged.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    lo_col, hi_col = quantile_col(alpha / 2), quantile_col(1 - alpha / 2)

    def metric(frame: pd.DataFrame, by: Sequence[str] = (ID, MODEL)) -> pd.Series:
        _need(frame, [Y, lo_col, hi_col, SCALE_MAE], metric.__name__)
        y = frame[Y].to_numpy(dtype="float64")
        lo = frame[lo_col].to_numpy(dtype="float64")
        hi = frame[hi_col].to_numpy(dtype="float64")
        score = (hi - lo) + 2.0 / alpha * ((lo - y) * (y < lo) + (y - hi) * (y > hi))
        return _group_mean(score / frame[SCALE_MAE].to_numpy(), frame, by, metric.__name__)

    metric.__name__ = f"msis_{lo_col}_{hi_col}"
    return metric


def default_metrics(quantiles: Sequence[float]) -> list[Metric]:
    """``mae, mase, rmsse, smape, bias``, a pinball per quantile, ``crps``, coverage and MSIS per central interval,
    and the one-sided coverage of each upper quantile without a lower partner."""
    qs = sorted({round(float(q), 10) for q in quantiles})
    out: list[Metric] = [mae, mase, rmsse, smape, bias]
    out += [pinball(q) for q in qs] + [crps(qs)]
    pairs = [q for q in qs if q < 0.5 and round(1 - q, 10) in qs]
    out += [coverage(q, 1 - q) for q in pairs]
    out += [below(q) for q in qs if q > 0.5 and round(1 - q, 10) not in qs]
    out += [msis(2 * q) for q in pairs]
    return out


def _scale_kernel(train: pd.DataFrame, lag: int) -> pd.DataFrame:
    """Per row: running count, sum |d| and sum d^2 of the lag-``lag`` differences, per series."""
    d = train[Y] - train.groupby(ID, sort=False, observed=True)[Y].shift(lag)
    ok = d.notna()
    parts = pd.DataFrame({"c": ok.astype("float64"), "a": d.abs().where(ok, 0.0), "s": (d**2).where(ok, 0.0)})
    cum = parts.groupby(train[ID], sort=False, observed=True).cumsum()
    with np.errstate(divide="ignore", invalid="ignore"):
        mae_ = cum["a"] / cum["c"]
        mse_ = cum["s"] / cum["c"]
    return pd.DataFrame({"mae": mae_, "mse": mse_}, index=train.index)


def seasonal_scale(train: pd.DataFrame, season: int, cutoffs: pd.DataFrame | None = None) -> pd.DataFrame:
    """In-sample naive scales per series and cutoff: ``unique_id, cutoff, scale_mae, scale_mse``.

    ``scale_mae`` is ``mean |y_t - y_{t-season}|`` over the training rows with ``ds <= cutoff``
    (``scale_mse`` the mean square). Falls back to lag 1 where the seasonal value is 0 or
    undefined, then to NaN (see the module docstring). ``cutoffs`` (``unique_id, cutoff``)
    defaults to each series' last ``ds``; a cutoff between rows uses the last row before it.
    """
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")
    tr = train[[ID, DS, Y]].sort_values([ID, DS], kind="stable").reset_index(drop=True)
    seasonal, lag1 = _scale_kernel(tr, season), _scale_kernel(tr, 1)
    for col in ("mae", "mse"):
        use_lag1 = ~(seasonal[col] > 0)
        tr[f"scale_{col}"] = seasonal[col].where(~use_lag1, lag1[col])
        tr[f"scale_{col}"] = tr[f"scale_{col}"].where(tr[f"scale_{col}"] > 0)
    if cutoffs is None:
        cutoffs = tr.groupby(ID, sort=False, observed=True)[DS].max().rename(CUTOFF).reset_index()
    left = cutoffs[[ID, CUTOFF]].drop_duplicates().sort_values(CUTOFF, kind="stable")
    left[ID] = left[ID].astype(tr[ID].dtype)
    right = tr[[ID, DS, SCALE_MAE, SCALE_MSE]].sort_values(DS, kind="stable")
    out = pd.merge_asof(left, right, left_on=CUTOFF, right_on=DS, by=ID, direction="backward")
    return out[[ID, CUTOFF, SCALE_MAE, SCALE_MSE]].sort_values([ID, CUTOFF], ignore_index=True)


def _bucketed(frame: pd.DataFrame, buckets: Sequence[tuple[int, int]]) -> pd.DataFrame:
    """Rows of ``frame`` per horizon bucket (inclusive step ranges), labelled ``'1-24'``; others dropped."""
    parts = []
    for lo, hi in buckets:
        if not 1 <= lo <= hi:
            raise ValueError(f"horizon bucket ({lo}, {hi}) must satisfy 1 <= start <= end")
        part = frame[(frame[STEP] >= lo) & (frame[STEP] <= hi)].copy()
        part[HORIZON] = f"{lo}-{hi}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def score(
    frame: pd.DataFrame,
    metrics: Sequence[Metric],
    by: Sequence[str] = (ID, MODEL),
    horizon_buckets: Sequence[tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Apply ``metrics`` to a frame that already has its scale columns (and ``step`` if bucketed).

    Returns wide: ``by`` [+ ``horizon``], ``n`` (rows scored), one column per metric.
    """
    by = list(by)
    if horizon_buckets:
        _need(frame, [STEP], "horizon buckets")
        frame = _bucketed(frame, horizon_buckets)
        by = [*by, HORIZON]
    if frame.empty:
        raise ValueError("nothing to score: the frame has no rows (in the chosen horizon buckets)")
    cols = [frame.groupby(by, sort=True, observed=True, dropna=False).size().rename(N)]
    cols += [m(frame, by) for m in metrics]
    return pd.concat(cols, axis=1).reset_index()


def evaluate(
    backtest_frame: pd.DataFrame,
    train_df: pd.DataFrame,
    metrics: Sequence[Metric] | None = None,
    season: int = 1,
    quantiles: Sequence[float] | None = None,
    by: Sequence[str] = (ID, MODEL),
    horizon_buckets: Sequence[tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Score a backtest frame: one row per ``by`` (and horizon bucket), one column per metric.

    ``train_df`` is the history the backtest was cut from (``unique_id, ds, y``); each row's
    scale uses only ``train_df`` rows up to that row's ``cutoff``. ``metrics`` defaults to
    :func:`default_metrics` of ``quantiles`` (default: the quantile columns present).
    ``horizon_buckets`` are inclusive step ranges such as ``[(1, 24), (25, 48)]``.
    (Seven parameters: two frames and five independent, defaulted scoring options, as
    utilsforecast's ``evaluate`` takes them; an options object would only rename them.)
    """
    if metrics is None:
        if quantiles is None:
            quantiles = [quantile_from_col(c) for c in quantile_columns(backtest_frame)]
        metrics = default_metrics(quantiles)
    cutoffs = backtest_frame[[ID, CUTOFF]].drop_duplicates() if CUTOFF in backtest_frame else None
    scales = seasonal_scale(train_df, season, cutoffs)
    keys = [ID, CUTOFF] if cutoffs is not None else [ID]
    frame = backtest_frame.merge(scales[[*keys, SCALE_MAE, SCALE_MSE]], on=keys, how="left")
    frame[STEP] = horizon_step(frame)
    return score(frame, metrics, by, horizon_buckets)
