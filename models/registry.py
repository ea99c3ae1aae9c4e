"""Model names -> adapters. Building a model imports no heavy library (Darts loads on fit).

``build_model(name, spec)`` returns a fresh, unfitted Forecaster; ``"ensemble"`` is the median of
:data:`DEFAULT_ENSEMBLE`; the pipeline builds its own from backtest winners with
:func:`build_ensemble`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from capplan.core.errors import ModelError

from .base import Forecaster, ModelSpec
from .ensemble import EnsembleForecaster
from .gbm import LightGBM
from .naive import SeasonalNaive
from .neural import NHiTS
from .profile import SeasonalProfile
from .statistical import ETS, Theta

DEFAULT_ENSEMBLE: tuple[str, ...] = ("seasonal_profile", "ets", "lightgbm")

_BUILDERS: dict[str, Callable[[ModelSpec], Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "seasonal_profile": SeasonalProfile,
    "ets": ETS,
    "theta": Theta,
    "lightgbm": LightGBM,
    "nhits": NHiTS,
    "ensemble": lambda spec: build_ensemble(DEFAULT_ENSEMBLE, spec),
}


def available_models() -> tuple[str, ...]:
    """Every name :func:`build_model` accepts, simplest first."""
    return tuple(_BUILDERS)


def build_model(name: str, spec: ModelSpec) -> Forecaster:
    """A fresh unfitted adapter for ``name``; ModelError listing the known names otherwise."""
    if name not in _BUILDERS:
        raise ModelError(f"unknown model {name!r}; expected one of {', '.join(_BUILDERS)}")
    return _BUILDERS[name](spec)


def build_ensemble(
    names: Sequence[str], spec: ModelSpec, weights: Mapping[str, float] | None = None
) -> EnsembleForecaster:
    """An ensemble of fresh members built by name (``"ensemble"`` itself is not a valid member)."""
    if "ensemble" in names:
        raise ModelError("an ensemble cannot contain 'ensemble'")
    return EnsembleForecaster([build_model(n, spec) for n in names], weights)
