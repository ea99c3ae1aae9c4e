"""Opening the DuckDB warehouse: one writer process per file, a clear error when locked."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path

from capplan.core.errors import CapplanError, WarehouseLockedError

from .schema import create_all


def connect(path: str | Path, *, read_only: bool = False, lock_timeout_s: float = 5.0):
    """Open (creating if needed) the warehouse; wait up to ``lock_timeout_s`` for another writer."""
    import duckdb

    path = Path(path)
    if read_only and not path.exists():
        raise CapplanError(f"{path}: no warehouse here yet; run `capplan ingest --config ...` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as err:
            text = str(err)
            if "lock" not in text.lower():
                raise
            if time.monotonic() >= deadline:
                pid = re.search(r"PID (\d+)", text)
                who = f"process {pid.group(1)}" if pid else "another process"
                raise WarehouseLockedError(
                    f"{path}: the warehouse is locked by {who} (DuckDB allows one writer per file); "
                    f"waited {lock_timeout_s:g} s. Wait for it to finish or stop it, then retry."
                ) from None
            time.sleep(0.2)
    if not read_only:
        create_all(con)
    return con


@contextmanager
def warehouse(path: str | Path, *, read_only: bool = False, lock_timeout_s: float = 5.0):
    con = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    try:
        yield con
    finally:
        con.close()
