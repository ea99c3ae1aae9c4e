"""Fixtures for the model tests: small synthetic hourly panels (seconds, not minutes)."""

from __future__ import annotations

import pandas as pd
import pytest
from models_synthetic import make_panel


@pytest.fixture(scope="session")
def panel() -> pd.DataFrame:
    return make_panel()
