"""Small helpers shared by the planning kernels (private)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from capplan.core.errors import CapplanError

HOURS_PER_MONTH = 730.0  # 365 * 24 / 12, the usual cloud-billing month
_CEIL_TOL = 1e-12  # float noise is ~1e-16 per operation; anything larger is real demand


def ceil_tol(x: np.ndarray | float) -> np.ndarray:
    """``ceil`` that ignores float noise: 11.000000000000002 -> 11, 11.001 -> 12."""
    x = np.asarray(x, dtype=float)
    return np.ceil(x - _CEIL_TOL * np.maximum(1.0, np.abs(x)))


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`CapplanError` naming the missing columns of ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CapplanError(
            f"{what}: required column(s) missing: {', '.join(missing)}; "
            f"found {', '.join(map(str, frame.columns)) or 'no columns'}"
        )
