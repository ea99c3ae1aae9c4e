"""Frame contracts shared by every stage.

Invariants (checked at the ingest boundary, relied on everywhere after it):

* One long frame: ``unique_id`` (str), ``ds`` (UTC, tz-naive ``datetime64``, on the series'
  grid), ``y`` (float64, finite). Backtests add ``cutoff`` (the last timestamp the model saw)
  and ``model``.
* ``unique_id`` is ``service:metric`` or ``service:metric:region``; the ``series`` table maps it
  back to ``service``, ``metric``, ``region``, ``unit``, ``kind`` and ``frequency``.
  Users see ``service``, ``metric`` and ``ts``; frames and tables use ``unique_id``/``ds``/``y``.
* Quantile columns are named by :func:`quantile_col` only (0.1 -> ``p10``, 0.975 -> ``p97.5``).
  Every model returns all configured quantiles, monotone in the quantile level, never NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ID = "unique_id"
DS = "ds"
Y = "y"
CUTOFF = "cutoff"
MODEL = "model"

SERIES_COLUMNS = ("unique_id", "service", "metric", "region", "unit", "kind", "frequency")
METRIC_KINDS = ("gauge", "counter", "rate")
RESOURCES = ("cpu", "memory", "storage", "network", "rps")
DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9, 0.95, 0.99)


def quantile_col(q: float) -> str:
    """The one name of a quantile column: 0.1 -> 'p10', 0.5 -> 'p50', 0.975 -> 'p97.5'."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be strictly between 0 and 1, got {q!r}")
    pct = round(q * 100, 6)
    text = f"{pct:.6f}".rstrip("0").rstrip(".")
    return f"p{text}"


def quantile_cols(qs: Iterable[float]) -> list[str]:
    return [quantile_col(q) for q in qs]


def quantile_from_col(name: str) -> float:
    if not name.startswith("p"):
        raise ValueError(f"not a quantile column: {name!r}")
    return float(name[1:]) / 100.0


def make_unique_id(service: str, metric: str, region: str | None = None) -> str:
    if region is None or region == "" or region != region:  # NaN check
        return f"{service}:{metric}"
    return f"{service}:{metric}:{region}"


def split_unique_id(uid: str) -> tuple[str, str, str | None]:
    parts = uid.split(":")
    if len(parts) == 2:
        return parts[0], parts[1], None
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError(f"unique_id {uid!r} is not 'service:metric[:region]'")


def quantile_columns(columns: Iterable[str]) -> list[str]:
    """The quantile columns among ``columns`` (``p10``, ``p50``...), ordered by quantile level."""
    found = []
    for col in columns:
        try:
            q = quantile_from_col(str(col))
        except ValueError:
            continue
        if 0.0 < q < 1.0 and quantile_col(q) == col:
            found.append((q, col))
    return [col for _, col in sorted(found)]


def sorted_quantiles(qs: Sequence[float]) -> tuple[float, ...]:
    out = tuple(sorted({float(q) for q in qs}))
    for q in out:
        quantile_col(q)
    return out


# Seasonal periods in steps for each planning frequency: (main, *extra). Hourly data has a
# daily (24) and a weekly (168) cycle; 5-minute data a daily cycle of 288 steps; daily data a
# weekly cycle of 7.
SEASONALITIES: dict[str, tuple[int, ...]] = {
    "min": (1440,),
    "5min": (288, 2016),
    "10min": (144, 1008),
    "15min": (96, 672),
    "30min": (48, 336),
    "h": (24, 168),
    "D": (7, 365),
    "7D": (52,),
}


def frequency_step(freq: str):
    """One step of a pandas frequency alias as a ``pd.Timedelta`` ('5min', 'h', 'D', '7D')."""
    import pandas as pd

    return pd.Timedelta(pd.tseries.frequencies.to_offset(freq))


def seasonalities(freq: str) -> tuple[int, ...]:
    """Seasonal periods (in steps) for ``freq``; the first is the main one."""
    if freq not in SEASONALITIES:
        raise ValueError(
            f"no seasonal period known for frequency {freq!r}; known: {', '.join(SEASONALITIES)}"
        )
    return SEASONALITIES[freq]


@dataclass(frozen=True)
class ModelSpec:
    """What every model needs to know about the data it forecasts."""

    freq: str  # pandas alias: 'min', '5min', 'h', 'D'
    season_length: int  # main seasonal period in steps (24 for hourly data)
    quantiles: Sequence[float] = (0.1, 0.5, 0.9, 0.95, 0.99)
    seasonalities: Sequence[int] = field(default_factory=tuple)  # extra periods (168 for weekly on hourly)
    seed: int = 42
    epochs: int = 15  # torch models only
    clip_outliers: bool = True  # models with robust_training clip short spikes from their training data


@dataclass(frozen=True)
class Covariates:
    future: pd.DataFrame | None = None  # unique_id, ds, feature columns; known ahead
    past: pd.DataFrame | None = None  # unique_id, ds, feature columns; known up to the origin only

    def truncate_past(self, cutoff: pd.Timestamp) -> Covariates:
        if self.past is None:
            return self
        return Covariates(future=self.future, past=self.past[self.past["ds"] <= cutoff])

    def select(self, uids) -> Covariates:
        """The rows of the series ``uids`` only (a batch's covariates)."""
        keep = set(uids)
        future, past = self.future, self.past
        return Covariates(
            future=None if future is None else future[future["unique_id"].isin(keep)].reset_index(drop=True),
            past=None if past is None else past[past["unique_id"].isin(keep)].reset_index(drop=True),
        )
