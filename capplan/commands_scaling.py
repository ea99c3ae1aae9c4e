"""``capplan scaling-config`` and ``capplan simulate``: autoscaling from the plan and the history."""

from __future__ import annotations

import sys
from pathlib import Path

from capplan.core.errors import CapplanError

from .commands import _as_of, _config, existing_warehouse


def cmd_scaling_config(args) -> int:
    import json

    from capplan.reporting import scaling_configs as sc
    from capplan.warehouse import store, warehouse

    cfg = _config(args)
    policy = cfg.autoscaling.for_service(args.service)
    from capplan.planning.autoscale import recent_forecast_error

    with warehouse(existing_warehouse(cfg, args), read_only=True) as con:
        inventory = store.read(con, "inventory")
        schedule = store.scaling_schedule(con, args.service, args.plan) if args.format == "keda" else None
        keda = args.format == "keda"
        scored = store.published_vs_actual(con, args.service, policy.fallback_window_s) if keda else None
    if inventory.empty:
        raise CapplanError("the warehouse has no inventory; add an [[sources]] entry of kind 'inventory'")
    if args.format == "hpa":
        doc = sc.hpa_manifest(args.service, policy, inventory)
    elif args.format == "keda":
        scored = scored.assign(resource=scored["metric"].map(cfg.resource_of)).dropna(subset=["resource"])
        _, reason = recent_forecast_error(scored, inventory, args.service, policy)
        if reason:
            print(f"note: {args.service}: {reason}; the cron triggers are left out", file=sys.stderr)
        doc = sc.keda_scaled_object(args.service, policy, inventory, schedule, reason)
    else:
        doc = sc.aws_predictive_policy(args.service, policy, inventory)
    if (args.output or ("json" if args.format == "aws" else "yaml")) == "json":
        text = json.dumps(doc, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(doc, sort_keys=False)
    if args.out:
        Path(args.out).write_text(text)
        print(f"{args.format} configuration for {args.service} written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_simulate(args) -> int:
    import json

    from capplan.planning.autoscale import simulate_service
    from capplan.reporting import table
    from capplan.warehouse import store, warehouse

    cfg = _config(args)
    policy = cfg.autoscaling.for_service(args.service)
    with warehouse(existing_warehouse(cfg, args), read_only=True) as con:
        raw = store.service_usage(con, args.service, _as_of(args.since))
        inventory = store.read(con, "inventory")
    if raw.empty:
        raise CapplanError(f"no stored observations for service {args.service!r}")
    raw["resource"] = raw["metric"].map(cfg.resource_of)
    use = raw.dropna(subset=["resource"]).groupby(["resource", "ds"], as_index=False)["y"].sum()
    sim = simulate_service(use, inventory, args.service, policy, quantile=cfg.planning.scaling_quantile)
    scores, events = sim.scores, sim.events
    print(
        f"Replay of {args.service}: {int(scores['steps'].iloc[0])} steps from {use['ds'].min()} to "
        f"{use['ds'].max()}, start-up delay {policy.startup_delay_s} s, warm-up {policy.warmup_s} s, "
        f"predictive at p{cfg.planning.scaling_quantile * 100:g} of the {policy.predictor.replace('_', '-')} "
        f"forecast; peers: crane_dsp (DSP {policy.dsp_estimator}, HPA on max(actual, predicted)), "
        f"ahpa (robust decomposition, shifted by the start-up delay, max(proactive, reactive))"
    )
    cols = [(c, c.replace("_", " ")) for c in scores.columns if c not in ("service", "steps")]
    print(table(scores.round(3).to_dict("records"), [("policy", "policy"), *cols[1:]]))
    for e in events:
        print(f"  {e['ds']}: {e['event']}: {e['reason']}")
    if args.out:
        from capplan.planning.scaling_frontier import sweep
        from capplan.reporting.scaling_plot import frontier_png

        quantiles = sorted({q for q in cfg.forecast.quantiles if q >= 0.5} | {cfg.planning.scaling_quantile})
        front = sweep(use, inventory, args.service, policy, quantiles=tuple(quantiles), margins=(0.0, 0.1))
        out = Path(args.out)
        png = out.with_name(out.stem + "_frontier.png")
        payload = {
            "service": args.service,
            "policy": policy.model_dump(mode="json"),
            "scores": scores.to_dict("records"),
            "fallback_events": [dict(e, ds=str(e["ds"])) for e in events],
            "frontier": front.astype(object).where(front.notna(), None).to_dict("records"),
        }
        out.write_text(json.dumps(payload, indent=2, default=float) + "\n")
        png.write_bytes(frontier_png(front, f"{args.service}: cost vs risk of {len(front)} policy settings"))
        eff = front[front["efficient"]]
        print(
            f"Scores and a {len(front)}-setting frontier ({len(eff)} efficient) written to {out}; plot: {png}"
        )
    return 0
