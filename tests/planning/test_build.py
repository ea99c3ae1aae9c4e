"""build_plan on hand-built inputs: exact numbers, and the figures of different tables agree."""

from __future__ import annotations

import pandas as pd
import pytest

from capplan.core.bundles import HOURS_PER_MONTH, PlanInputs
from capplan.core.config import config_from_dict
from capplan.core.errors import ConfigError
from capplan.planning import build_plan

CUTOFF = pd.Timestamp("2026-11-01 23:00")


def _cfg(**planning):
    return config_from_dict(
        {
            "forecast": {"quantiles": [0.1, 0.5, 0.9]},
            "scenarios": {"expected": {"quantile": 0.5}, "high": {"quantile": 0.9}},
            "planning": {"redundancy": "none", "headroom": 0.1, **planning},
        }
    )


def _inputs() -> PlanInputs:
    ds = pd.date_range(CUTOFF + pd.Timedelta(hours=1), periods=72, freq="h")
    fc = pd.DataFrame(
        {
            "unique_id": "api:cpu",
            "ds": ds,
            "model": "stub",
            "cutoff": CUTOFF,
            "p10": 8.0,
            "p50": 10.0,
            "p90": 14.0,
        }
    )
    series = pd.DataFrame(
        [{"unique_id": "api:cpu", "service": "api", "metric": "cpu", "region": None, "unit": "cores",
          "kind": "gauge", "frequency": "h", "source": "test"}]
    )  # fmt: skip
    inventory = pd.DataFrame(
        [{"service": "api", "resource": "cpu", "capacity_per_instance": 4.0, "unit": "cores", "instances": 3,
          "target_utilization": 0.5, "max_instances": 20, "cost_per_instance_hour": 1.0, "instance_type": None}]
    )  # fmt: skip
    hist_ds = pd.date_range(CUTOFF - pd.Timedelta(days=30), CUTOFF, freq="h")
    events = pd.DataFrame(columns=["name", "kind", "start", "end", "services", "expected_uplift"])
    return PlanInputs(
        run_id="run1",
        forecasts=fc,
        series=series,
        inventory=inventory,
        events=events.astype({"start": "datetime64[ns]", "end": "datetime64[ns]"}),
        kpis=pd.DataFrame(columns=["kpi", "ds", "value"]),
        history=pd.DataFrame({"unique_id": "api:cpu", "ds": hist_ds, "y": 8.0}),
    )


def test_exact_sizing_cost_headroom_and_runway():
    t = build_plan(_inputs(), _cfg())
    cost = t.cost.set_index("scenario")
    # p50 10 cores x 1.1 headroom / (4 cores x 0.5) = 5.5 -> 6 instances at $1/h; p90 14 -> 7.7 -> 8
    assert cost.loc["expected", "instances_required"] == 6 and cost.loc["high", "instances_required"] == 8
    assert cost.loc["expected", "monthly_cost"] == 6 * HOURS_PER_MONTH
    # without headroom 10 / 2 = 5 instances: the headroom costs one instance a month
    assert cost.loc["expected", "headroom_cost"] == 1 * HOURS_PER_MONTH
    rw = t.runway.set_index("scenario")
    assert rw.loc["expected", "status"] == "already_short"  # 3 x 4 x 0.5 = 6 usable < 10
    assert t.plan_summary.set_index("metric").loc["monthly cost expected", "value"] == 6 * HOURS_PER_MONTH


def test_every_cost_figure_comes_from_the_same_sizing():
    t = build_plan(_inputs(), _cfg())
    peak = t.plan.groupby("scenario")["cost_per_hour"].max() * HOURS_PER_MONTH
    assert t.cost.set_index("scenario")["monthly_cost"].to_dict() == peak.to_dict()
    # the frontier sizes the expected scenario at every quantile: at its own quantile it is its cost
    fr = t.frontier.set_index("quantile")
    assert fr.loc[0.5, "monthly_cost"] == t.cost.set_index("scenario").loc["expected", "monthly_cost"]
    assert fr.loc[0.9, "instances_required"] == 8
    months = t.plan_totals.groupby("scenario")["monthly_cost"].max()
    assert months.to_dict() == t.cost.set_index("scenario")["monthly_cost"].to_dict()


