"""The demo's ``capplan.toml``, built as a plain dict and written once by a small TOML writer.

:func:`demo_config` returns the whole config (it validates with
:func:`capplan.core.config.config_from_dict`); :func:`to_toml` writes such a dict: nested dicts
become ``[tables]``, lists of dicts ``[[arrays of tables]]``, everything else an inline value.
"""

from __future__ import annotations

import json
import numbers
import re
from pathlib import Path, PurePath

from .company import CLOUDWATCH_SERVICES, file_layout, region_of
from .generate import DemoData

MODELS = ("seasonal_naive", "seasonal_profile", "theta", "lightgbm", "nhits", "ensemble")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def demo_config(
    data: DemoData, warehouse_path: str = "warehouse.duckdb", mlruns: str | PurePath | None = None
) -> dict:
    """The demo config as a plain dict; relative paths resolve against the config file's folder.

    ``mlruns`` (default ``"mlruns"``) is the MLflow store folder, relative to that folder: tracking
    goes to ``sqlite:///<mlruns>/mlflow.db`` and artifacts to ``<mlruns>/artifacts``.
    """
    store = PurePath("mlruns" if mlruns is None else mlruns)
    return {
        "warehouse": {"path": str(warehouse_path)},
        "sources": _sources(data),
        "forecast": _forecast(),
        "planning": _planning(data),
        "scenarios": _scenarios(),
        "mlflow": {
            "tracking_uri": f"sqlite:///{(store / 'mlflow.db').as_posix()}",
            "artifact_location": (store / "artifacts").as_posix(),
            "experiment": "capplan-demo",
        },
        "export": {"out_dir": "exports", "formats": ["xlsx", "csv", "html"]},
    }


def _sources(data: DemoData) -> list[dict]:
    layout = file_layout(data.services)
    out = [{"name": "usage_csv", "kind": "metrics", "path": "metrics/usage_*.csv", "format": "csv"}]
    if any(k.startswith("prometheus_") for k in layout):
        out.append(
            {"name": "prometheus", "kind": "metrics", "path": "metrics/prometheus_*.json", "format": "prometheus",
             "service_label": "service", "metric_label": "__name__", "region_label": "region"}
        )  # fmt: skip
    for s in CLOUDWATCH_SERVICES:
        if s in data.services:
            out.append(
                {"name": f"cloudwatch_{s}", "kind": "metrics", "path": f"metrics/cloudwatch_{s}.json",
                 "format": "cloudwatch", "label_separator": ":", "region": region_of(s)}
            )  # fmt: skip
    for kind in ("kpis", "events", "inventory", "loadtests"):
        out.append({"name": kind, "kind": kind, "path": f"{kind}.csv", "format": "csv"})
    return out


def _forecast() -> dict:
    return {
        "horizon": "14D",
        "frequency": "h",
        "quantiles": [0.1, 0.5, 0.9, 0.95, 0.99],
        "models": list(MODELS),
        "torch_epochs": 3,
        "train_window": "60D",
        "seed": 42,
        "backtest": {"folds": 2},
    }


def _planning(data: DemoData) -> dict:
    return {
        "redundancy": "n+1",
        "zones": 3,
        "headroom": 0.10,
        "runway_alert_days": 30.0,
        "rightsizing_utilization": 0.4,
        "rightsizing_window_days": 28,
        "expected_scenario": "expected",
        "latency_slo_ms": {r.service: float(r.slo_ms) for r in data.usl.itertuples()},
        "lead_time_days": {r: 2.0 for r in ("cpu", "memory", "storage", "network", "rps")},  # cloud instances
        "long_range_months": 13,  # to next year's Black Friday and beyond
        "long_range_resolution": "weekly",
    }


def _scenarios() -> dict:
    return {
        "conservative": {"quantile": 0.9, "description": "upper forecast band, business as planned"},
        "expected": {"quantile": 0.5, "description": "median forecast"},
        "aggressive": {
            "quantile": 0.95,
            "demand_multiplier": 1.15,
            "kpi_growth_per_quarter": {
                "active_users": [0.05, 0.05, 0.08, 0.10],
                "orders": [0.06, 0.06, 0.10, 0.12],
            },
            "description": "p95 and 15% extra growth; long range: users +5-10% and orders +6-12% a quarter",
        },
        "black_friday": {
            "quantile": 0.9,
            "kpi_growth": {"active_users": 0.05, "orders": 0.10},
            "event_uplift": {"black_friday": 6.0, "cyber_monday": 5.0},
            "description": "Black Friday at 6x and Cyber Monday at 5x normal demand, users +5%, orders +10%",
        },
    }


# --------------------------------------------------------------------------------------------
# TOML writer


def to_toml(data: dict, comment: str = "") -> str:
    """``data`` as TOML (``tomllib.loads`` gives it back, tuples as lists); ``comment`` lines first."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    if lines:
        lines.append("")
    _table(lines, (), data)
    return "\n".join(lines).strip("\n") + "\n"


def _is_table(value) -> bool:
    return isinstance(value, dict)


def _is_table_array(value) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(lines: list[str], path: tuple[str, ...], table: dict, header: str | None = None) -> None:
    scalars = {k: v for k, v in table.items() if not _is_table(v) and not _is_table_array(v)}
    nested = any(_is_table(v) or _is_table_array(v) for v in table.values())
    if header is None and path and (scalars or not nested):
        header = f"[{_dotted(path)}]"
    if header is not None:
        lines += ["", header] if lines and lines[-1] else [header]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in scalars.items()]
    for k, v in table.items():
        if _is_table(v):
            _table(lines, (*path, k), v)
        elif _is_table_array(v):
            for item in v:
                _table(lines, (*path, k), item, header=f"[[{_dotted((*path, k))}]]")


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(k) for k in path)


def _key(key) -> str:
    key = str(key)
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, PurePath):
        return json.dumps(value.as_posix())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


ALERTS_EXAMPLE = """
# After each plan, send its alerts as one JSON message (Slack-compatible "text") to a webhook:
# [alerts]
# webhook_url = "https://hooks.slack.com/services/T000/B000/XXXX"  # none: no message (the default)
# min_severity = "warning"  # info, warning or critical
# timeout_s = 10            # per attempt
# retries = 3               # on connection errors and 5xx; a 4xx is not retried
# backoff_s = 1.0           # wait before the first retry, doubling
"""


def write_config(config: dict, path: str | Path, comment: str = "") -> Path:
    """``config`` as TOML, then the commented ``[alerts]`` example (:data:`ALERTS_EXAMPLE`)."""
    path = Path(path)
    path.write_text(to_toml(config, comment) + ALERTS_EXAMPLE)
    return path
