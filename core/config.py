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
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .alerts_config import AlertsConfig
from .batches import DEFAULT_BATCH_SIZE
from .contracts import DEFAULT_QUANTILES, METRIC_KINDS, quantile_col
from .durations import (
    MAX_DURATION_DAYS,
    MAX_HORIZON_STEPS,
    MAX_LOCK_TIMEOUT_S,
    MAX_WINDOW_STEPS,
    check_frequency,
    check_steps_or_duration,
    check_timezone,
    cli_horizon,
    horizon_steps,
    parse_duration,
)
from .errors import ConfigError

SourceKind = Literal["metrics", "kpis", "events", "inventory", "loadtests"]
SourceFormat = Literal["csv", "parquet", "csv_wide", "prometheus", "cloudwatch"]


DEFAULT_MAX_FILE_MB = 2_048.0  # [ingest] max_file_mb: larger inputs are rejected before reading


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class WarehouseConfig(_Model):
    path: str = Field("data/warehouse.duckdb", min_length=1)
    lock_timeout_s: float = Field(
        5.0, ge=0, le=MAX_LOCK_TIMEOUT_S, description="wait this long for another writer (finite, <= 600)"
    )


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
    label_separator: str = Field(":", min_length=1)
    # Fallbacks for inputs that carry no unit / region column.
    unit: str | None = None
    region: str | None = None
    retries: int = Field(2, ge=0, le=10, description="retries on I/O errors only")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, tz: str) -> str:
        return check_timezone(tz)

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
    max_file_mb: float = Field(
        DEFAULT_MAX_FILE_MB, gt=0, le=1_000_000, description="inputs larger than this are rejected unread"
    )
    chunk_rows: int = Field(
        2_000_000,
        ge=1,
        le=100_000_000,
        description="rows read and checked at a time (Parquet is read one chunk at a time); memory, not results",
    )

    @field_validator("frequencies")
    @classmethod
    def _frequencies(cls, freqs: dict[str, str]) -> dict[str, str]:
        for uid, f in freqs.items():
            check_frequency(f, f"frequency of {uid!r}")
        return freqs


class BacktestConfig(_Model):
    folds: int = Field(3, ge=1, le=50)
    stride: int | None = Field(
        None, ge=1, le=MAX_HORIZON_STEPS, description="steps between cutoffs (default: the horizon)"
    )


FAST_MODELS = ("seasonal_naive", "seasonal_profile", "theta", "lightgbm", "ensemble")