def test_the_expected_scenario_comes_from_config():
    t = build_plan(_inputs(), _cfg(expected_scenario="high"))
    fr = t.frontier.set_index("quantile")
    assert fr.loc[0.9, "monthly_cost"] == t.cost.set_index("scenario").loc["high", "monthly_cost"]
    assert "monthly cost of headroom (high)" in set(t.plan_summary["metric"])


def test_a_quantile_the_plan_needs_but_the_forecast_lacks_is_a_config_error():
    with pytest.raises(ConfigError, match=r"planning.scaling_quantile = 0.95 is not a forecast quantile"):
        _cfg(scaling_quantile=0.95)
    with pytest.raises(ConfigError, match="expected_scenario 'nope' is not one of the scenarios"):
        _cfg(expected_scenario="nope")


def _capped_inputs(max_instances: int) -> PlanInputs:
    inputs = _inputs()
    inv = inputs.inventory.assign(max_instances=max_instances)
    return PlanInputs(**{**inputs.__dict__, "inventory": inv})


def test_a_scenario_costs_what_serving_its_demand_costs_the_cap_is_an_action():
    t = build_plan(_capped_inputs(6), _cfg())
    cost = t.cost.set_index("scenario")
    # high: p90 14 x 1.1 / 2 = 7.7 -> 8 instances needed; max_instances 6 caps the count, not the cost
    assert cost.loc["high", "instances_uncapped"] == 8 and cost.loc["high", "instances_required"] == 6
    assert cost.loc["high", "monthly_cost"] == 8 * HOURS_PER_MONTH
    assert cost.loc["high", "monthly_cost_capped"] == 6 * HOURS_PER_MONTH
    assert cost.loc["expected", "monthly_cost"] == 6 * HOURS_PER_MONTH  # 6 needed, 6 allowed
    # 6 instances x 4 cores x 0.5 serve 12 of the 14 cores: 2 unserved every day
    high = t.plan[t.plan["scenario"] == "high"]
    assert set(high["demand_unserved"]) == {2.0} and set(
        t.plan.loc[t.plan["scenario"] == "expected", "demand_unserved"]
    ) == {0.0}
    # invariants: frontier at the scenario's quantile = its cost; headroom = with - without (7 without)
    fr = t.frontier.set_index("quantile")
    assert fr.loc[0.9, "monthly_cost"] == cost.loc["high", "monthly_cost"]
    assert fr.loc[0.5, "monthly_cost"] == cost.loc["expected", "monthly_cost"]
    assert cost.loc["high", "headroom_cost"] == (8 - 7) * HOURS_PER_MONTH
    assert (cost["monthly_cost"] - cost["headroom_cost"] == cost["monthly_cost_no_headroom"]).all()
    totals = t.plan_totals.groupby("scenario")[["monthly_cost", "monthly_cost_capped"]].max()
    assert totals.loc["high"].tolist() == [8 * HOURS_PER_MONTH, 6 * HOURS_PER_MONTH]
    cap = t.alerts[t.alerts["kind"] == "cap_hit"].iloc[0]
    assert cap["scenarios"] == "high" and cap["message"].startswith("raise max_instances from 6 to 8 before")


def test_rightsizing_is_never_below_the_forecast_need():
    t = build_plan(_inputs(), _cfg())
    r = t.rightsizing.set_index("service").loc["api"]
    # trailing: p95 8 x 1.1 / 2 = 4.4 -> 5; forecast (expected) 6 > 3 today: a scale-up, not a saving
    assert r["trailing_need"] == 5 and r["forecast_need"] == 6
    assert r["action"] == "scale_up" and r["instances_recommended"] == 6 and r["monthly_saving"] == 0.0
    need = t.plan[t.plan["scenario"] == "expected"]["instances_uncapped"].max()
    assert (t.rightsizing["instances_recommended"] >= need).all()


