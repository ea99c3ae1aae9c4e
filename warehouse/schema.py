"""DuckDB warehouse schema: tables users may query, with declared keys.

Column names match the frames (``unique_id, ds, y``) so data moves between memory and storage
without renaming. Every table is created with ``IF NOT EXISTS``: opening a warehouse never
changes existing data.

Keys (``KEYS``) are declared for every table. DuckDB enforces them as ``PRIMARY KEY`` on all
tables but ``observations``: there the key ``(unique_id, ds)`` is declared in ``KEYS`` and in the
table's comment, and enforced by the loader (each batch is de-duplicated, then merged by key in
one transaction; see ``load.py``), because DuckDB's ART index made a bulk load of 10M rows cost
6-10x a plain insert (measured: ``benchmarks/ingest.py``). :func:`duplicate_keys` checks it; a
test runs it after every kind of load, and ``capplan status`` reports it.
"""

from __future__ import annotations

TABLES: dict[str, str] = {
    "series": """
        CREATE TABLE IF NOT EXISTS series (
            unique_id VARCHAR PRIMARY KEY,
            service VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            region VARCHAR,
            unit VARCHAR,
            kind VARCHAR NOT NULL,
            frequency VARCHAR NOT NULL,
            source VARCHAR NOT NULL
        )""",
    "observations": """
        CREATE TABLE IF NOT EXISTS observations (
            unique_id VARCHAR NOT NULL,
            ds TIMESTAMP NOT NULL,
            y DOUBLE NOT NULL
        )""",
    "gaps": """
        CREATE TABLE IF NOT EXISTS gaps (
            unique_id VARCHAR NOT NULL,
            gap_start TIMESTAMP NOT NULL,
            gap_end TIMESTAMP NOT NULL,
            missing_steps BIGINT NOT NULL,
            PRIMARY KEY (unique_id, gap_start)
        )""",
    "kpis": """
        CREATE TABLE IF NOT EXISTS kpis (
            kpi VARCHAR NOT NULL,
            ds TIMESTAMP NOT NULL,
            value DOUBLE NOT NULL,
            PRIMARY KEY (kpi, ds)
        )""",
    "events": """
        CREATE TABLE IF NOT EXISTS events (
            name VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            start TIMESTAMP NOT NULL,
            "end" TIMESTAMP NOT NULL,
            services VARCHAR[] NOT NULL,
            expected_uplift DOUBLE,
            PRIMARY KEY (name, start)
        )""",
    "inventory": """
        CREATE TABLE IF NOT EXISTS inventory (
            service VARCHAR NOT NULL,
            resource VARCHAR NOT NULL,
            capacity_per_instance DOUBLE NOT NULL,
            unit VARCHAR NOT NULL,
            instances BIGINT NOT NULL,
            target_utilization DOUBLE NOT NULL,
            max_instances BIGINT NOT NULL,
            cost_per_instance_hour DOUBLE NOT NULL,
            instance_type VARCHAR,
            PRIMARY KEY (service, resource)
        )""",
    "loadtests": """
        CREATE TABLE IF NOT EXISTS loadtests (
            service VARCHAR NOT NULL,
            instances DOUBLE,
            concurrency DOUBLE,
            throughput DOUBLE NOT NULL,
            latency_p99_ms DOUBLE NOT NULL,
            point DOUBLE NOT NULL,
            PRIMARY KEY (service, point)
        )""",
    "load_batches": """
        CREATE TABLE IF NOT EXISTS load_batches (
            batch_id VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            content_hash VARCHAR NOT NULL,
            rows_in BIGINT NOT NULL,
            rows_loaded BIGINT NOT NULL,
            rows_quarantined BIGINT NOT NULL,
            rows_inserted BIGINT NOT NULL,
            rows_updated BIGINT NOT NULL,
            rows_unchanged BIGINT NOT NULL,
            rows_duplicate BIGINT NOT NULL,
            rows_regridded BIGINT NOT NULL,
            status VARCHAR NOT NULL,
            message VARCHAR,
            loaded_at TIMESTAMP NOT NULL
        )""",
    "quarantine": """
        CREATE TABLE IF NOT EXISTS quarantine (
            batch_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            line VARCHAR NOT NULL,
            raw VARCHAR NOT NULL,
            "check" VARCHAR NOT NULL,
            reason VARCHAR NOT NULL
        )""",
}


KEYS: dict[str, tuple[str, ...]] = {
    "series": ("unique_id",),
    "observations": ("unique_id", "ds"),
    "gaps": ("unique_id", "gap_start"),
    "kpis": ("kpi", "ds"),
    "events": ("name", "start"),
    "inventory": ("service", "resource"),
    "loadtests": ("service", "point"),
    "load_batches": ("batch_id",),
}

# Tables whose key the loader enforces instead of an index (see the module docstring).
LOADER_KEYED = ("observations",)


def create_all(con) -> None:
    for ddl in TABLES.values():
        con.execute(ddl)
    for table in LOADER_KEYED:
        cols = ", ".join(KEYS[table])
        con.execute(f"COMMENT ON TABLE {table} IS 'key ({cols}): unique, enforced by the capplan loader'")


def duplicate_keys(con, table: str = "observations") -> int:
    """How many rows of ``table`` repeat a key of another row (0 when the key holds)."""
    cols = ", ".join(f'"{c}"' for c in KEYS[table])
    return int(
        con.execute(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {table} GROUP BY {cols})"
        ).fetchall()[0][0]
    )
