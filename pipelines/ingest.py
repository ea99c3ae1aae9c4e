"""Ingestion flow: every ``[[sources]]`` entry into the DuckDB warehouse.

One Prefect task per source (each loads all of its files in one process: many files per
task); retries only on I/O errors, never on bad data. DuckDB allows one writer per file, so
sources load one after another inside the flow. The flow runs without a server (Prefect's
ephemeral mode) or against ``PREFECT_API_URL`` when one is configured.
"""

from __future__ import annotations

from capplan.core.config import Config, SourceConfig
from capplan.reporting import file_line

from ._env import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402


def _io_only(task_, task_run, state) -> bool:
    """Retry only when the task failed on I/O (a network share blinking)."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


@task(name="load-source", retries=2, retry_delay_seconds=1, retry_condition_fn=_io_only, cache_policy=NONE)
def load_source(source: SourceConfig, cfg: Config, engine: str = "auto", quiet: bool = False) -> list[dict]:
    from capplan.warehouse import ingest_file, ingest_source, source_files, warehouse

    files = source_files(source, cfg)
    reports = []
    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        if not files:
            reports = ingest_source(con, source, cfg, engine=engine, paths=[])
        for path in files:
            reports.append(ingest_file(con, path, source, cfg, engine=engine))
            if not quiet:
                print(file_line(reports[-1]), flush=True)
    out = []
    for r in reports:
        row = r.as_row()
        row["quarantine_reasons"] = r.quarantine_reasons
        out.append(row)
    return out


@flow(name="capplan-ingest", log_prints=False)
def ingest_flow(cfg: Config, engine: str = "auto", quiet: bool = False) -> list[dict]:
    """Load every source; returns one report row per file (see ``warehouse.load.BatchReport``)."""
    reports: list[dict] = []
    for source in cfg.sources:
        task_ = load_source.with_options(retries=source.retries)  # [[sources]] retries, on I/O errors only
        reports.extend(task_(source, cfg, engine, quiet))
    return reports
