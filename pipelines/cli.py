"""The ``capplan`` command line. ``--help`` stays fast: heavy imports happen inside commands."""

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
    from .ingest import ingest_flow

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
    from capplan.warehouse.connection import warehouse
    from capplan.warehouse.schema import duplicate_keys

    cfg = _config(args)
    if not cfg.warehouse_path.exists():
        raise CapplanError(
            f"{cfg.warehouse_path}: no warehouse yet; run `capplan ingest --config {args.config}`"
        )
    with warehouse(cfg.warehouse_path, read_only=True) as con:
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in (
                "series",
                "observations",
                "gaps",
                "kpis",
                "events",
                "inventory",
                "loadtests",
                "quarantine",
            )
        }
        print(f"Warehouse {cfg.warehouse_path}")
        print(table([counts], [(k, k) for k in counts]))
        dup = duplicate_keys(con, "observations")
        print(
            "Key (unique_id, ds) of observations: "
            + ("holds" if dup == 0 else f"VIOLATED, {dup} rows repeat a key (re-ingest or report a bug)")
        )
        batches = con.execute(
            "SELECT source, path, status, rows_in, rows_loaded, rows_quarantined, loaded_at "
            "FROM load_batches ORDER BY loaded_at DESC LIMIT ?",
            [args.limit],
        ).df()
        print(f"\nLast {len(batches)} batches:")
        rows = batches.assign(path=batches["path"].map(lambda p: Path(p).name)).to_dict("records")
        print(table(rows, [(c, c) for c in batches.columns]))
        q = con.execute(
            'SELECT source, path, line, "check", reason FROM quarantine ORDER BY batch_id, line LIMIT ?',
            [args.limit],
        ).df()
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


def with_models(cfg, models):
    """``cfg`` with another model list (validated against the registry)."""
    from capplan.core.config import ForecastConfig
    from capplan.models import available_models

    unknown = [m for m in models if m not in available_models()]
    if unknown:
        raise CapplanError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(available_models())}")
    fc = ForecastConfig.model_validate({**cfg.forecast.model_dump(), "models": tuple(models)})
    return cfg.model_copy(update={"forecast": fc})


def cmd_train(args) -> int:
    from capplan.reporting import table

    from .train import train_flow

    cfg = _config(args)
    if args.models:
        cfg = with_models(cfg, args.models.split(","))
    t0 = time.perf_counter()
    print(
        f"Training on {cfg.warehouse_path}: models {', '.join(cfg.forecast.models)}, "
        f"{cfg.forecast.backtest.folds} backtest folds, horizon {cfg.forecast.horizon}"
    )
    if args.dask:
        from .train import dask_train_flow

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
    from .forecast import forecast_flow

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
    from capplan.reporting import table

    from .forecast import score_flow

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
    from capplan.reporting import table

    from .plan import plan_flow

    cfg = _config(args)
    result = plan_flow(cfg)
    t = result.tables
    print(
        f"Capacity plan as of {result.as_of} (forecast run {result.run_id[:8]}), scenarios: {', '.join(cfg.scenarios)}"
    )
    _print_runway(t["runway"], list(cfg.scenarios))
    cost = t["cost"].groupby("scenario")["monthly_cost"].sum()
    cost = cost.reindex([s for s in cfg.scenarios if s in cost.index]).reset_index()
    print("\nMonthly cost per scenario (run rate at the horizon's peak):")
    print(table(cost.to_dict("records"), [("scenario", "scenario"), ("monthly_cost", "monthly cost")]))
    al = t["alerts"]
    _print_alerts(al)
    print(
        "\nPlan tables stored in the warehouse (plan, runway, bottlenecks, rightsizing, cost, frontier, alerts, ...)."
    )
    print(
        f"Export for planners: capplan export --config {args.config} --format xlsx --out {cfg.resolve(cfg.export.out_dir)}"
    )
    order = {"info": 0, "warning": 1, "critical": 2}
    if args.fail_on and len(al) and al["severity"].map(order).max() >= order[args.fail_on]:
        print(f"failing: alerts at or above '{args.fail_on}'", file=sys.stderr)
        return 1
    return 0


