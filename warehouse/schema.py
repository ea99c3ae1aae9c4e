"""DuckDB DDL generated from the table declarations in :mod:`capplan.core.tables`.

Column names match the frames (``unique_id, ds, y``) so data moves between memory and storage
without renaming. Every table is created with ``IF NOT EXISTS``: opening a warehouse never
changes existing data, except a *derived* table (a plan, accuracy: recomputed by a flow) whose
stored shape predates its declaration, which is rebuilt empty (the next run refills it).

DuckDB enforces a table's key as a ``PRIMARY KEY`` unless the declaration says ``indexed=False``:
there (``observations``, ``quarantine``) the key is declared, named in the table's comment and
enforced by the loader (each batch is de-duplicated, then merged by key in one transaction; see
``load.py``), because DuckDB's ART index made a bulk load of 10M rows cost 6-10x a plain insert
(measured: ``benchmarks/ingest.py``). :func:`duplicate_keys` checks any table's key; ``capplan
status`` runs it on every table.
"""

from __future__ import annotations

from capplan.core.tables import TABLES, Table, table

KEYS: dict[str, tuple[str, ...]] = {name: t.key for name, t in TABLES.items()}


def q(name: str) -> str:
    """A quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def ddl(t: Table) -> str:
    cols = [f"{q(c)} {typ}" + (" NOT NULL" if c in t.key else "") for c, typ in t.columns]
    if t.indexed:
        cols.append(f"PRIMARY KEY ({', '.join(map(q, t.key))})")
    return f"CREATE TABLE IF NOT EXISTS {t.name} ({', '.join(cols)})"


def existing_tables(con) -> set[str]:
    return {r[0] for r in con.execute("SHOW TABLES").fetchall()}


def _columns(con, name: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()}


def _stored_key(con, name: str) -> set[str]:
    """The stored table's key columns (the NOT NULL ones: :func:`ddl` marks the key so)."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND NOT is_nullable", [name]
    ).fetchall()
    return {r[0] for r in rows}


def ensure_table(con, name: str, have: set[str] | None = None) -> None:
    """Create ``name`` from its declaration; add declared columns an older warehouse lacks."""
    t = table(name)
    have = existing_tables(con) if have is None else have
    if name in have:
        stored = _columns(con, name)
        if t.derived and _stored_key(con, name) != set(t.key):  # an older shape, recomputed by the next run
            con.execute(f"DROP TABLE {name}")
        else:
            for c, typ in t.columns:
                if c not in stored:
                    con.execute(f"ALTER TABLE {name} ADD COLUMN {q(c)} {typ}")
            return
    con.execute(ddl(t))
    if not t.indexed:
        cols = ", ".join(t.key)
        con.execute(f"COMMENT ON TABLE {name} IS 'key ({cols}): unique, enforced by the capplan loader'")


def add_family_columns(con, name: str, columns) -> None:
    """Add the family columns (quantiles, metrics) of ``columns`` that ``name`` does not hold yet."""
    t = table(name)
    stored = _columns(con, name)
    for c in columns:
        if c not in stored and c not in t.column_names:
            con.execute(f"ALTER TABLE {name} ADD COLUMN {q(c)} {t.type_of(c)}")


def create_all(con) -> None:
    have = existing_tables(con)
    for name in TABLES:
        ensure_table(con, name, have)


def duplicate_keys(con, name: str = "observations") -> int:
    """How many rows of ``name`` repeat a key of another row (0 when the key holds)."""
    cols = ", ".join(map(q, KEYS[name]))
    return int(
        con.execute(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {name} GROUP BY {cols})"
        ).fetchall()[0][0]
    )
