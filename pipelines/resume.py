"""Resume, don't redo: look up and record finished stages (keys: :mod:`capplan.core.stages`)."""

from __future__ import annotations

from capplan.core.config import Config, config_hash
from capplan.core.stages import stage_key

PLAN_INPUTS = ("series", "inventory", "loadtests", "events", "kpis")


def fingerprints(cfg: Config) -> dict[str, str]:
    """What the stages read: the observations, and the small tables a plan is sized against."""
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        return {"data": store.data_fingerprint(con), "inputs": store.tables_fingerprint(con, PLAN_INPUTS)}


def train_key(cfg: Config, fp: dict[str, str], as_of) -> str:
    """``cfg`` with the models this training uses (the forecast section decides the run)."""
    return stage_key("train", data=fp["data"], forecast=cfg.forecast.model_dump(mode="json"), as_of=as_of)


def forecast_key(cfg: Config, fp: dict[str, str], as_of, champion: str | None) -> str:
    forecast = cfg.forecast.model_dump(mode="json")
    return stage_key("forecast", data=fp["data"], forecast=forecast, as_of=as_of, champion=champion)


def plan_key(cfg: Config, fp: dict[str, str], forecast_id: str) -> str:
    return stage_key(
        "plan", forecast_id=forecast_id, data=fp["data"], inputs=fp["inputs"], config=config_hash(cfg)
    )


def export_key(cfg: Config, plan_id: str) -> str:
    return stage_key(
        "export", plan_id=plan_id, export=cfg.export.model_dump(mode="json"), config=config_hash(cfg)
    )


def finished(cfg: Config, stage: str, key: str) -> str | None:
    """The output of ``stage``'s last finished run with ``key`` (None: redo it)."""
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        output = store.stage_output(con, stage, key)
        if output and stage == "forecast" and not store.has_forecast(con, output):
            return None
        if output and stage == "plan" and not store.has_plan(con, output):
            return None
    return output


def record(cfg: Config, stage: str, key: str, output: str) -> None:
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, lock_timeout_s=cfg.warehouse.lock_timeout_s) as con:
        store.record_stage(con, stage, key, output)
