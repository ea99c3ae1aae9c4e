"""Forecasting models behind one protocol (see ``models/base.py``)."""
from .base import Covariates, Forecaster, ModelSpec

__all__ = ["Covariates", "Forecaster", "ModelSpec"]
