"""Typed config, frame contracts and errors: the only package every stage imports."""

from .config import Config, config_from_dict, config_hash, load_config
from .contracts import DEFAULT_QUANTILES, quantile_col, quantile_cols
from .errors import CapplanError, ConfigError, InputError, SeriesError, WarehouseLockedError

__all__ = [
    "Config",
    "load_config",
    "config_from_dict",
    "config_hash",
    "quantile_col",
    "quantile_cols",
    "DEFAULT_QUANTILES",
    "CapplanError",
    "ConfigError",
    "InputError",
    "SeriesError",
    "WarehouseLockedError",
]
