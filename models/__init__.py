"""Forecasting models behind one protocol (see ``models/base.py``).

Importing this package is cheap: Darts, LightGBM and torch are imported inside ``fit``/``predict``.
"""

from .base import Covariates, Forecaster, ModelSpec
from .ensemble import EnsembleForecaster
from .registry import (
    DEFAULT_ENSEMBLE,
    available_models,
    build_ensemble,
    build_model,
    has_native_intervals,
)

__all__ = [
    "Covariates",
    "Forecaster",
    "ModelSpec",
    "EnsembleForecaster",
    "DEFAULT_ENSEMBLE",
    "available_models",
    "build_ensemble",
    "build_model",
    "has_native_intervals",
]