class ForecastConfig(_Model):
    horizon: int | str = "14D"
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    frequency: str | None = Field(
        None, description="planning frequency: 'h', 'D', ... (default: each series' own)"
    )
    peak: Literal["max", "p95", "mean"] = Field("max", description="gauge aggregation when resampling up")
    models: tuple[str, ...] = Field(
        FAST_MODELS,
        description="models to backtest; the default set is the fast one (ets and nhits are opt-in: slow on "
        "hundreds of series on CPU)",
    )
    min_history: int = Field(
        3, ge=2, le=1000, description="seasons of history a model needs before it is tried"
    )
    backtest: BacktestConfig = BacktestConfig()
    degradation_threshold: float = Field(0.25, ge=0, description="relative worsening that flags a retrain")
    retrain_after: str = Field(
        "7D", description="age of the champions after which `capplan refresh` retrains (a duration: 7D, 12h)"
    )
    torch_epochs: int = Field(15, ge=1, le=10_000)
    seed: int = 42
    fill: Literal["interpolate", "seasonal", "zero", "error"] = Field(
        "interpolate", description="how gaps are filled before fitting (never at ingest)"
    )
    train_window: int | str | None = Field(
        "120D", description="history used to fit (steps or duration); None uses all history"
    )
    stale_after: int = Field(
        48,
        ge=1,
        le=MAX_WINDOW_STEPS,
        description="steps behind the newest data before a series counts as stopped",
    )
    ensemble_size: int = Field(
        3, ge=2, le=50, description="best models (by backtest MASE) combined in the ensemble"
    )
    clip_outliers: bool = Field(
        True,
        description="lightgbm trains on histories whose short spikes and dips (a quarter season at most) "
        "are clipped to a seasonal band; level shifts are kept, scoring uses the raw actuals",
    )

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, qs: tuple[float, ...]) -> tuple[float, ...]:
        out = tuple(sorted(set(qs)))
        for q in out:
            quantile_col(q)
        if 0.5 not in out:
            raise ValueError("quantiles must include 0.5 (the median, used as the point forecast)")
        return out

    @field_validator("retrain_after")
    @classmethod
    def _retrain_after(cls, v: str) -> str:
        import pandas as pd

        try:
            ok = pd.Timedelta(v) > pd.Timedelta(0)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"retrain_after must be a positive duration like '7D' or '12h', got {v!r}")
        return v

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, h: int | str) -> int | str:
        return check_steps_or_duration(h, "horizon", MAX_HORIZON_STEPS)

    @field_validator("train_window")
    @classmethod
    def _train_window(cls, w: int | str | None) -> int | str | None:
        return None if w is None else check_steps_or_duration(w, "train_window", MAX_WINDOW_STEPS)

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, f: str | None) -> str | None:
        return None if f is None else check_frequency(f, "forecast.frequency")


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
    demand_multiplier: float = Field(1.0, gt=0, le=1000)
    event_uplift: dict[str, float] = Field(default_factory=dict, description="event name -> multiplier")
    kpi_growth_per_quarter: dict[
        str, Annotated[list[Annotated[float, Field(gt=-1, le=10)]], Field(min_length=1)]
    ] = Field(
        default_factory=dict, description="long-range plan: kpi -> growth in each quarter (the last repeats)"
    )
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
    runway_alert_days: float = Field(30, ge=0, le=MAX_DURATION_DAYS)
    rightsizing_utilization: float = Field(0.4, gt=0, le=1)
    rightsizing_window_days: int = Field(28, ge=1, le=MAX_DURATION_DAYS)
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
    long_range_months: int = Field(
        12, ge=0, le=24, description="long-range plan horizon (0: no long-range plan)"
    )
    long_range_resolution: Literal["daily", "weekly"] = "weekly"


class ScalingRule(_Model):
    """One HPA rate policy: at most ``value`` instances (``Pods``) or percent of the count
    (``Percent``) added or removed per ``period_s`` seconds (Kubernetes ``HPAScalingPolicy``)."""

    type: Literal["Pods", "Percent"]
    value: int = Field(ge=1)
    period_s: int = Field(ge=1, le=1800, description="Kubernetes allows 1-1800 s")


_UP_RULES = (
    ScalingRule(type="Percent", value=100, period_s=15),
    ScalingRule(type="Pods", value=4, period_s=15),
)
_DOWN_RULES = (ScalingRule(type="Percent", value=100, period_s=15),)


ScalingPolicyName = Literal["reactive", "predictive", "hybrid", "crane_dsp", "ahpa"]


