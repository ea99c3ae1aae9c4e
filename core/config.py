"""One typed config file, ``capplan.toml``.

Parsed with :mod:`tomllib` into frozen pydantic models with ``extra="forbid"``: a misspelt key
fails at load time with the key's dotted name and the file. Relative paths resolve against the
config file's folder (see :meth:`Config.resolve`). Nothing here touches the warehouse or imports
heavy libraries.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .contracts import DEFAULT_QUANTILES, METRIC_KINDS, frequency_step, quantile_col
from .errors import ConfigError

SourceKind = Literal["metrics", "kpis", "events", "inventory", "loadtests"]
SourceFormat = Literal["csv", "parquet", "csv_wide", "prometheus", "cloudwatch"]

_DURATION = re.compile(r"^\s*(\d+)\s*(min|h|D|W)\s*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseConfig(_Model):
    path: str = "data/warehouse.duckdb"
    lock_timeout_s: float = Field(5.0, ge=0, description="wait this long for another writer")


class MetricSpec(_Model):
    kind: Literal["gauge", "counter", "rate"] = "gauge"
    unit: str | None = None
    resource: str | None = Field(None, description="inventory resource this metric consumes")


DEFAULT_METRICS: dict[str, MetricSpec] = {
    "cpu": MetricSpec(kind="gauge", unit="cores", resource="cpu"),
    "memory": MetricSpec(kind="gauge", unit="GiB", resource="memory"),
    "storage": MetricSpec(kind="gauge", unit="GiB", resource="storage"),
    "network": MetricSpec(kind="rate", unit="Mbps", resource="network"),
    "rps": MetricSpec(kind="rate", unit="req/s", resource="rps"),
    "requests": MetricSpec(kind="counter", unit="requests", resource=None),
}


class SourceConfig(_Model):
    """One ``[[sources]]`` entry: ``name``, ``kind``, ``path`` (a glob), ``format``, options."""

    name: str
    kind: SourceKind
    path: str
    format: SourceFormat = "csv"
    timezone: str = Field("UTC", description="zone of timestamps that carry no offset")
    # Prometheus query_range: which labels name the service, metric and region.
    service_label: str = "service"
    metric_label: str = "__name__"
    region_label: str | None = "region"
    # CloudWatch get-metric-data: Label (or Id) parsed as 'service<sep>metric[<sep>region]'.
    label_separator: str = ":"
    # Fallbacks for inputs that carry no unit / region column.
    unit: str | None = None
    region: str | None = None
    retries: int = Field(2, ge=0, le=10, description="retries on I/O errors only")

    @model_validator(mode="after")
    def _format_fits_kind(self) -> SourceConfig:
        if self.kind != "metrics" and self.format in ("csv_wide", "prometheus", "cloudwatch"):
            raise ValueError(f"source {self.name!r}: format {self.format!r} is only for kind 'metrics'")
        return self


class IngestConfig(_Model):
    grid_rule: Literal["floor", "round", "ceil"] = Field(
        "floor", description="how an off-grid timestamp (:27 in a 5-minute series) is put on the grid"
    )
    frequencies: dict[str, str] = Field(
        default_factory=dict, description="unique_id -> frequency, overriding the inferred one"
    )
    allow_negative_metrics: list[str] = Field(default_factory=list)


def parse_duration(text: str) -> tuple[int, str]:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration like '48h', '14D', '90D', '30min', '2W'")
    return int(m.group(1)), m.group(2)


class BacktestConfig(_Model):
    folds: int = Field(3, ge=1, le=50)
    stride: int | None = Field(None, ge=1, description="steps between cutoffs (default: the horizon)")


class ForecastConfig(_Model):
    horizon: int | str = "14D"
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    frequency: str | None = Field(
        None, description="planning frequency: 'h', 'D', ... (default: each series' own)"
    )
    peak: Literal["max", "p95", "mean"] = Field("max", description="gauge aggregation when resampling up")
    models: tuple[str, ...] = ("seasonal_naive", "ets", "theta", "lightgbm", "nhits", "ensemble")
    min_history: int = Field(3, ge=2, description="seasons of history a model needs before it is tried")
    backtest: BacktestConfig = BacktestConfig()
    degradation_threshold: float = Field(0.25, ge=0, description="relative worsening that flags a retrain")
    torch_epochs: int = Field(15, ge=1)
    seed: int = 42
    fill: Literal["interpolate", "seasonal", "zero", "error"] = Field(
        "interpolate", description="how gaps are filled before fitting (never at ingest)"
    )
    train_window: int | str | None = Field(
        "120D", description="history used to fit (steps or duration); None uses all history"
    )
    stale_after: int = Field(
        48, ge=1, description="steps behind the newest data before a series counts as stopped"
    )
    ensemble_size: int = Field(3, ge=2, description="best models (by backtest MASE) combined in the ensemble")

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, qs: tuple[float, ...]) -> tuple[float, ...]:
        out = tuple(sorted(set(qs)))
        for q in out:
            quantile_col(q)
        if 0.5 not in out:
            raise ValueError("quantiles must include 0.5 (the median, used as the point forecast)")
        return out

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, h: int | str) -> int | str:
        if isinstance(h, int):
            if h < 1:
                raise ValueError("horizon must be at least 1 step")
            return h
        if h.strip().isdigit():
            return int(h)
        parse_duration(h)
        return h


def horizon_steps(horizon: int | str, freq: str) -> int:
    """Steps of ``freq`` in ``horizon`` (an int is already steps; '14D' on 'h' is 336)."""
    if isinstance(horizon, int):
        return horizon
    if str(horizon).strip().isdigit():
        return int(horizon)
    import pandas as pd

    n, unit = parse_duration(horizon)
    total = pd.Timedelta(n, unit=unit if unit != "min" else "min") if unit != "W" else pd.Timedelta(weeks=n)
    steps = int(total / frequency_step(freq))
    if steps < 1:
        raise ValueError(f"horizon {horizon!r} is shorter than one {freq!r} step")
    return steps


class MlflowConfig(_Model):
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_location: str = "mlruns/artifacts"
    experiment: str = "capplan"
    register_models: bool = True


class ScenarioConfig(_Model):
    quantile: float = 0.5
    kpi_growth: dict[str, float] = Field(
        default_factory=dict, description="kpi -> relative growth by horizon end"
    )
    demand_multiplier: float = Field(1.0, gt=0)
    event_uplift: dict[str, float] = Field(default_factory=dict, description="event name -> multiplier")
    description: str = ""


DEFAULT_SCENARIOS = {
    "conservative": ScenarioConfig(quantile=0.9, description="upper forecast band, business as planned"),
    "expected": ScenarioConfig(quantile=0.5, description="median forecast"),
    "aggressive": ScenarioConfig(
        quantile=0.95, demand_multiplier=1.15, description="p95 and 15% extra growth"
    ),
}


class PlanningConfig(_Model):
    redundancy: Literal["none", "n+1", "zone"] = "n+1"
    zones: int = Field(3, ge=2)
    headroom: float = Field(0.10, ge=0, le=5)
    runway_alert_days: float = Field(30, ge=0)
    rightsizing_utilization: float = Field(0.4, gt=0, le=1)
    rightsizing_window_days: int = Field(28, ge=1)
    latency_slo_ms: dict[str, float] = Field(default_factory=dict, description="service -> p99 latency SLO")
    low_confidence_mase: float = Field(1.0, gt=0)
    expected_scenario: str = Field(
        "expected", description="the scenario the workbook's charts, summary and frontier show"
    )
    scaling_quantile: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="forecast quantile predictive autoscaling sizes for (a [forecast] quantile)",
    )
    lead_time_days: dict[str, float] = Field(
        default_factory=dict,
        description="resource -> days from ordering capacity (hardware, quota, reservation) to having it",
    )


class ExportConfig(_Model):
    out_dir: str = "data/exports"
    formats: tuple[Literal["xlsx", "csv", "html"], ...] = ("xlsx", "csv", "html")


class Config(_Model):
    warehouse: WarehouseConfig = WarehouseConfig()
    ingest: IngestConfig = IngestConfig()
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    sources: tuple[SourceConfig, ...] = ()
    forecast: ForecastConfig = ForecastConfig()
    mlflow: MlflowConfig = MlflowConfig()
    scenarios: dict[str, ScenarioConfig] = Field(default_factory=lambda: dict(DEFAULT_SCENARIOS))
    planning: PlanningConfig = PlanningConfig()
    export: ExportConfig = ExportConfig()
    base_dir: str = Field(".", description="folder relative paths resolve against (set by load_config)")

    @model_validator(mode="after")
    def _unique_sources(self) -> Config:
        names = [s.name for s in self.sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dup)}")
        if not self.scenarios:
            raise ValueError("scenarios: at least one [scenarios.NAME] is needed")
        if self.planning.expected_scenario not in self.scenarios:
            raise ValueError(
                f"planning.expected_scenario {self.planning.expected_scenario!r} is not one of the scenarios "
                f"({', '.join(self.scenarios)}); set it to the scenario planners should see first"
            )
        self._quantiles_are_forecast()
        return self

    def _quantiles_are_forecast(self) -> None:
        """Every quantile a planning step reads must be a forecast quantile."""
        have = self.forecast.quantiles
        need = {f"scenarios.{n}.quantile": sc.quantile for n, sc in self.scenarios.items()}
        need["planning.scaling_quantile"] = self.planning.scaling_quantile
        for key, q in need.items():
            if q not in have:
                raise ValueError(
                    f"{key} = {q:g} is not a forecast quantile; add it to [forecast] quantiles "
                    f"(now {', '.join(f'{x:g}' for x in have)}) or pick one of those"
                )

    def resource_of(self, metric: str) -> str | None:
        """The inventory resource ``metric`` consumes (None: it sizes nothing)."""
        return self.metric_spec(metric).resource

    def metric_spec(self, metric: str) -> MetricSpec:
        if metric in self.metrics:
            return self.metrics[metric]
        return DEFAULT_METRICS.get(metric, MetricSpec())

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (Path(self.base_dir) / p)

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.warehouse.path)


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        if not loc:  # a rule across keys: the message names them
            lines.append(f"  - {e['msg'].removeprefix('Value error, ')}")
        elif e["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{loc}' (check the spelling; see README 'Configuration')")
        else:
            lines.append(f"  - {loc}: {e['msg']} (found {e.get('input')!r})")
    return "\n".join(lines)


def config_from_dict(data: dict, *, source: str = "<config>", base_dir: str | Path = ".") -> Config:
    data = dict(data)
    data.setdefault("base_dir", str(Path(base_dir).resolve()))
    if "sources" in data and isinstance(data["sources"], list):
        data["sources"] = tuple(data["sources"])
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    if "base_dir" in data:
        raise ConfigError(f"{path}: unknown key 'base_dir' (it is set from the file's location)")
    return config_from_dict(data, source=str(path), base_dir=path.resolve().parent)


def config_hash(cfg: Config) -> str:
    import hashlib

    payload = cfg.model_dump_json(exclude={"base_dir"})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


__all__ = [
    "Config",
    "ConfigError",
    "SourceConfig",
    "ForecastConfig",
    "PlanningConfig",
    "ScenarioConfig",
    "MetricSpec",
    "load_config",
    "config_from_dict",
    "config_hash",
    "parse_duration",
    "METRIC_KINDS",
]
