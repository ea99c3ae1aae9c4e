"""The pipeline, chained once: ingest -> (retrain when due) -> forecast -> score -> plan -> export.

The learning loop: after ingest, the latest vintages are scored against the new actuals; the
champions are retrained only when a series they forecast degraded beyond ``[forecast]
degradation_threshold`` or they are older than ``[forecast] retrain_after`` (or none is
registered); otherwise the same champions re-forecast from the new data. Degraded series are
logged as warnings (and flagged in ``forecast_health``).

:func:`pipeline_flow` is the one chain; ``capplan refresh``, ``capplan demo`` and the scheduled
deployment of ``capplan serve`` all run it (the demo twice: a past vintage, then today's). Each
step is the same flow the single-step CLI commands run, called as a subflow, so the Prefect UI
shows them nested. ``capplan serve --cron "0 3 * * *"`` registers :func:`refresh_flow` (the
pipeline on a config path, what a deployment can carry) with that schedule and serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from capplan.core.config import Config
from capplan.core.stages import RefreshOptions, RefreshResult, export_record, exported

from ._env import configure

configure()

from prefect import flow  # noqa: E402

STEPS = ("ingest", "train", "forecast", "score", "plan", "export")


@flow(name="capplan-pipeline")
def pipeline_flow(
    cfg: Config, options: RefreshOptions | None = None, progress: Callable[[str], None] | None = None
) -> RefreshResult:
    """Run the steps up to ``options.through``; ``progress`` hears each step's name before it runs."""
    from capplan.evaluation.ledger import log_degraded

    from . import resume, tracking
    from .export import export_flow
    from .forecast import forecast_flow, score_flow
    from .ingest import ingest_flow
    from .plan import plan_flow
    from .runners import local_pool, on_runner
    from .train import train_flow, with_models

    opt = options or RefreshOptions()
    last = STEPS.index(opt.through)
    say = progress or (lambda _step: None)
    out = RefreshResult()
    say("ingest")
    out.ingest = ingest_flow(cfg, quiet=opt.quiet)  # a file already loaded (same content hash) is skipped
    retrain, out.decision = _decide(cfg, opt, say)
    fp = resume.fingerprints(cfg)
    trained = with_models(cfg, opt.models)
    key = resume.train_key(trained, fp, opt.as_of)
    if retrain and _resumed(cfg, opt, out, "train", key, tracking.champion_info(cfg)[0]) is None:
        say("train")
        run, parallel = on_runner(train_flow, trained)
        out.training = run(trained, quiet=opt.quiet, as_of=opt.as_of, parallel=parallel)
        resume.record(cfg, "train", key, out.training.run_id)
    key = resume.forecast_key(cfg, fp, opt.as_of, tracking.champion_info(cfg)[0])
    done = _resumed(cfg, opt, out, "forecast", key)
    say("forecast")
    run, parallel = on_runner(forecast_flow, cfg, pool=False)
    out.publication = run(cfg, out=opt.forecast_csv, as_of=opt.as_of, forecast_id=done, parallel=parallel)
    if not done:
        resume.record(cfg, "forecast", key, out.publication.forecast_id)
    if last >= STEPS.index("score"):
        say("score")
        out.health = score_flow(cfg)
    out.warnings = log_degraded(out.health)
    if last >= STEPS.index("plan"):
        key = resume.plan_key(cfg, fp, out.publication.forecast_id)
        done = _resumed(cfg, opt, out, "plan", key)
        say("plan")
        run, parallel = on_runner(plan_flow, cfg)
        out.plan = run(cfg, plan_id=done, parallel=parallel)
        if not done:
            resume.record(cfg, "plan", key, out.plan.plan_id)
    if last >= STEPS.index("export"):
        say("export")
        key = resume.export_key(cfg, out.plan.plan_id)
        out.exports = exported(_resumed(cfg, opt, out, "export", key))
        if out.exports is None:
            run, parallel = local_pool(export_flow, cfg)
            out.exports = run(cfg, plan_id=out.plan.plan_id, parallel=parallel)
            resume.record(cfg, "export", key, export_record(out.exports))
    from .artifacts import publish

    out.artifacts = publish(cfg, out)
    return out


def _resumed(cfg: Config, opt: RefreshOptions, out: RefreshResult, stage: str, key: str, current=None):
    """The output ``stage`` left on these inputs (None: run it); for ``train``, only while that
    run still holds the champion alias."""
    from . import resume

    output = resume.finished(cfg, stage, key) if opt.resume else None
    if output is None or (stage == "train" and output != current):
        return None
    if stage == "export" and exported(output) is None:  # a file was removed since: write them again
        return None
    out.resumed.append(f"{stage}: unchanged inputs, reusing {output if stage != 'export' else 'its files'}")
    return output


