"""The ``capplan`` commands: each runs one flow of :mod:`capplan.pipelines` and prints what it did.

Heavy imports happen inside the commands, so ``capplan --help`` stays fast."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from capplan.core.errors import CapplanError

DEFAULT_CONFIG = "capplan.toml"


def _config(args, writes: bool = True):
    """The command's config; for commands that write, the warehouse path checked before any flow."""
    from capplan.core.config import load_config

    cfg = load_config(args.config)
    if writes:
        from capplan.warehouse.connection import check_warehouse_path

        check_warehouse_path(cfg.warehouse_path)
    return cfg


def cmd_ingest(args) -> int:
    from capplan.reporting import table

    cfg = _config(args)
    if not cfg.sources:
        raise CapplanError(f"{args.config}: no [[sources]] entries to ingest")
    from capplan.pipelines.ingest import ingest_flow

    t0 = time.perf_counter()
    print(f"Ingesting {len(cfg.sources)} source(s) into {cfg.warehouse_path}")
    reports = ingest_flow(cfg, engine=args.engine, quiet=args.quiet)
    cols = [
        ("source", "source"),
        ("file", "file"),
        ("status", "status"),
        ("rows_in", "in"),
        ("rows_loaded", "loaded"),
        ("rows_quarantined", "quarantined"),
        ("rows_updated", "updated"),
        ("rows_duplicate", "duplicates"),
    ]
    rows = [dict(r, file=Path(r["path"]).name) for r in reports]
    print()
    print(table(rows, cols))
    rejected = [r for r in reports if r["status"] == "rejected"]
    quarantined = sum(r["rows_quarantined"] for r in reports)
    print(
        f"\n{len(reports)} file(s) in {time.perf_counter() - t0:.1f} s: "
        f"{sum(r['rows_loaded'] for r in reports):,} rows loaded, {quarantined:,} quarantined, "
        f"{len(rejected)} rejected."
    )
    for r in reports:
        if r["status"] == "loaded" and r.get("message"):
            print(f"note: {Path(r['path']).name}: {_safe(r['message'])}")
    for r in rejected:
        print(f"rejected: {_safe(r['message'])}", file=sys.stderr)
    if quarantined:
        print("See why rows were quarantined: capplan status --config ... (or SELECT * FROM quarantine)")
    return 1 if rejected else 0


def existing_warehouse(cfg, args) -> Path:
    """The config's warehouse path; a clear error naming the command to run when there is none."""
    if not cfg.warehouse_path.exists():
        raise CapplanError(
            f"{cfg.warehouse_path}: no warehouse yet; run `capplan ingest --config {args.config}`"
        )
    return cfg.warehouse_path


def cmd_status(args) -> int:
    from capplan.reporting import table
    from capplan.warehouse import store, warehouse

    cfg = _config(args, writes=False)
    with warehouse(existing_warehouse(cfg, args), read_only=True) as con:
        st = store.status(con, args.limit)
    print(f"Warehouse {cfg.warehouse_path}")
    rows = [
        dict(t, check="holds" if t["repeats"] == 0 else f"VIOLATED: {t['repeats']} rows repeat a key")
        for t in st["tables"]
    ]
    print(
        table(
            rows,
            [("table", "table"), ("rows", "rows"), ("key", "key"), ("check", "key check")],
            right={"rows"},
        )
    )
    bad = [t["table"] for t in st["tables"] if t["repeats"]]
    print(
        "Every table's key holds."
        if not bad
        else f"Keys VIOLATED in {', '.join(bad)}: re-ingest or report a bug."
    )
    batches = st["batches"]
    print(f"\nLast {len(batches)} batches:")
    rows = batches.assign(path=batches["path"].map(lambda p: Path(p).name)).to_dict("records")
    print(table(rows, [(c, c) for c in batches.columns if c != "message"]))
    for r in rows:  # why a file was rejected; notes such as a sparse series read at a coarser frequency
        if r.get("message"):
            print(
                f"  {'rejected' if r['status'] == 'rejected' else 'note'}: {r['path']}: {_safe(r['message'])}"
            )
    q = st["quarantine"]
    if len(q):
        print(f"\nQuarantined rows (first {len(q)}):")
        rows = q.assign(path=q["path"].map(lambda p: Path(p).name)).to_dict("records")
        print(table(rows, [(c, c) for c in q.columns]))
    return 0