def test_a_service_without_inventory_does_not_block_the_plan():
    inputs = _inputs()
    fc = pd.concat([inputs.forecasts, inputs.forecasts.assign(unique_id="auth:cpu")], ignore_index=True)
    series = pd.concat([inputs.series, inputs.series.assign(unique_id="auth:cpu", service="auth")])
    t = build_plan(PlanInputs(**{**inputs.__dict__, "forecasts": fc, "series": series}), _cfg())
    assert set(t.plan["service"]) == {"api"} and set(t.cost["service"]) == {"api"}
    bad = t.alerts[t.alerts["kind"] == "not_planned"]
    assert bad[["severity", "service", "resource"]].values.tolist() == [["critical", "auth", "cpu"]]
    assert "no inventory row" in bad["message"].iloc[0]


def test_actions_say_what_to_do_by_when_and_how_many():
    t = build_plan(_inputs(), _cfg())
    a = t.actions.set_index("service").loc["api"]
    # 3 instances today; the expected scenario needs 6 from the first day, high needs 8
    assert a["action"] == "scale_out" and a["instances_recommended"] == 6 and a["instances"] == 3
    assert a["by_date"] == t.plan["ds"].min() and a["severity"] == "critical"
    assert a["scenarios"] == "expected, high" and a["binding_resource"] == "cpu"
    assert a["monthly_cost_change"] == (6 - 3) * HOURS_PER_MONTH
    assert a["order_by_date"] == a["by_date"]  # no lead time configured
    late = build_plan(_inputs(), _cfg(lead_time_days={"cpu": 10})).actions.set_index("service").loc["api"]
    assert late["order_by_date"] == late["by_date"] - pd.Timedelta(days=10) and "order now" in late["note"]
    capped = build_plan(_capped_inputs(6), _cfg()).actions.set_index("service").loc["api"]
    assert capped["action"] == "raise_max_instances" and capped["instances_recommended"] == 8
    assert capped["scenarios"] == "high" and "from 6 to 8" in capped["note"]
    # the cap binds only in high, but expected needs 6 of today's 3 from the first day: due then
    assert capped["by_date"] == t.plan["ds"].min() and capped["severity"] == "critical"
    summary = t.plan_summary.set_index("metric")
    assert summary.loc["horizon (days)", "value"] == 3.0 and "expected" in summary.loc["scenarios", "note"]
    assert summary.loc["plan as of (forecast cutoff, UTC)", "note"] == "2026-11-01 23:00"


def test_autoscaling_replays_history_walk_forward_and_schedules_the_expected_demand():
    t = build_plan(_inputs(), _cfg())
    # the schedule: the next 48 hours of the expected scenario at scaling_quantile p90: 14 cores /
    # (4 x 0.5) = 7 instances, cpu binding, no redundancy ("none"), below max_instances 20
    s = t.scaling_schedule
    assert len(s) == 48 and (s["instances_recommended"] == 7).all()
    assert (s["binding_resource"] == "cpu").all() and not s["capped"].any()
    # the replay: 30 days of a constant 8 cores = 4 instances; the first week has no forecast and
    # the warm-up takes one hourly step, so 721 - 169 = 552 steps are scored for every policy
    r = t.autoscaling.set_index("policy")
    assert list(r.index) == ["reactive", "predictive", "hybrid", "crane_dsp", "ahpa"]
    assert (r["steps"] == 552).all() and (r["under_provisioned_minutes"] == 0).all()
    assert (r["instance_hours"] == 4 * 552).all() and r["winner"].tolist() == [True] + [False] * 4
    # the redundancy of [planning] applies to the schedule: n+1 adds one instance
    assert (
        build_plan(_inputs(), _cfg(redundancy="n+1")).scaling_schedule["instances_recommended"] == 8
    ).all()


def test_a_service_with_too_little_history_is_named_in_the_assumptions():
    from dataclasses import replace

    full = _inputs()
    t = build_plan(
        replace(full, history=full.history[full.history["ds"] > CUTOFF - pd.Timedelta(days=5)]), _cfg()
    )
    assert t.autoscaling.empty
    note = t.plan_assumptions.set_index("key").loc["autoscaling replay: api"]
    assert note["value"] == "not replayed" and "too short" in note["note"]
