"""Model names -> adapters. Building a model imports no heavy library (Darts loads on fit).

``build_model(name, spec)`` returns a fresh, unfitted Forecaster; ``"ensemble"`` is the median of
:data:`DEFAULT_ENSEMBLE`; the pipeline builds its own from backtest winners with
:func:`build_ensemble`. ``has_native_intervals(name)`` reads the class's ``native_intervals`` flag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from capplan.core.errors import ModelError

from .base import Forecaster, ModelSpec
from .ensemble import EnsembleForecaster
from .gbm import LightGBM, LightGBMLog, LightGBMQuantile
from .naive import SeasonalNaive
from .neural import NHiTS
from .profile import SeasonalProfile
from .statistical import ETS, Theta

DEFAULT_ENSEMBLE: tuple[str, ...] = ("seasonal_profile", "ets", "lightgbm")

_CLASSES: dict[str, type] = {
    "seasonal_naive": SeasonalNaive,
    "seasonal_profile": SeasonalProfile,
    "ets": ETS,
    "theta": Theta,
    "lightgbm": LightGBM,
    "lightgbm_log": LightGBMLog,
    "lightgbm_quantile": LightGBMQuantile,
    "nhits": NHiTS,
    "ensemble": EnsembleForecaster,
}
_BUILDERS: dict[str, Callable[[ModelSpec], Forecaster]] = {
    **_CLASSES,
    "ensemble": lambda spec: build_ensemble(DEFAULT_ENSEMBLE, spec),
}


def available_models() -> tuple[str, ...]:
    """Every name :func:`build_model` accepts, simplest first."""
    return tuple(_BUILDERS)


def _known(name: str) -> None:
    if name not in _BUILDERS:
        raise ModelError(f"unknown model {name!r}; expected one of {', '.join(_BUILDERS)}")


def build_model(name: str, spec: ModelSpec) -> Forecaster:
    """A fresh unfitted adapter for ``name``; ModelError listing the known names otherwise."""
    _known(name)
    return _BUILDERS[name](spec)


def model_class(name: str) -> type:
    """The adapter class behind ``name`` (nothing is built or fitted); ModelError if unknown."""
    _known(name)
    return _CLASSES[name]


def has_native_intervals(name: str) -> bool:
    """Whether model ``name`` produces its own calibrated intervals (no split-conformal needed).

    Read from the class attribute ``native_intervals`` without building or fitting the model;
    ModelError if the name is unknown or its class does not declare the flag.
    """
    flag = getattr(model_class(name), "native_intervals", None)
    if not isinstance(flag, bool):
        raise ModelError(f"model {name!r} does not declare native_intervals (a bool class attribute)")
    return flag


def build_ensemble(
    names: Sequence[str], spec: ModelSpec, weights: Mapping[str, float] | None = None
) -> EnsembleForecaster:
    """An ensemble of fresh members built by name (``"ensemble"`` itself is not a valid member)."""
    if "ensemble" in names:
        raise ModelError("an ensemble cannot contain 'ensemble'")
    return EnsembleForecaster([build_model(n, spec) for n in names], weights)
