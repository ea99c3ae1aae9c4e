"""Opening the DuckDB warehouse: one writer process per file, a clear error when locked."""

from __future__ import annotations

import math
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
    check_warehouse_path(path, read_only=read_only)
    if not math.isfinite(lock_timeout_s) or lock_timeout_s < 0:
        raise CapplanError(f"lock_timeout_s must be a finite number of seconds >= 0, found {lock_timeout_s}")
    deadline = time.monotonic() + lock_timeout_s
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as err:
            text = str(err)
            if "lock" not in text.lower():
                raise CapplanError(f"{path}: cannot open the warehouse: {_first_line(text)}") from None
            if time.monotonic() >= deadline:
                pid = re.search(r"PID (\d+)", text)
                who = f"process {pid.group(1)}" if pid else "another process"
                raise WarehouseLockedError(
                    f"{path}: the warehouse is locked by {who} (DuckDB allows one writer per file); "
                    f"waited {lock_timeout_s:g} s. Wait for it to finish or stop it, then retry."
                ) from None
            time.sleep(0.2)
        except duckdb.Error as err:  # not a DuckDB file (a CSV, a newer version, corrupt)
            raise CapplanError(f"{path}: not a DuckDB warehouse: {_first_line(str(err))}") from None
    if not read_only:
        create_all(con)
    return con


_SYSTEM = ("/proc", "/sys", "/dev")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def check_warehouse_path(path: Path, *, read_only: bool = False) -> None:
    """A clear error for a warehouse path that is a folder, a system path, not a DuckDB file or
    not writable (checked before any flow starts, so the user's mistake is one message)."""
    resolved = path.resolve()
    if any(resolved == Path(p) or Path(p) in resolved.parents for p in _SYSTEM):
        raise CapplanError(
            f"{path}: a warehouse cannot live under {', '.join(_SYSTEM)}; choose a data folder"
        )
    if path.exists() and not path.is_file():
        raise CapplanError(f"{path}: is a folder or a device, not a warehouse file; name a .duckdb file")
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as fh:
            magic = fh.read(12)[8:12]
        if magic != b"DUCK":
            raise CapplanError(
                f"{path}: is not a DuckDB warehouse file (another kind of file); name a .duckdb file"
            )
    if read_only:
        if not path.exists():
            raise CapplanError(f"{path}: no warehouse here yet; run `capplan ingest --config ...` first")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CapplanError(f"{path}: cannot create the warehouse folder: {err.strerror or err}") from None
    target = path if path.exists() else path.parent
    import os

    if not os.access(target, os.W_OK):
        raise CapplanError(f"{path}: not writable by this user; choose a writable [warehouse] path")


@contextmanager
def warehouse(path: str | Path, *, read_only: bool = False, lock_timeout_s: float = 5.0):
    con = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    try:
        yield con
    finally:
        con.close()
