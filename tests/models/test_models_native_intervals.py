"""Every registered model declares whether its own quantiles are calibrated intervals."""

from __future__ import annotations

import pytest

from capplan.core.errors import ModelError
from capplan.models import available_models, has_native_intervals
from capplan.models.registry import model_class

EXPECTED = {
    "seasonal_naive": False,
    "seasonal_profile": False,
    "ets": True,
    "theta": False,
    "lightgbm": False,
    "lightgbm_log": False,
    "lightgbm_quantile": True,
    "nhits": True,
    "ensemble": False,
}


def test_every_registered_model_is_listed_here():
    assert set(available_models()) == set(EXPECTED)


@pytest.mark.parametrize("name", available_models())
def test_each_model_class_declares_the_flag(name):
    cls = model_class(name)
    declared = next((vars(c) for c in cls.__mro__ if "native_intervals" in vars(c)), None)
    assert declared is not None, f"{cls.__name__} ({name}) does not declare native_intervals"
    assert isinstance(declared["native_intervals"], bool), name
    assert has_native_intervals(name) is EXPECTED[name]


def test_unknown_name_and_missing_flag_raise(monkeypatch):
    with pytest.raises(ModelError, match="unknown model"):
        has_native_intervals("prophet")

    class Bare:
        name = "bare"

    from capplan.models import registry

    monkeypatch.setitem(registry._CLASSES, "bare", Bare)
    monkeypatch.setitem(registry._BUILDERS, "bare", Bare)
    with pytest.raises(ModelError, match="does not declare native_intervals"):
        has_native_intervals("bare")
