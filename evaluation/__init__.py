"""Evaluation: rolling-origin splits, backtests, metrics, champion choice, forecast ledger.

Split (:mod:`.splits`), generate (:mod:`.backtest`), score (:mod:`.metrics`): three steps, so
a new metric means rescoring a stored backtest frame, never retraining.
"""

from .backtest import apply_conformal, backtest, conformal_quantiles, horizon_step, repair_quantiles
from .champion import choose_champions
from .engine import GroupResult, TrainParams, forecast_group, train_group
from .ledger import flag_degradation, score_forecasts, score_vintages
from .metrics import default_metrics, evaluate, seasonal_scale
from .splits import backtest_splits, plan_folds, rolling_origin_cutoffs

__all__ = [
    "GroupResult",
    "TrainParams",
    "forecast_group",
    "train_group",
    "apply_conformal",
    "backtest",
    "backtest_splits",
    "choose_champions",
    "conformal_quantiles",
    "default_metrics",
    "evaluate",
    "flag_degradation",
    "horizon_step",
    "plan_folds",
    "repair_quantiles",
    "rolling_origin_cutoffs",
    "score_forecasts",
    "score_vintages",
    "seasonal_scale",
]