class AutoscalingPolicy(_Model):
    """One service's autoscaling policy (the ``[autoscaling]`` keys; every key may be overridden
    per service under ``[autoscaling.services.NAME]``). Defaults are Kubernetes' HPA defaults and
    AWS predictive scaling's."""

    mode: Literal["reactive", "predictive", "hybrid"] = "hybrid"  # hybrid = max(predictive, reactive)
    policies: tuple[ScalingPolicyName, ...] = Field(get_args(ScalingPolicyName), min_length=1)  # simulated
    predictor: Literal["seasonal_naive", "crane_dsp", "ahpa"] = "seasonal_naive"  # feeds predictive, hybrid
    dsp_estimator: Literal["maxValue", "fft"] = "maxValue"  # crane_dsp: max of past cycles or FFT low-pass
    min_instances: int = Field(1, ge=0, description="the inventory has no minimum: it is set here")
    max_instances: int | None = Field(None, ge=1, description="default: the inventory's max_instances")
    max_step: int | None = Field(None, ge=1, description="most instances added or removed in one step")
    target_utilization: float | None = Field(
        None, gt=0, le=1, description="target tracking's target (default: the inventory's)"
    )
    tolerance: float = Field(0.1, ge=0, lt=1, description="HPA: no change while |metric/target - 1| <= this")
    scale_up_stabilization_s: int = Field(0, ge=0, le=3600)
    scale_down_stabilization_s: int = Field(300, ge=0, le=3600)
    scale_up_policies: tuple[ScalingRule, ...] = _UP_RULES
    scale_down_policies: tuple[ScalingRule, ...] = _DOWN_RULES
    select_policy: Literal["Max", "Min"] = Field("Max", description="which rate policy applies (HPA)")
    startup_delay_s: int = Field(300, ge=0, description="an instance serves this long after launch")
    warmup_s: int = Field(
        300, ge=0, le=3600, description="predictive launches this long ahead (AWS SchedulingBufferTime)"
    )
    forecast_only: bool = Field(False, description="predictive only reports; capacity follows reactive")
    decision_interval_s: int = Field(3600, ge=0, description="predictive: one count per interval (AWS: 1 h)")
    min_scale_in: int = Field(1, ge=1, description="predictive skips scale-ins of fewer instances")
    forecast_margin: float = Field(0.0, ge=0, le=2, description="predictive sizes forecast x (1 + margin)")
    hybrid_reactive_utilization: float | None = Field(
        None, gt=0, le=1, description="hybrid's reactive target"
    )
    max_capacity_breach: Literal["HonorMaxCapacity", "IncreaseMaxCapacity"] = "HonorMaxCapacity"
    max_capacity_buffer: int = Field(
        0, ge=0, le=100, description="percent above max_instances a forecast may go (IncreaseMaxCapacity)"
    )
    fallback_error: float = Field(0.5, gt=0, description="reactive above this recent forecast error")
    fallback_window_s: int = Field(21600, ge=1, description="how far back the forecast error is measured")
    slo_utilization: float | None = Field(
        None, gt=0, le=1, description="simulate: demand above this share of capacity is under-provisioned"
    )
    forecast_refresh_s: int = Field(21600, ge=1, description="simulate: a new forecast every this long")
    forecast_horizon_s: int = Field(172800, ge=1, description="simulate: each forecast covers this long")
    metric_name: str = Field("http_requests_per_second", description="the HPA Pods metric for rps")
    timezone: str = Field("UTC", description="KEDA cron triggers' timezone")
    keda_failure_threshold: int = Field(3, ge=1, description="KEDA fallback after this many failed reads")

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingPolicy:
        if self.max_instances is not None and self.max_instances < self.min_instances:
            raise ValueError(
                f"autoscaling: max_instances {self.max_instances} is below min_instances {self.min_instances}"
            )
        if not self.scale_up_policies or not self.scale_down_policies:
            raise ValueError("autoscaling: scale_up_policies and scale_down_policies need at least one rule")
        return self


def _override_model() -> type[BaseModel]:
    """The per-service override: every policy key, optional (None = inherit ``[autoscaling]``)."""
    from pydantic import create_model

    fields = {name: (f.annotation | None, None) for name, f in AutoscalingPolicy.model_fields.items()}
    return create_model("AutoscalingOverride", __base__=_Model, **fields)


AutoscalingOverride = _override_model()


