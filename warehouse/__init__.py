"""The warehouse: one DuckDB file, tables declared in :mod:`capplan.core.tables`.

The only package that runs SQL. Its public surface: open the warehouse, load input files, and
the store's reads and writes (every query of the project).
"""

from . import store
from .connection import check_warehouse_path, connect, warehouse
from .load import BatchReport, ingest_file, ingest_source, source_files
from .schema import duplicate_keys

__all__ = [
    "BatchReport",
    "check_warehouse_path",
    "connect",
    "duplicate_keys",
    "ingest_file",
    "ingest_source",
    "source_files",
    "store",
    "warehouse",
]
