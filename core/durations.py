"""Durations, frequencies and time zones as a config states them, checked with bounds.

Upper bounds on work a config (or a command-line flag) can ask for: a horizon of 10^9 steps or an
infinite lock wait is a mistake, reported as one, never attempted.
"""

from __future__ import annotations

import re

from .contracts import frequency_step
from .errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*(min|h|D|W)\s*$")

MAX_HORIZON_STEPS = 50_000  # steps of the series' frequency (14D of 1-minute data is 20,160)
MAX_DURATION_DAYS = 3_660  # about ten years, for horizons and training windows given as durations
MAX_WINDOW_STEPS = 1_000_000  # train_window given in steps
MAX_LOCK_TIMEOUT_S = 600.0


def check_timezone(tz: str) -> str:
    """``tz`` if it names an IANA time zone (``UTC``, ``Europe/Paris``), else a ValueError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{tz!r} is not a known time zone (an IANA name like 'UTC' or 'Europe/Paris')"
        ) from None
    return tz


def check_frequency(freq: str, what: str = "frequency") -> str:
    """``freq`` if it is one of the frequencies capplan models, else a ValueError naming them."""
    from .contracts import SEASONALITIES

    if freq not in SEASONALITIES:
        raise ValueError(f"{what} {freq!r} is not a known frequency; use one of {', '.join(SEASONALITIES)}")
    return freq


def check_steps_or_duration(value: int | str, what: str, max_steps: int) -> int | str:
    """A positive number of steps (at most ``max_steps``) or a duration of at most ten years."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be steps or a duration like '14D', not a boolean")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("+-").isdigit()):
        n = int(value)
        if not 1 <= n <= max_steps:
            raise ValueError(f"{what} must be between 1 and {max_steps:,} steps, found {n}")
        return n
    n, unit = parse_duration(value)
    days = n * {"min": 1 / 1440, "h": 1 / 24, "D": 1, "W": 7}[unit]
    if days > MAX_DURATION_DAYS:
        raise ValueError(f"{what} {value!r} is longer than {MAX_DURATION_DAYS:,} days")
    return value


def parse_duration(text: str) -> tuple[int, str]:
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"{text!r} is not a positive duration like '48h', '14D', '90D', '30min', '2W'")
    return int(m.group(1)), m.group(2)


def horizon_steps(horizon: int | str, freq: str, max_steps: int | None = MAX_HORIZON_STEPS) -> int:
    """Steps of ``freq`` in ``horizon`` (an int is already steps; '14D' on 'h' is 336).

    More than ``max_steps`` steps (None: no limit) is a :class:`ConfigError`: such a horizon
    would not fit in memory, so it is refused with the number rather than attempted.
    """
    if isinstance(horizon, int) or str(horizon).strip().isdigit():
        steps = int(horizon)
    else:
        import pandas as pd

        n, unit = parse_duration(horizon)
        total = pd.Timedelta(n, unit=unit) if unit != "W" else pd.Timedelta(weeks=n)
        steps = int(total / frequency_step(freq))
        if steps < 1:
            raise ValueError(f"horizon {horizon!r} is shorter than one {freq!r} step")
    if max_steps is not None and steps > max_steps:
        raise ConfigError(
            f"horizon {horizon!r} is {steps:,} steps of {freq!r}; at most {max_steps:,} steps are allowed"
        )
    return steps


def cli_horizon(text: str | None) -> int | str | None:
    """A ``--horizon`` flag checked like ``[forecast] horizon``; a ConfigError names the flag."""
    if text is None:
        return None
    try:
        return check_steps_or_duration(text.strip(), "--horizon", MAX_HORIZON_STEPS)
    except ValueError as err:
        raise ConfigError(f"{err}; e.g. --horizon 48 or --horizon 14D") from None