def _print_runway(rw, scenarios: list[str]) -> None:
    """One line per service and resource short in any scenario: days left per scenario."""
    from capplan.reporting import table

    short = rw[rw["status"] != "not_within_horizon"]
    if short.empty:
        print("\nNo service runs out of capacity within the horizon in any scenario.")
        return
    keys = short[["service", "resource"]].drop_duplicates()
    rows = keys.merge(rw, on=["service", "resource"])
    days = rows.pivot_table(
        index=["service", "resource"], columns="scenario", values="days_left", aggfunc="min"
    )
    days = days.reindex(columns=[s for s in scenarios if s in days.columns])
    first = short.groupby(["service", "resource"])["crossing"].min()
    days = days.assign(_first=days.min(axis=1)).sort_values("_first", kind="stable")
    out = []
    for (service, resource), r in days.iterrows():
        line = {"service": service, "resource": resource, "first": first.get((service, resource))}
        for sc in days.columns[:-1]:
            v = r[sc]
            line[sc] = "beyond" if v == float("inf") or v != v else ("short now" if v <= 0 else f"{v:.1f}")
        out.append(line)
    print(
        f"\nRunway: days until demand crosses usable capacity ({len(out)} service/resources short in some "
        "scenario; 'beyond': not within the horizon):"
    )
    cols = [("service", "service"), ("resource", "resource")] + [(c, c) for c in days.columns[:-1]]
    print(table(out, [*cols, ("first", "earliest date")], right=set(days.columns[:-1])))


def _print_alerts(al, limit: int = 12) -> None:
    """Counts per severity and kind, one line per service, then the most urgent alerts."""
    from capplan.reporting import table

    if al.empty:
        print("\nNo alerts.")
        return
    counts = al.groupby(["severity", "kind"]).size()
    summary = ", ".join(f"{n} {sev} {kind.replace('_', ' ')}" for (sev, kind), n in counts.items())
    print(f"\nAlerts: {summary}")
    serious = al[al["severity"] != "info"]
    if serious.empty:
        return
    per = serious.groupby("service", sort=False).agg(
        critical=("severity", lambda s: int((s == "critical").sum())),
        warning=("severity", lambda s: int((s == "warning").sum())),
        resources=("resource", lambda r: ", ".join(sorted({str(x) for x in r}))),
        scenarios=("scenario", lambda r: ", ".join(dict.fromkeys(str(x) for x in r))),
    )
    per = per.sort_values(["critical", "warning"], ascending=False, kind="stable").reset_index()
    print(
        table(
            per.to_dict("records"),
            [
                ("service", "service"),
                ("critical", "critical"),
                ("warning", "warning"),
                ("resources", "resources"),
                ("scenarios", "scenarios"),
            ],
        )
    )
    rank = {"critical": 0, "warning": 1}
    first = serious.assign(_r=serious["severity"].map(rank)).sort_values("_r", kind="stable").head(limit)
    more = len(serious) - len(first)
    print(
        f"\nFirst {len(first)} alerts"
        + (f" ({more} more in the alerts table and the Alerts sheet):" if more else ":")
    )
    print(
        table(
            first.to_dict("records"),
            [
                ("severity", "severity"),
                ("service", "service"),
                ("resource", "resource"),
                ("scenario", "scenario"),
                ("message", "message"),
            ],
        )
    )


def cmd_export(args) -> int:
    from capplan.reporting import export_bundle
    from capplan.warehouse.connection import warehouse

    from .report import bundle_from_warehouse

    cfg = _config(args)
    out = Path(args.out) if args.out else cfg.resolve(cfg.export.out_dir)
    formats = tuple(args.format) if args.format else cfg.export.formats
    with warehouse(cfg.warehouse_path, read_only=True) as con:
        bundle = bundle_from_warehouse(con, cfg)
    paths = export_bundle(bundle, out, formats)
    for fmt, p in paths.items():
        shown = f"{len(p)} files in {Path(p[0]).parent}" if isinstance(p, list) else str(p)
        print(f"  {fmt:5} {shown}")
    return 0


def cmd_serve(args) -> int:
    import os

    from capplan.core.config import load_config

    load_config(args.config)  # fail now, not at 3 a.m.
    if not os.environ.get("PREFECT_API_URL"):
        raise CapplanError(
            "serve needs a Prefect server to hold the schedule: start one with "
            "`.venv/bin/prefect server start --host 127.0.0.1` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    from prefect import serve

    from .refresh import deployment

    dep = deployment(args.config, args.cron, name=args.name, retrain=not args.no_retrain)
    print(f"Serving '{args.name}' on cron '{args.cron}' (Ctrl+C to stop); runs appear in the Prefect UI.")
    serve(dep)
    return 0


def cmd_demo(args) -> int:
    from .demo_run import run_demo

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
