"""The ``capplan`` command line: argument parsing and printing; each command runs one flow of
:mod:`capplan.pipelines`. ``--help`` stays fast: heavy imports happen inside commands."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from capplan.core.errors import CapplanError

from .commands import (  # noqa: F401  (the commands the parser names)
    DEFAULT_CONFIG,
    _safe,
    cmd_demo,
    cmd_deploy,
    cmd_export,
    cmd_forecast,
    cmd_ingest,
    cmd_plan,
    cmd_refresh,
    cmd_rollback,
    cmd_score,
    cmd_serve,
    cmd_status,
    cmd_train,
    cmd_ui,
)
from .commands_scaling import cmd_scaling_config, cmd_simulate

EPILOG = """\
typical use:
  capplan demo                         generate the demo company and run the whole pipeline
  capplan ingest --config capplan.toml load every [[sources]] entry into the warehouse
  capplan status --config capplan.toml what the warehouse holds, last batches, quarantine

Exit codes: 0 success; 1 a file was rejected or an alert at --fail-on level was raised;
2 a usage or configuration error (the message says what and where)."""


def _retrain_flags(sp) -> None:
    group = sp.add_mutually_exclusive_group()
    group.add_argument("--retrain", action="store_true", help="always retrain")
    group.add_argument(
        "--no-retrain", action="store_true", help="never retrain: re-forecast with the champions"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="capplan",
        description="Capacity planning and demand forecasting: ingest usage and business data into DuckDB, "
        "forecast with backtested models tracked in MLflow, and turn forecasts into capacity plans.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str, func, config=True):
        sp = sub.add_parser(name, help=help_, description=help_)
        if config:
            sp.add_argument(
                "--config", default=DEFAULT_CONFIG, help="path to capplan.toml (default: %(default)s)"
            )
        sp.set_defaults(func=func)
        return sp

    _warehouse_commands(add)
    _model_commands(add)
    _plan_commands(add)
    _run_commands(add)
    _tool_commands(add)
    return p


def _warehouse_commands(add) -> None:
    """The ingest, status subcommands."""
    sp = add(
        "ingest",
        "Load every [[sources]] file into the DuckDB warehouse; bad rows go to the quarantine table.",
        cmd_ingest,
    )
    sp.add_argument(
        "--engine",
        choices=["auto", "gx", "vectorized"],
        default="auto",
        help="validation engine: Great Expectations for batches up to 500k rows (auto), always GX, or the "
        "equivalent vectorized checks (default: %(default)s)",
    )
    sp.add_argument("--quiet", action="store_true", help="no per-file progress lines")
    sp = add(
        "status", "Show what the warehouse holds, the last load batches and quarantined rows.", cmd_status
    )
    sp.add_argument("--limit", type=int, default=20, help="rows to show per table (default: %(default)s)")


def _model_commands(add) -> None:
    """The train, forecast, score subcommands."""
    sp = add(
        "train",
        "Backtest every configured model on every series, choose a champion per series, log to MLflow "
        "and register the champions (alias 'champion'). Series are trained in batches of [orchestration] "
        "batch_size (one task each; global models fitted per batch), one after another or on Dask "
        "([orchestration] task_runner = 'dask', dask_workers, dask_address).",
        cmd_train,
    )
    sp.add_argument(
        "--as-of", default=None, help="train as if it were this time (later data unseen), e.g. 2026-11-01"
    )
    sp.add_argument("--models", default=None, help="comma-separated models overriding [forecast] models")
    sp.add_argument(
        "--dask",
        type=int,
        metavar="WORKERS",
        default=None,
        help="train the series batches in parallel on a local Dask cluster of WORKERS processes "
        "(needs PREFECT_API_URL; set [orchestration] batch_size for at least WORKERS batches)",
    )
    sp.add_argument("--quiet", action="store_true", help="no progress lines")
    sp = add(
        "forecast",
        "Publish a new forecast vintage: the registered champions (re-fitted on data newer than their "
        "training, never re-selected) forecast every series from its latest observation.",
        cmd_forecast,
    )
    sp.add_argument(
        "--as-of", default=None, help="forecast from the data as it was then (later observations unseen)"
    )
    sp.add_argument(
        "--horizon", default=None, help="steps or a duration like 48, 14D (default: [forecast] horizon)"
    )
    sp.add_argument("--out", default=None, help="also write a CSV: service, metric, ts, model, p10, p50, ...")
    add(
        "score",
        "Score every published forecast against the actuals that arrived since; flag degraded series.",
        cmd_score,
    )


def _plan_commands(add) -> None:
    """The plan, export subcommands."""
    sp = add(
        "plan",
        "Turn the latest published forecasts into capacity plans per scenario: instances, runway, "
        "bottlenecks, right-sizing, cost and alerts.",
        cmd_plan,
    )
    sp.add_argument(
        "--fail-on",
        choices=["critical", "warning", "info"],
        default=None,
        help="exit 1 when an alert at or above this severity is raised (for CI/cron)",
    )
    sp.add_argument(
        "--compare",
        nargs="?",
        const="previous",
        default=None,
        metavar="PLAN_ID",
        help="print what changed since PLAN_ID (default: the previous plan): runway, instances, cost, alerts",
    )
    sp.add_argument(
        "--no-notify",
        action="store_true",
        help="do not send the plan's alerts to the [alerts] webhook_url",
    )
    sp = add(
        "export", "Export the plan for planners: an XLSX workbook, CSV tables and an HTML report.", cmd_export
    )
    sp.add_argument(
        "--format",
        action="append",
        choices=["xlsx", "csv", "html"],
        help="repeatable (default: [export] formats)",
    )
    sp.add_argument("--out", default=None, help="output folder (default: [export] out_dir)")
    sp.add_argument("--plan", default=None, help="plan_id of an earlier plan (default: the latest)")


def _weeks(text: str) -> int:
    if not text.isdigit() or not 2 <= int(text) <= 8:
        raise argparse.ArgumentTypeError(f"--weeks must be a whole number from 2 to 8, found {text!r}")
    return int(text)


def _run_commands(add) -> None:
    """The refresh, serve, rollback subcommands."""
    sp = add(
        "refresh",
        "Run the whole pipeline once: ingest, retrain when the ledger says so (a series degraded beyond "
        "[forecast] degradation_threshold, or champions older than [forecast] retrain_after), else "
        "re-forecast; then score, plan and export.",
        cmd_refresh,
    )
    _retrain_flags(sp)
    sp.add_argument("--quiet", action="store_true", help="no per-file and per-model progress lines")
    sp.add_argument(
        "--no-resume",
        action="store_true",
        help="redo every stage; by default a stage whose inputs (data fingerprint, config, upstream "
        "output) match a finished run is skipped and its output reused (table stage_runs)",
    )
    sp = add(
        "serve",
        "Run the whole pipeline (ingest, train, forecast, score, plan, export) on a cron schedule "
        "as a Prefect deployment; needs a Prefect server (PREFECT_API_URL).",
        cmd_serve,
    )
    sp.add_argument(
        "--cron",
        default=None,
        help="one schedule in cron syntax, e.g. '0 3 * * *' (default: every [schedules.NAME] of the config)",
    )
    sp.add_argument("--name", default="capplan-refresh", help="deployment name (default: %(default)s)")
    _retrain_flags(sp)
    sp = add(
        "deploy",
        "Register the [schedules] deployments on a work pool of the Prefect server at PREFECT_API_URL "
        "(a process pool is created when missing); workers started with `prefect worker start --pool "
        "POOL` on any machine with capplan installed run them. Unlike serve, this returns at once.",
        cmd_deploy,
    )
    sp.add_argument("--pool", default="capplan", help="work pool name (default: %(default)s)")
    add(
        "rollback",
        "Restore the previous champions: swap the registry aliases 'champion' and 'fallback'.",
        cmd_rollback,
    )


def _tool_commands(add) -> None:
    """The scaling-config, simulate, ui, demo subcommands."""
    sp = add(
        "scaling-config",
        "Generate an autoscaling configuration for one service from [autoscaling] and the latest plan: "
        "a Kubernetes HPA, a KEDA ScaledObject (cron triggers from the predictive schedule) or an AWS "
        "predictive scaling policy (PutScalingPolicy input).",
        cmd_scaling_config,
    )
    sp.add_argument("--format", choices=["hpa", "keda", "aws"], required=True)
    sp.add_argument("--service", required=True, help="the service (as in the inventory)")
    sp.add_argument(
        "--output", choices=["yaml", "json"], default=None, help="default: yaml (hpa, keda), json (aws)"
    )
    sp.add_argument("--out", default=None, help="write to this file instead of printing")
    sp.add_argument("--plan", default=None, help="plan_id whose schedule KEDA uses (default: the latest)")
    sp = add(
        "simulate",
        "Replay a service's stored history through the reactive (HPA-like), predictive and hybrid policies "
        "of [autoscaling] and score them: under-provisioned minutes, peak shortfall, instance-hours, cost, "
        "utilization, scaling actions.",
        cmd_simulate,
    )
    sp.add_argument("--service", required=True, help="the service (as in the inventory)")
    sp.add_argument("--since", default=None, help="replay from this date (default: all stored history)")
    sp.add_argument("--out", default=None, help="also write the scores as JSON")
    sp = add(
        "ui",
        "Start a Prefect server (runs, schedules, artifacts) and an MLflow server (models, runs) on "
        "127.0.0.1; Ctrl+C stops both.",
        cmd_ui,
        config=False,
    )
    sp.add_argument("--prefect-port", type=int, default=4200, help="default: %(default)s")
    sp.add_argument("--mlflow-port", type=int, default=5000, help="default: %(default)s")
    sp = add(
        "demo",
        "Generate the embedded demo company (seeded) and run the whole pipeline on it.",
        cmd_demo,
        config=False,
    )
    sp.add_argument("--out", default="data/demo", help="folder for the generated data (default: %(default)s)")
    sp.add_argument(
        "--weeks",
        type=_weeks,
        default=3,
        help="weekly past vintages before today's (2-8, default: %(default)s): scored, they make the "
        "accuracy-by-week chart",
    )
    sp.add_argument(
        "--size",
        choices=["small", "medium", "large"],
        default="small",
        help="data size (default: %(default)s)",
    )
    sp.add_argument("--seed", type=int, default=7, help="random seed (default: %(default)s)")
    sp.add_argument(
        "--config",
        default=None,
        help="config to run with (default: the one generated in --out)",
    )


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so the command unwinds like Ctrl+C: Prefect's flow
    run ends, context managers close the warehouse, and atexit stops the ephemeral server."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None, *, watch: bool = False) -> int:
    """Run one command. ``watch`` (the console entry point) starts the SIGKILL watchdog, once the
    arguments parsed: ``--help`` and usage errors start no extra process."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if watch:
        from capplan import watchdog

        watchdog.start()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return int(args.func(args) or 0)
    except CapplanError as err:
        print(f"error: {_safe(err)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated (SIGTERM)", file=sys.stderr)
        return 143
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def run() -> int:
    """The console entry point: :func:`main` with a watchdog that stops, after a SIGKILL, what the
    command started (tests call :func:`main` directly, without one)."""
    return main(watch=True)


if __name__ == "__main__":
    sys.exit(run())
