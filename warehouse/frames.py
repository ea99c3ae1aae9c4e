"""Writing model outputs (forecasts, backtests, accuracy) to the warehouse by name.

Quantile columns depend on the configured quantiles, so these tables grow a column when a new
quantile appears (``ALTER TABLE ... ADD COLUMN``); rows are replaced per key set, so writing
the same output twice leaves the table unchanged.
"""

from __future__ import annotations

import pandas as pd

_TYPES = {"datetime64": "TIMESTAMP", "float": "DOUBLE", "int": "BIGINT", "bool": "BOOLEAN"}


def _sql_type(dtype) -> str:
    name = str(dtype)
    for k, v in _TYPES.items():
        if name.startswith(k):
            return v
    return "VARCHAR"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def replace_rows(
    con, table: str, frame: pd.DataFrame, keys: tuple[str, ...], scope: dict[str, object]
) -> int:
    """Delete the rows of ``table`` matching ``scope`` (column -> value), then insert ``frame``.

    Creates the table (primary key ``keys``) on first use and adds columns it lacks.
    """
    cols = {c: _sql_type(t) for c, t in frame.dtypes.items()}
    defs = ", ".join(f"{_q(c)} {t}" for c, t in cols.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({defs}, PRIMARY KEY ({', '.join(map(_q, keys))}))")
    have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    for c, t in cols.items():
        if c not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {_q(c)} {t}")
    where = " AND ".join(f"{_q(k)} = ?" for k in scope) or "TRUE"
    con.execute(f"DELETE FROM {table} WHERE {where}", list(scope.values()))
    if frame.empty:
        return 0
    con.register("_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
    finally:
        con.unregister("_frame")
    return len(frame)
