"""``ensemble``: combine member forecasts quantile by quantile.

``EnsembleForecaster(members, weights=None)``: ``fit`` fits every member on the same frame;
``predict`` asks every member and combines each quantile column across members on
``(unique_id, ds)``: the median by default, or the weighted mean when ``weights`` (member name ->
weight, normalised to sum 1) is given. Crossings are repaired by sorting row-wise. ``notes`` holds
the members' notes as ``"<member>: <note>"`` per series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from capplan.core.contracts import DS, ID, quantile_from_col
from capplan.core.errors import ModelError

from .base import Covariates, Forecaster


class EnsembleForecaster:
    """Median (or weighted mean) of member forecasts; complexity 4."""

    name = "ensemble"
    complexity = 4
    native_intervals = False

    def __init__(self, members: Sequence[Forecaster], weights: Mapping[str, float] | None = None):
        if not members:
            raise ModelError("ensemble needs at least one member")
        names = [m.name for m in members]
        if weights is not None:
            if len(set(names)) != len(names):
                raise ModelError(f"ensemble weights need distinct member names, got {names}")
            missing = [n for n in names if n not in weights]
            if missing or any(w < 0 for w in weights.values()) or sum(weights[n] for n in names) <= 0:
                raise ModelError(f"ensemble weights {dict(weights)} must be >= 0, sum > 0 and cover {names}")
        self.members = list(members)
        self.weights = None if weights is None else {n: float(weights[n]) for n in names}
        self.notes: dict[str, str] = {}

    def fit(self, df: pd.DataFrame, cov: Covariates | None = None) -> EnsembleForecaster:
        for member in self.members:
            member.fit(df, cov)
        self.notes = self._member_notes()
        return self

    def predict(self, h: int, cov: Covariates | None = None) -> pd.DataFrame:
        preds = [m.predict(h, cov).sort_values([ID, DS], ignore_index=True) for m in self.members]
        cols = sorted((c for c in preds[0].columns if c not in (ID, DS)), key=quantile_from_col)
        keys = preds[0][[ID, DS]]
        for m, p in zip(self.members, preds, strict=True):
            if not p[[ID, DS]].equals(keys) or list(p.columns[2:]) != list(preds[0].columns[2:]):
                raise ModelError(f"ensemble member {m.name!r} forecasts other series, steps or quantiles")
        stack = np.stack([p[cols].to_numpy(dtype="float64") for p in preds])  # (members, rows, Q)
        combined = self._combine(stack)
        out = keys.copy()
        out[cols] = np.sort(combined, axis=1)
        self.notes = self._member_notes()
        return out

    def _combine(self, stack: np.ndarray) -> np.ndarray:
        if self.weights is None:
            return np.median(stack, axis=0)
        w = np.array([self.weights[m.name] for m in self.members])
        return np.tensordot(w / w.sum(), stack, axes=1)

    def _member_notes(self) -> dict[str, str]:
        notes: dict[str, list[str]] = {}
        for m in self.members:
            for uid, note in getattr(m, "notes", {}).items():
                notes.setdefault(uid, []).append(f"{m.name}: {note}")
        return {uid: "; ".join(v) for uid, v in notes.items()}
