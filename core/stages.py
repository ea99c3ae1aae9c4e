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

RESUMABLE = ("train", "forecast", "plan", "export")
"""Ingest skips files by their content hash; scoring is idempotent and re-run each time."""


def stage_key(stage: str, **parts) -> str:
    """A short, stable hash of ``stage`` and its named inputs (strings, numbers, None, timestamps)."""
    if stage not in RESUMABLE:
        raise ValueError(f"stage {stage!r} is not resumable (one of {', '.join(RESUMABLE)})")
    payload = json.dumps({"stage": stage, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


__all__ = ["RESUMABLE", "stage_key"]
