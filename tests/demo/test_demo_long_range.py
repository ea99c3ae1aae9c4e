"""The demo company's long-range plan (stub forecast, no training): runway reaches months, a purchase
plan row per month, the hardware service's lead time, next year's Black Friday inside the horizon."""

from __future__ import annotations

import pandas as pd
import pytest

from capplan.core.config import config_from_dict
from capplan.demo import demo_config, demo_plan_inputs, generate_demo
from capplan.planning import build_plan


@pytest.fixture(scope="module")
def demo_plan():
    data = generate_demo()
    cfg = config_from_dict(demo_config(data))
    inputs = demo_plan_inputs(data)
    return inputs, cfg, build_plan(inputs, cfg)


def test_runway_reaches_months_beyond_the_short_horizon(demo_plan):
    inputs, cfg, plan = demo_plan
    r = plan.runway
    beyond = r[r["status"] == "not_within_horizon"]
    assert len(beyond) and beyond["horizon_days"].max() < 15  # the short horizon is two weeks
    reach = beyond[beyond["long_range_status"] == "within_horizon"]
    assert (
        len(reach) and (reach["months_left"] > 0.5).any()
    )  # months ahead, where the short horizon says beyond
    assert (
        reach["months_left_min"] <= reach["months_left"]
    ).all()  # the range: earliest from the higher quantile
    assert set(plan.long_range["model"]) == {
        "trend+seasonal (robust log-linear) + yearly",  # two years of history: the yearly shape is fitted
        "growth curve (robust linear, cumulative)",
    }


def test_purchase_plan_has_a_row_per_month_per_scenario_and_service(demo_plan):
    inputs, cfg, plan = demo_plan
    p = plan.purchase_plan
    first = inputs.as_of.to_period("M").to_timestamp()
    months = pd.date_range(first, periods=cfg.planning.long_range_months + 2, freq="MS")
    months = months[months <= plan.long_range["ds"].max()]
    for (scenario, service), g in p.groupby(["scenario", "service"]):
        assert g["period"].tolist() == list(months), (scenario, service)
    assert set(p["scenario"]) == set(cfg.scenarios)
    assert (p["instances_to_add"] >= 0).all() and (p["instances_needed"] >= p["instances"]).all()
    search = plan.runway[plan.runway["service"] == "search"]
    assert (search["lead_time_days"] == 45.0).all()  # hardware: the inventory's lead time
    assert (
        plan.runway.loc[plan.runway["service"] != "search", "lead_time_days"] == 2.0
    ).all()  # cloud: config


def test_next_black_friday_is_inside_the_long_range_plan(demo_plan):
    inputs, cfg, plan = demo_plan
    bf = inputs.events[(inputs.events["name"] == "black_friday") & (inputs.events["start"] > inputs.as_of)]
    assert bf["start"].max() < plan.long_range["ds"].max()  # next year's, 2027-11-26
    lr = plan.long_range
    web = lr[(lr["service"] == "web") & (lr["resource"] == "rps") & (lr["scenario"] == "black_friday")]
    web = web.set_index("ds")["demand"]
    week = pd.Timestamp("2027-11-22")  # the Monday of Black Friday 2027's week (weekly peaks)
    assert web[week] > 2 * web[week - pd.Timedelta(days=14)]  # the stated x6 uplift
    storage = lr[
        (lr["service"] == "web") & (lr["resource"] == "storage") & (lr["scenario"] == "black_friday")
    ]
    s = storage.set_index("ds")["demand"]
    assert s[week] < 1.05 * s[week - pd.Timedelta(days=14)]  # storage is not traffic


def test_long_range_model_is_scored_and_stated(demo_plan):
    _, _, plan = demo_plan
    acc = plan.long_range_accuracy
    assert len(acc) and (acc["holdout_days"] == 90).all() and acc["mase"].notna().all()
    row = plan.plan_assumptions.set_index("key").loc["long-range model accuracy"]
    assert row["value"] == f"MASE {acc['mase'].median():.2f}"
    summary = plan.plan_summary.set_index("metric")
    assert summary.loc["long-range horizon (months)", "value"] == 13.0
