"""The ``capplan`` command line: argument parsing and printing; each command runs one flow of
:mod:`capplan.pipelines`. ``--help`` stays fast: heavy imports happen inside commands."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from capplan.core.errors import CapplanError

DEFAULT_CONFIG = "capplan.toml"

EPILOG = """\
typical use:
  capplan demo                         generate the demo company and run the whole pipeline
  capplan ingest --config capplan.toml load every [[sources]] entry into the warehouse
  capplan status --config capplan.toml what the warehouse holds, last batches, quarantine

Exit codes: 0 success; 1 a file was rejected or an alert at --fail-on level was raised;
2 a usage or configuration error (the message says what and where)."""


def _config(args):
    from capplan.core.config import load_config

    return load_config(args.config)


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
    for r in rejected:
        print(f"rejected: {r['message']}", file=sys.stderr)
    if quarantined:
        print("See why rows were quarantined: capplan status --config ... (or SELECT * FROM quarantine)")
    return 1 if rejected else 0


def cmd_status(args) -> int:
    from capplan.reporting import table
    from capplan.warehouse import store, warehouse

    cfg = _config(args)
    if not cfg.warehouse_path.exists():
        raise CapplanError(
            f"{cfg.warehouse_path}: no warehouse yet; run `capplan ingest --config {args.config}`"
        )
    with warehouse(cfg.warehouse_path, read_only=True) as con:
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
    print(table(rows, [(c, c) for c in batches.columns]))
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
    if args.dask:
        from capplan.pipelines.train import dask_train_flow

        s = dask_train_flow(cfg, workers=args.dask, quiet=args.quiet, as_of=_as_of(args.as_of))
    else:
        s = train_flow(cfg, quiet=args.quiet, as_of=_as_of(args.as_of))
    print("\nBacktest leaderboard (mean over series; lower is better):")
    print(table(s.leaderboard.to_dict("records"), [("model", "model"), ("mase", "MASE"), ("smape", "sMAPE")]))
    counts = s.champions["champion"].value_counts()
    print("\nChampions: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for uid, note in list(s.notes.items())[:10]:
        print(f"  note: {uid}: {note}")
    prev = f" (previous v{s.previous_version} kept as 'fallback')" if s.previous_version else ""
    print(
        f"\nMLflow run {s.run_id}; champions registered as version {s.model_version} with alias 'champion'{prev}."
    )
    print(
        f"Done in {time.perf_counter() - t0:.0f} s. Compare models in the UI: make ui  (http://127.0.0.1:5000)"
    )
    return 0


def cmd_forecast(args) -> int:
    from capplan.pipelines.forecast import forecast_flow

    cfg = _config(args)
    pub = forecast_flow(cfg, horizon=args.horizon, out=args.out)
    f = pub.forecasts
    print(
        f"Published {f['unique_id'].nunique()} series x {f.groupby('unique_id').size().max()} steps "
        f"(champions v{pub.model_version}, run {pub.run_id}) into table 'forecasts'."
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


def cmd_plan(args) -> int:
    from capplan.pipelines.plan import compare_plan, plan_flow
    from capplan.reporting import print_alerts, print_changes, print_runway, table

    cfg = _config(args)
    result = plan_flow(cfg)
    t = result.tables
    print(
        f"Capacity plan as of {result.as_of} (forecast run {result.run_id[:8]}), scenarios: {', '.join(cfg.scenarios)}"
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

    cfg = _config(args)
    paths = export_flow(cfg, out=args.out, formats=args.format, plan_id=args.plan)
    for fmt, p in paths.items():
        shown = f"{len(p)} files in {Path(p[0]).parent}" if isinstance(p, list) else str(p)
        print(f"  {fmt:5} {shown}")
    return 0


def cmd_refresh(args) -> int:
    from capplan.pipelines.refresh import RefreshOptions, pipeline_flow

    cfg = _config(args)
    t0 = time.perf_counter()
    options = RefreshOptions(retrain=not args.no_retrain, quiet=args.quiet)
    result = pipeline_flow(
        cfg, options, progress=lambda s: print(f"[{s}]  (+{time.perf_counter() - t0:.0f} s)", flush=True)
    )
    for key, value in result.summary().items():
        print(f"  {key:16} {value}")
    return 1 if any(r["status"] == "rejected" for r in result.ingest or []) else 0


def cmd_serve(args) -> int:
    from capplan.core.config import load_config

    load_config(args.config)  # fail now, not at 3 a.m.
    from capplan.pipelines.refresh import serve

    print(f"Serving '{args.name}' on cron '{args.cron}' (Ctrl+C to stop); runs appear in the Prefect UI.")
    serve(args.config, args.cron, name=args.name, retrain=not args.no_retrain)
    return 0


def cmd_demo(args) -> int:
    from capplan.pipelines.demo_run import run_demo

    return run_demo(out=Path(args.out), size=args.size, seed=args.seed, config=args.config)


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
    sp = add(
        "train",
        "Backtest every configured model on every series, choose a champion per series, log to MLflow "
        "and register the champions (alias 'champion').",
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
        help="backtest the models in parallel on a local Dask cluster of WORKERS processes (needs PREFECT_API_URL)",
    )
    sp.add_argument("--quiet", action="store_true", help="no progress lines")
    sp = add(
        "forecast",
        "Publish the registered champions' quantile forecasts for every series into the forecast ledger.",
        cmd_forecast,
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
    sp = add(
        "refresh",
        "Run the whole pipeline once: ingest, train, forecast, score, plan and export.",
        cmd_refresh,
    )
    sp.add_argument("--no-retrain", action="store_true", help="forecast with the registered champions")
    sp.add_argument("--quiet", action="store_true", help="no per-file and per-model progress lines")
    sp = add(
        "serve",
        "Run the whole pipeline (ingest, train, forecast, score, plan, export) on a cron schedule "
        "as a Prefect deployment; needs a Prefect server (PREFECT_API_URL).",
        cmd_serve,
    )
    sp.add_argument(
        "--cron", default="0 3 * * *", help="schedule in cron syntax (default: %(default)s, daily at 03:00)"
    )
    sp.add_argument("--name", default="capplan-refresh", help="deployment name (default: %(default)s)")
    sp.add_argument(
        "--no-retrain", action="store_true", help="reuse the registered champions; do not retrain"
    )
    sp = add(
        "demo",
        "Generate the embedded demo company (seeded) and run the whole pipeline on it.",
        cmd_demo,
        config=False,
    )
    sp.add_argument("--out", default="data/demo", help="folder for the generated data (default: %(default)s)")
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
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CapplanError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