def _decide(cfg: Config, opt: RefreshOptions, say) -> tuple[bool, str]:
    """Retrain or only re-forecast: forced by the options, else what the ledger says (the latest
    vintages scored against the actuals just ingested, and the champions' age)."""
    if opt.retrain is not None:
        return opt.retrain, "retrain forced" if opt.retrain else "retraining switched off: re-forecast only"
    from capplan.core.errors import CapplanError
    from capplan.evaluation.ledger import retrain_due

    from . import tracking
    from .forecast import score_flow

    run_id, trained_at = tracking.champion_info(cfg)
    health = None
    if run_id:
        say("score")
        try:
            health = score_flow(cfg)
        except CapplanError:  # nothing published yet
            health = None
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    return retrain_due(health, run_id, trained_at, now, pd.Timedelta(cfg.forecast.retrain_after))


@flow(name="capplan-refresh")
def refresh_flow(
    config: str, retrain: bool | None = None, export: bool = True, through: str | None = None
) -> dict:
    """The scheduled run: the pipeline on the config at ``config`` (a path) up to ``through``;
    ``retrain=None`` retrains when the ledger says so (degradation or age)."""
    from capplan.core.config import load_config
    from capplan.reporting.console import run_summary

    last = through or ("export" if export else "plan")
    return run_summary(pipeline_flow(load_config(config), RefreshOptions(retrain=retrain, through=last)))


def deployment(config: str, cron: str, name: str = "capplan-refresh", retrain: bool | None = None, **kw):
    """One deployment of the refresh flow on a cron schedule (``through``, ``timezone`` optional;
    ``module=True``: the entrypoint is the installed module, what a work pool's worker imports)."""
    params = {"config": str(Path(config).resolve()), "retrain": retrain}
    if kw.get("through"):
        params["through"] = kw["through"]
    from prefect.schedules import Cron

    return refresh_flow.to_deployment(
        name=name,
        schedule=Cron(cron, timezone=kw.get("timezone") or "UTC"),
        parameters=params,
        description="capplan: ingest, retrain when due, forecast, score, plan and export on a schedule",
        **({"entrypoint_type": _module_entrypoint()} if kw.get("module") else {}),
    )


def _module_entrypoint():
    from prefect.deployments.runner import EntrypointType

    return EntrypointType.MODULE_PATH


def deployments(config: str, cfg: Config, module: bool = False) -> list:
    """A deployment per ``[schedules.NAME]`` (default: ``refresh`` daily at 03:00 UTC)."""
    return [
        deployment(
            config,
            s.cron,
            name=f"capplan-{name}",
            retrain=s.retrain,
            through=s.through,
            timezone=s.timezone,
            module=module,
        )
        for name, s in cfg.schedules.items()
    ]


def serve(
    config: str, cron: str | None = None, name: str = "capplan-refresh", retrain: bool | None = None
) -> list[str]:
    """Register the deployments on the Prefect server and serve them (blocks; Ctrl+C stops).

    With ``cron``, one deployment ``name`` on that schedule; else every ``[schedules]`` entry.
    """
    from prefect import serve as prefect_serve

    from capplan.core.config import load_config

    _need_server("serve")
    deps = (
        [deployment(config, cron, name=name, retrain=retrain)]
        if cron
        else deployments(config, load_config(config))
    )
    prefect_serve(*deps)
    return [d.name for d in deps]


def _need_server(command: str) -> None:
    import os

    from capplan.core.errors import CapplanError

    if not os.environ.get("PREFECT_API_URL"):
        raise CapplanError(
            f"{command} needs a Prefect server to hold the schedule: start one with `capplan ui` (or "
            "`.venv/bin/prefect server start --host 127.0.0.1`) and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )


def deploy(config: str, pool: str) -> tuple[list[str], bool]:
    """Register every ``[schedules]`` deployment on work pool ``pool`` of the server at
    ``PREFECT_API_URL`` (a ``process`` pool is created when missing); a worker started with
    ``prefect worker start --pool POOL`` on any machine with capplan installed runs them.
    Returns the deployment names and whether the pool was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments.runner import deploy as prefect_deploy
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    from capplan.core.config import load_config

    _need_server("deploy")
    deps = deployments(config, load_config(config), module=True)
    created = False
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=template))
            created = True
    prefect_deploy(*deps, work_pool_name=pool, build=False, push=False, print_next_steps_message=False)
    return [d.name for d in deps], created
