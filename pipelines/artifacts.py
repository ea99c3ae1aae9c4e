"""What a pipeline run leaves in the Prefect UI: a Markdown summary, an alert table, links.

Artifacts are best effort: a run that cannot write them (no API) still succeeds.
"""

from __future__ import annotations

from pathlib import Path

from capplan.core.config import Config


def publish(cfg: Config, result) -> list[str]:
    """Create the run's artifacts from a :class:`capplan.pipelines.refresh.RefreshResult`; their keys."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    from capplan.reporting.markdown import alert_rows, run_markdown

    training, plan = result.training, result.plan
    markdown = run_markdown(
        ingest=result.ingest,
        leaderboard=training.leaderboard if training is not None else None,
        champions=training.champions["champion"].value_counts() if training is not None else None,
        degraded=int(result.health["degraded"].sum())
        if result.health is not None and len(result.health)
        else None,
        summary=plan.tables.plan_summary if plan is not None else None,
        exports=result.exports,
    )
    keys = ["capplan-run-summary"]
    create_markdown_artifact(
        markdown, key=keys[0], description="what this capplan run loaded, chose and planned"
    )
    if plan is not None:
        rows = alert_rows(plan.tables.alerts)
        if rows:
            create_table_artifact(
                rows, key="capplan-alerts", description="alerts of this plan, most severe first"
            )
            keys.append("capplan-alerts")
    if result.exports and result.exports.get("xlsx"):
        create_link_artifact(
            Path(result.exports["xlsx"]).resolve().as_uri(), link_text="workbook", key="capplan-workbook"
        )
        keys.append("capplan-workbook")
    if training is not None:
        url = f"http://127.0.0.1:5000/#/experiments/{training.experiment_id}/runs/{training.run_id}"
        create_link_artifact(url, link_text="MLflow run (make ui)", key="capplan-mlflow-run")
        keys.append("capplan-mlflow-run")
    return keys