class AutoscalingConfig(AutoscalingPolicy):
    """``[autoscaling]``: the default policy and ``[autoscaling.services.NAME]`` overrides."""

    services: dict[str, AutoscalingOverride] = Field(default_factory=dict)  # type: ignore[valid-type]
    replay_days: int = Field(
        28,
        ge=1,
        le=400,
        description="the plan replays the policies on each service's last this many days (last month), "
        "plus the week before that its first forecast looks back on",
    )

    @model_validator(mode="after")
    def _services_valid(self) -> AutoscalingConfig:
        for name in self.services:
            try:
                self.for_service(name)
            except ConfigError as err:
                raise ValueError(str(err).replace("\n  - ", ": ")) from None
        return self

    def for_service(self, service: str) -> AutoscalingPolicy:
        """The policy of ``service``: its overrides on top of the defaults, validated again."""
        base = self.model_dump(exclude={"services", "replay_days"})
        over = self.services.get(service)
        if over is not None:
            base.update({k: v for k, v in over.model_dump().items() if v is not None})
        try:
            return AutoscalingPolicy.model_validate(base)
        except ValidationError as err:
            raise ConfigError(_format_validation_error(err, f"autoscaling.services.{service}")) from None


class ExportConfig(_Model):
    out_dir: str = "data/exports"
    formats: tuple[Literal["xlsx", "csv", "html"], ...] = ("xlsx", "csv", "html")


_CRON = re.compile(r"^\s*(\S+\s+){4}\S+\s*$")


class ScheduleConfig(_Model):
    """One ``[schedules.NAME]``: the pipeline up to ``through`` on a cron schedule."""

    cron: str
    through: Literal["forecast", "score", "plan", "export"] = "export"
    retrain: bool | None = None  # None: when the ledger says so (degradation or [forecast] retrain_after)
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, text: str) -> str:
        if not _CRON.match(text):
            raise ValueError(f"{text!r} is not a cron expression of five fields, e.g. '0 3 * * *'")
        return text.strip()


class OrchestrationConfig(_Model):
    task_runner: Literal["processes", "threads", "dask"] = Field(
        "processes",
        description="processes: a pool of `workers` local processes; threads: the batches one after "
        "another in this process; dask: a local Dask cluster or dask_address",
    )
    workers: int | None = Field(
        None, ge=1, le=512, description="processes of the processes runner (None: one per CPU core)"
    )
    dask_workers: int = Field(2, ge=1, le=512, description="workers of a local Dask cluster")
    dask_address: str | None = Field(None, description="scheduler of an existing cluster, tcp://host:8786")
    batch_size: int | None = Field(
        DEFAULT_BATCH_SIZE,
        ge=0,
        description="series per task in training and forecasting (0: all series in one batch)",
    )


DEFAULT_SCHEDULES = {"refresh": ScheduleConfig(cron="0 3 * * *")}


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
    schedules: dict[str, ScheduleConfig] = Field(default_factory=lambda: dict(DEFAULT_SCHEDULES))
    orchestration: OrchestrationConfig = OrchestrationConfig()
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    alerts: AlertsConfig = AlertsConfig()
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
    if not path.is_file():
        raise ConfigError(f"{path}: not a config file (a folder or a device); give the path of capplan.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    if "base_dir" in data:
        raise ConfigError(f"{path}: unknown key 'base_dir' (it is set from the file's location)")
    return config_from_dict(data, source=str(path), base_dir=path.resolve().parent)


def config_hash(cfg: Config) -> str:
    import hashlib

    payload = cfg.model_dump_json(exclude={"base_dir", "alerts"})  # delivery does not change a plan
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


__all__ = [
    "cli_horizon",
    "horizon_steps",
    "MAX_HORIZON_STEPS",
    "MAX_DURATION_DAYS",
    "Config",
    "ConfigError",
    "SourceConfig",
    "ForecastConfig",
    "PlanningConfig",
    "AutoscalingConfig",
    "AutoscalingPolicy",
    "AlertsConfig",
    "ScenarioConfig",
    "MetricSpec",
    "load_config",
    "config_from_dict",
    "config_hash",
    "parse_duration",
    "METRIC_KINDS",
]
