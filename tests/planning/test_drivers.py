import numpy as np
import pandas as pd
import pytest

from capplan.core.errors import CapplanError
from capplan.planning.drivers import add_uplift, apply_kpi_scenario, fit_driver_model, learned_event_uplift

DAYS = pd.date_range("2026-01-01", periods=90, freq="D")


def _kpis():
    rng = np.random.default_rng(1)
    users = 1000 + 10 * np.arange(90) + rng.normal(0, 50, 90)
    orders = 500 + rng.normal(0, 100, 90)
    return (
        users,
        orders,
        pd.concat(
            [
                pd.DataFrame({"kpi": "users", "ds": DAYS, "value": users}),
                pd.DataFrame({"kpi": "orders", "ds": DAYS, "value": orders}),
            ],
            ignore_index=True,
        ),
    )


def _hourly_usage(daily):
    # hourly values whose daily mean is `daily` (the 24-hour sine sums to zero)
    hours = pd.date_range(DAYS[0], periods=24 * len(daily), freq="h")
    shape = np.tile(np.sin(2 * np.pi * np.arange(24) / 24), len(daily))
    return pd.DataFrame({"unique_id": "api:cpu", "ds": hours, "y": np.repeat(daily, 24) + 3 * shape})


def test_known_coefficients_recovered_from_hourly_usage():
    users, orders, kpis = _kpis()
    fit = fit_driver_model(_hourly_usage(5 + 0.01 * users + 0.002 * orders), kpis)
    assert fit.coefficients["users"] == pytest.approx(0.01, rel=1e-8)
    assert fit.coefficients["orders"] == pytest.approx(0.002, rel=1e-8)
    assert fit.intercept == pytest.approx(5.0, rel=1e-8)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.residual_std == pytest.approx(0.0, abs=1e-8)
    assert fit.n_days == 90
    assert fit.kpi_level["users"] == pytest.approx(users[-7:].mean())
    assert fit.last_day == DAYS[-1]


def test_noisy_fit_and_non_negative_coefficients():
    users, orders, kpis = _kpis()
    rng = np.random.default_rng(2)
    daily = 5 + 0.01 * users - 0.003 * orders + rng.normal(0, 0.05, 90)  # orders truly lowers usage
    fit = fit_driver_model(_hourly_usage(daily), kpis)
    assert fit.coefficients["orders"] == 0.0  # clamped, not negative
    assert fit.coefficients["users"] == pytest.approx(0.01, rel=0.05)
    assert 0 < fit.r2 < 1


def test_too_few_days_raises():
    _, _, kpis = _kpis()
    usage = _hourly_usage(np.ones(3))
    with pytest.raises(CapplanError, match="api:cpu.*at least 4 days"):
        fit_driver_model(usage, kpis)


def test_scenario_uplift_ramps_linearly_to_full_growth():
    users, orders, kpis = _kpis()
    fit = fit_driver_model(_hourly_usage(5 + 0.01 * users + 0.002 * orders), kpis)
    future = pd.date_range(DAYS[-1] + pd.Timedelta(days=1), periods=10, freq="D")
    base = pd.DataFrame({"unique_id": "api:cpu", "ds": future, "p50": 20.0, "p90": 25.0})
    up = apply_kpi_scenario(fit, {"users": 0.2, "orders": 0.0}, base)
    users_up = up[up["kpi"] == "users"]["uplift"].to_numpy()
    full = 0.01 * users[-7:].mean() * 0.2  # cores added by +20% users at the horizon end
    assert users_up == pytest.approx(full * np.arange(1, 11) / 10)
    assert (up[up["kpi"] == "orders"]["uplift"] == 0).all()
    shifted = add_uplift(base, up, ["p50", "p90"])
    assert shifted["p50"].to_numpy() == pytest.approx(20 + full * np.arange(1, 11) / 10)
    assert (shifted["p90"] - shifted["p50"]).to_numpy() == pytest.approx(np.full(10, 5.0))
    with pytest.raises(CapplanError, match="revenue"):
        apply_kpi_scenario(fit, {"revenue": 0.1}, base)


def test_learned_event_uplift():
    ds = pd.date_range("2026-01-01", periods=24 * 60, freq="h")
    y = np.full(ds.size, 100.0)
    y[(ds >= "2026-01-20") & (ds < "2026-01-21")] = 150.0
    y[(ds >= "2026-02-10") & (ds < "2026-02-11")] = 200.0
    y[(ds >= "2026-02-20") & (ds < "2026-02-21")] = 900.0  # a different kind of event
    series = pd.DataFrame({"unique_id": "api:rps", "ds": ds, "y": y})
    events = pd.DataFrame(
        {
            "name": ["sale1", "sale2", "outage", "sale3"],
            "kind": ["sale", "sale", "incident", "sale"],
            "start": pd.to_datetime(["2026-01-20", "2026-02-10", "2026-02-20", "2026-02-25"]),
            "end": pd.to_datetime(
                ["2026-01-20 23:00", "2026-02-10 23:00", "2026-02-20 23:00", "2026-02-25 23:00"]
            ),
            "services": [["api"], ["api", "db"], ["api"], ["db"]],
        }
    )
    res = learned_event_uplift(series, events, "sale", service="api")
    assert res.n_events == 2  # sale3 is for db only
    assert res.ratios == pytest.approx((1.5, 2.0))
    assert res.ratio == pytest.approx(1.75)
    assert "1.75" in res.assumption and "sale1" in res.assumption
    with pytest.raises(CapplanError, match="launch"):
        learned_event_uplift(series, events, "launch")


def test_learned_uplift_counts_events_for_all_services():
    import pandas as pd

    from capplan.planning import learned_event_uplift

    ds = pd.date_range("2025-11-01", periods=30 * 24, freq="h")
    y = pd.Series(10.0, index=ds)
    y[(ds >= "2025-11-28") & (ds < "2025-11-29")] = 30.0
    events = pd.DataFrame(
        {
            "name": ["bf"],
            "kind": ["sale"],
            "start": [pd.Timestamp("2025-11-28")],
            "end": [pd.Timestamp("2025-11-28 23:00")],
            "services": [["*"]],
        }
    )
    up = learned_event_uplift(pd.DataFrame({"ds": ds, "y": y.to_numpy()}), events, "sale", service="web")
    assert up.n_events == 1 and abs(up.ratio - 3.0) < 1e-9
