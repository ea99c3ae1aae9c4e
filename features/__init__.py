"""Features: planning-frequency frames, gap filling, events and KPI covariates."""

from .covariates import FUTURE_EVENT_KINDS, event_features, kpi_features
from .frames import FILL_POLICIES, fill_gaps, history_status, regularize, to_planning_frequency

__all__ = [
    "FILL_POLICIES",
    "FUTURE_EVENT_KINDS",
    "event_features",
    "fill_gaps",
    "history_status",
    "kpi_features",
    "regularize",
    "to_planning_frequency",
]
