"""Resume, don't redo: the key of a pipeline stage is a hash of everything it reads.

A stage that finished is recorded in the warehouse table ``stage_runs`` under its key (with what
it left: a training run, a forecast vintage, a plan, export paths). A rerun after a crash, or a
scheduled run on data that did not move, computes the same key and reuses that output instead of
redoing the work; new data (the warehouse fingerprint), another config section or another
upstream output (a new champion run, a new forecast vintage) gives a new key. This is capplan's
own record, not Prefect's task cache: it survives a new Prefect home and is visible to
``capplan status`` and SQL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

RESUMABLE = ("train", "forecast", "plan", "export")
"""Ingest skips files by their content hash; scoring is idempotent and re-run each time."""


def stage_key(stage: str, **parts) -> str:
    """A short, stable hash of ``stage`` and its named inputs (strings, numbers, None, timestamps)."""
    if stage not in RESUMABLE:
        raise ValueError(f"stage {stage!r} is not resumable (one of {', '.join(RESUMABLE)})")
    payload = json.dumps({"stage": stage, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


__all__ = ["RESUMABLE", "stage_key"]


def export_record(exports: dict) -> str:
    """The export stage's output as recorded: its paths as JSON (a list where a sheet has several)."""
    return json.dumps({k: [str(p) for p in v] if isinstance(v, list) else str(v) for k, v in exports.items()})


def exported(record: str | None) -> dict | None:
    """The paths of an :func:`export_record`, when every file is still there (else None: write them again)."""
    if record is None:
        return None
    paths = {
        k: [Path(p) for p in v] if isinstance(v, list) else Path(v) for k, v in json.loads(record).items()
    }
    files = [p for v in paths.values() for p in (v if isinstance(v, list) else [v])]
    return paths if all(p.exists() for p in files) else None


@dataclass(frozen=True)
class RefreshOptions:
    retrain: bool | None = None  # None: when the ledger says so (degradation, age); True/False: always/never
    as_of: pd.Timestamp | None = None  # train as if it were then (later data unseen)
    models: tuple[str, ...] | None = None  # override [forecast] models for this training
    through: str = "export"  # the last step to run
    forecast_csv: str | None = None  # also write the published forecast as CSV
    quiet: bool = True  # no per-file and per-model progress lines
    resume: bool = (
        True  # reuse what a stage left on the same inputs (a rerun after a crash redoes nothing done)
    )


@dataclass
class RefreshResult:
    ingest: list[dict] | None = None
    training: object | None = None  # TrainSummary
    publication: object | None = None  # Publication
    health: pd.DataFrame | None = None
    plan: object | None = None  # PlanResult
    exports: dict | None = None
    artifacts: list[str] | None = None  # keys of the Prefect artifacts the run left
    decision: str = ""  # why the run retrained or only re-forecast
    warnings: list[str] = field(default_factory=list)  # degraded series, one line each
    resumed: list[str] = field(default_factory=list)  # stages skipped: their inputs had not changed
