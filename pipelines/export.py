"""Export flow: one stored plan (the latest by default) -> workbook, CSV tables, HTML report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from capplan.core.config import Config

from ._env import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402


@flow(name="capplan-export")
def export_flow(
    cfg: Config, out: str | Path | None = None, formats=None, plan_id: str | None = None, parallel=False
) -> dict[str, Path | list[Path]]:
    """Write ``formats`` (default ``[export] formats``) under ``out`` (default ``[export] out_dir``):
    the workbook and the CSV/HTML as two tasks, on the flow's process pool when ``parallel`` and
    the plan is large enough (:data:`~capplan.reporting.export.POOL_FROM_SERIES`): each task reads
    the plan's inputs itself, so the flow's process holds none while they write."""
    from capplan.core.batches import all_or_raise, run_batches
    from capplan.reporting.export import POOL_FROM_SERIES, format_groups

    folder = Path(out) if out else cfg.resolve(cfg.export.out_dir)
    formats = tuple(formats or cfg.export.formats)
    groups = format_groups(formats)
    plan_id, n_series = size(cfg, plan_id)
    parallel = parallel and n_series >= POOL_FROM_SERIES
    written = run_batches(write_exports, groups if parallel else [formats], parallel, plan_id, cfg, folder)
    return {fmt: path for w in all_or_raise(written) for fmt, path in w.items()}


@task(name="size-export", cache_policy=NONE)
def size(cfg: Config, plan_id: str | None) -> tuple[str, int]:
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        return store.export_size(con, plan_id)


@task(name="read-export-inputs", cache_policy=NONE)
def read_inputs(cfg: Config, plan_id: str | None):
    from capplan.evaluation.ledger import accuracy_by_week
    from capplan.planning import compare_plans
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        inputs = store.export_inputs(con, plan_id)
        before = store.previous_plan_id(con, inputs.plan_id)
        old = store.plan_tables(con, before) if before else None
    if old is not None:
        inputs = replace(inputs, changes=compare_plans(inputs.tables, old))
    return replace(inputs, accuracy_by_week=accuracy_by_week(inputs.accuracy))


@task(name="write-exports", cache_policy=NONE)
def write_exports(formats: tuple, plan_id: str, cfg: Config, folder: Path) -> dict[str, Path | list[Path]]:
    """``formats`` of plan ``plan_id``, its inputs read here (in a pool worker: its own copy)."""
    from capplan.reporting import export_bundle, plan_bundle

    return export_bundle(plan_bundle(read_inputs(cfg, plan_id), cfg), folder, formats)
