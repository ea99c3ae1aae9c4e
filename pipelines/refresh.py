"""The scheduled refresh: ingest -> train -> forecast -> score -> plan -> export, as one flow.

``capplan serve --cron "0 3 * * *"`` registers it as a Prefect deployment with that schedule
and serves it (a long-running process; needs a Prefect server: ``PREFECT_API_URL``). Each
step is the same flow the CLI runs, called as a subflow, so the Prefect UI shows them nested.
"""

from __future__ import annotations

from pathlib import Path

from ._env import configure

configure()

from prefect import flow  # noqa: E402


@flow(name="capplan-refresh")
def refresh_flow(config: str, retrain: bool = True, export: bool = True) -> dict:
    """Run the whole pipeline on ``config`` (a path); ``retrain=False`` reuses the champions."""
    from capplan.core.config import load_config

    from .forecast import forecast_flow, score_flow
    from .ingest import ingest_flow
    from .plan import plan_flow
    from .train import train_flow

    cfg = load_config(config)
    reports = ingest_flow(cfg, quiet=True)
    out = {"files": len(reports), "rejected": sum(r["status"] == "rejected" for r in reports)}
    if retrain:
        out["run_id"] = train_flow(cfg, quiet=True).run_id
    out["forecast_run"] = forecast_flow(cfg).run_id
    out["degraded"] = int(score_flow(cfg)["degraded"].sum())
    plan = plan_flow(cfg)
    out["critical_alerts"] = int((plan.tables["alerts"]["severity"] == "critical").sum())
    if export:
        from capplan.reporting import export_bundle
        from capplan.warehouse.connection import warehouse

        from .report import bundle_from_warehouse

        with warehouse(cfg.warehouse_path, read_only=True) as con:
            paths = export_bundle(
                bundle_from_warehouse(con, cfg), cfg.resolve(cfg.export.out_dir), cfg.export.formats
            )
        out["exports"] = {
            k: str(v) if not isinstance(v, list) else str(Path(v[0]).parent) for k, v in paths.items()
        }
    return out


def deployment(config: str, cron: str, name: str = "capplan-refresh", retrain: bool = True):
    """The deployment ``capplan serve`` registers: the refresh flow on a cron schedule."""
    return refresh_flow.to_deployment(
        name=name,
        cron=cron,
        parameters={"config": str(Path(config).resolve()), "retrain": retrain},
        description="capplan: ingest, retrain, forecast, score, plan and export on a schedule",
    )