def _as_of(text):
    if text is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(text)
    except ValueError:
        raise CapplanError(
            f"--as-of {text!r} is not a date or timestamp (e.g. 2026-11-01 or 2026-11-01T12:00)"
        ) from None
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def cmd_train(args) -> int:
    from capplan.pipelines.train import train_flow, with_models
    from capplan.reporting import table

    cfg = _config(args)
    if args.models:
        cfg = with_models(cfg, args.models.split(","))
    t0 = time.perf_counter()
    print(
        f"Training on {cfg.warehouse_path}: models {', '.join(cfg.forecast.models)}, "
        f"{cfg.forecast.backtest.folds} backtest folds, horizon {cfg.forecast.horizon}"
    )
    from capplan.pipelines.runners import on_runner

    run, parallel = on_runner(train_flow, cfg, args.dask)
    s = run(cfg, quiet=args.quiet, as_of=_as_of(args.as_of), parallel=parallel)
    print(
        "\nBacktest leaderboard (mean over series; MASE, sMAPE lower is better; rel: geometric mean of "
        "per-series ratios to seasonal naive; coverage near nominal):"
    )
    from capplan.evaluation.metrics import interval_nominals

    nominal = interval_nominals(cfg.forecast.quantiles)
    cover = [(c, c.removeprefix("coverage_").replace("_", "-") + f" covered (nominal {nominal[c]:.0%})")
             for c in s.leaderboard.columns if c in nominal]  # fmt: skip
    cover = [
        x for c, label in cover for x in ((c, label), ("coverage_error_" + c[9:], "mean |error| per series"))
    ]
    rel = [("rel_mase", "rel MASE"), ("rel_crps", "rel CRPS")]
    cols = [("model", "model"), ("mase", "MASE"), ("smape", "sMAPE"), *rel, *cover]
    print(table(s.leaderboard.to_dict("records"), cols))
    counts = s.champions["champion"].value_counts()
    print("\nChampions: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for uid, note in list(s.notes.items())[:10]:
        print(f"  note: {uid}: {note}")
    for line in s.failed:
        print(f"  warning: {line}")
    prev = f" (previous v{s.previous_version} kept as 'fallback')" if s.previous_version else ""
    print(
        f"\nMLflow run {s.run_id}; champions registered as version {s.model_version} with alias 'champion'{prev}."
    )
    print(
        f"Done in {time.perf_counter() - t0:.0f} s. Compare models in the UI: make ui  (http://127.0.0.1:5000)"
    )
    return 0


def cmd_forecast(args) -> int:
    from capplan.core.config import cli_horizon

    horizon = cli_horizon(args.horizon)
    cfg = _config(args)
    if args.out:
        _writable_folder(Path(args.out).parent, "--out")
    from capplan.pipelines.forecast import forecast_flow
    from capplan.pipelines.runners import on_runner

    run, parallel = on_runner(forecast_flow, cfg, pool=False)
    pub = run(cfg, horizon=horizon, out=args.out, as_of=_as_of(args.as_of), parallel=parallel)
    f = pub.forecasts
    refit = f"; {pub.refitted} series re-fitted on newer data" if pub.refitted else ""
    print(
        f"Published vintage {pub.forecast_id}: {f['unique_id'].nunique()} series x "
        f"{f.groupby('unique_id').size().max()} steps from {f['cutoff'].min()} "
        f"(champions v{pub.model_version}, training run {pub.run_id}{refit}) into table 'forecasts'."
    )
    if pub.csv:
        print(f"CSV: {pub.csv}")
    return 0


def cmd_score(args) -> int:
    from capplan.pipelines.forecast import score_flow
    from capplan.reporting import table

    cfg = _config(args)
    health = score_flow(cfg)
    scored = health[health["reference"].notna()] if "reference" in health else health
    if health.empty:
        print(
            "No actuals have arrived yet for any published forecast: nothing to score. Run again after the next ingest."
        )
        return 0
    print(f"Scored {len(health)} series against their actuals; accuracy in table 'forecast_accuracy'.")
    bad = health[health["degraded"]] if len(health) else health
    if len(bad):
        print(
            f"\n{len(bad)} series degraded beyond {cfg.forecast.degradation_threshold:.0%}: retrain recommended"
        )
        print(
            table(
                bad[["unique_id", "recommendation"]].to_dict("records"),
                [("unique_id", "series"), ("recommendation", "why")],
            )
        )
    elif len(scored):
        print("No series degraded beyond the threshold.")
    return 0


def compare_plan(cfg, plan_id: str, against: str | None = None):
    """What changed from plan ``against`` (default: the one stored before ``plan_id``) to ``plan_id``.

    Returns the plan compared against (None when there is none) and ``planning.compare_plans``' frame.
    """
    import pandas as pd

    from capplan.planning import compare_plans
    from capplan.planning.compare import CHANGE_COLUMNS
    from capplan.warehouse import store, warehouse

    with warehouse(cfg.warehouse_path, read_only=True) as con:
        other = against or store.previous_plan_id(con, plan_id)
        if other is None:
            return None, pd.DataFrame(columns=list(CHANGE_COLUMNS))
        if not store.has_plan(con, other):
            raise CapplanError(f"--compare: no plan {other!r} in the warehouse (see plan_runs)")
        new, old = store.plan_tables(con, plan_id), store.plan_tables(con, other)
    return other, compare_plans(new, old)


def cmd_plan(args) -> int:
    from capplan.pipelines.plan import plan_flow
    from capplan.pipelines.runners import on_runner
    from capplan.reporting import print_alerts, print_changes, print_runway, table

    cfg = _config(args)
    run, parallel = on_runner(plan_flow, cfg)
    result = run(cfg, notify=not args.no_notify, parallel=parallel)
    t = result.tables
    print(
        f"Capacity plan as of {result.as_of} (forecast vintage {result.forecast_id[:8]}), scenarios: {', '.join(cfg.scenarios)}"
    )
    print_runway(t.runway, list(cfg.scenarios))
    values = [c for c in ("monthly_cost", "monthly_cost_capped") if c in t.cost]
    cost = t.cost.groupby("scenario")[values].sum()
    cost = cost.reindex([s for s in cfg.scenarios if s in cost.index]).reset_index()
    print(
        "\nMonthly cost per scenario (run rate at the horizon's peak; serving the demand, and within max_instances):"
    )
    print(
        table(
            cost.to_dict("records"),
            [
                ("scenario", "scenario"),
                ("monthly_cost", "monthly cost"),
                ("monthly_cost_capped", "within caps"),
            ],
        )
    )
    al = t.alerts
    print_alerts(al)
    if result.delivery is not None:
        print(
            ("" if result.delivery.sent else "warning: ") + result.delivery.line(),
            file=sys.stdout if result.delivery.sent else sys.stderr,
        )
    if args.compare:
        against = None if args.compare == "previous" else args.compare
        other, changes = compare_plan(cfg, result.plan_id, against)
        print_changes(changes, other)
    print(
        f"\nPlan {result.plan_id} stored in the warehouse (plan_runs, plan, runway, cost, alerts, ...; "
        "earlier plans are kept)."
    )
    print(
        f"Export for planners: capplan export --config {args.config} --format xlsx --out {cfg.resolve(cfg.export.out_dir)}"
    )
    order = {"info": 0, "warning": 1, "critical": 2}
    if args.fail_on and len(al) and al["severity"].map(order).max() >= order[args.fail_on]:
        print(f"failing: alerts at or above '{args.fail_on}'", file=sys.stderr)
        return 1
    return 0


def cmd_export(args) -> int:
    from capplan.pipelines.export import export_flow
    from capplan.pipelines.runners import local_pool

    cfg = _config(args)
    _writable_folder(Path(args.out) if args.out else cfg.resolve(cfg.export.out_dir), "export folder")
    run, parallel = local_pool(export_flow, cfg)
    paths = run(cfg, out=args.out, formats=args.format, plan_id=args.plan, parallel=parallel)
    for fmt, p in paths.items():
        shown = f"{len(p)} files in {Path(p[0]).parent}" if isinstance(p, list) else str(p)
        print(f"  {fmt:5} {shown}")
    return 0


def cmd_refresh(args) -> int:
    from capplan.pipelines.refresh import RefreshOptions, pipeline_flow
    from capplan.reporting.console import run_summary

    cfg = _config(args)
    t0 = time.perf_counter()
    options = RefreshOptions(retrain=_retrain(args), quiet=args.quiet, resume=not args.no_resume)
    result = pipeline_flow(
        cfg, options, progress=lambda s: print(f"[{s}]  (+{time.perf_counter() - t0:.0f} s)", flush=True)
    )
    for key, value in run_summary(result).items():
        print(f"  {key:16} {value}")
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 1 if any(r["status"] == "rejected" for r in result.ingest or []) else 0


def cmd_serve(args) -> int:
    from capplan.core.config import load_config

    load_config(args.config)  # fail now, not at 3 a.m.
    if args.cron:
        _check_cron(args.cron)
    from capplan.pipelines.refresh import serve

    what = f"'{args.name}' on cron '{args.cron}'" if args.cron else f"the [schedules] of {args.config}"
    print(f"Serving {what} (Ctrl+C to stop); runs appear in the Prefect UI.", flush=True)
    serve(args.config, args.cron, name=args.name, retrain=_retrain(args))
    return 0


def cmd_deploy(args) -> int:
    from capplan.core.config import load_config

    load_config(args.config)  # fail now, with the file named
    from capplan.pipelines.refresh import deploy

    names, created = deploy(args.config, args.pool)
    if created:
        print(f"Created work pool '{args.pool}' (type process).")
    print(f"Registered on work pool '{args.pool}': {', '.join(names)}")
    print(f"Start a worker where capplan is installed:  prefect worker start --pool {args.pool}")
    return 0


def _retrain(args) -> bool | None:
    """--retrain: always; --no-retrain: never; neither: when the ledger says so."""
    return True if args.retrain else False if args.no_retrain else None


def cmd_rollback(args) -> int:
    from capplan.pipelines.tracking import rollback

    cfg = _config(args)
    restored, demoted = rollback(cfg)
    print(
        f"Rolled back: version {restored} holds 'champion' again; version {demoted} now holds 'fallback' "
        "(a second rollback undoes this)."
    )
    print(f"Publish its forecast: capplan forecast --config {args.config}")
    return 0


def cmd_ui(args) -> int:
    from capplan.servers import serve_ui

    serve_ui(args.prefect_port, args.mlflow_port)
    return 0


def _writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` if needed; a CapplanError if that fails or it cannot be written."""
    folder = Path(folder) if str(folder) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CapplanError(f"{what} {folder}: cannot create the folder: {err.strerror or err}") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise CapplanError(f"{what} {folder}: not a writable folder; choose another one")


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")


def _check_cron(cron: str) -> None:
    """A cron string of five fields (minute hour day month weekday), checked before serving."""
    fields = cron.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise CapplanError(
            f"--cron {cron!r} is not a cron schedule of five fields (minute hour day month weekday), "
            "e.g. '0 3 * * *' for 03:00 daily"
        )
    from datetime import datetime

    from cronsim import CronSim, CronSimError

    try:
        CronSim(cron, datetime(2026, 1, 1))
    except CronSimError as err:
        raise CapplanError(f"--cron {cron!r}: {err}; e.g. '0 3 * * *' for 03:00 daily") from None


def cmd_demo(args) -> int:
    from capplan.pipelines.demo_run import run_demo

    return run_demo(out=Path(args.out), size=args.size, seed=args.seed, config=args.config, weeks=args.weeks)


def _safe(text: object) -> str:
    from capplan.reporting.console import safe_text

    return safe_text(text)
