import math

import numpy as np
import pandas as pd
import pytest

from capplan.core.errors import CapplanError
from capplan.planning.usl import fit_usl, fit_usl_frame, knee, usl_capacity, usl_instances_for, usl_throughput

N = np.array([1, 2, 4, 8, 12, 16, 24, 32, 48, 64], dtype=float)


def test_throughput_formula_by_hand():
    # X(10) = 100*10 / (1 + 0.05*9 + 0.001*10*9) = 1000 / 1.54
    assert usl_throughput(10, 100, 0.05, 0.001) == pytest.approx(1000 / 1.54)
    assert usl_throughput(1, 100, 0.3, 0.2) == pytest.approx(100)


def test_exact_data_recovered_exactly():
    x = usl_throughput(N, 100.0, 0.05, 0.001)
    fit = fit_usl(N, x)
    assert fit.lam == pytest.approx(100.0, rel=1e-6)
    assert fit.sigma == pytest.approx(0.05, rel=1e-5)
    assert fit.kappa == pytest.approx(0.001, rel=1e-5)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.n_peak == pytest.approx(math.sqrt(0.95 / 0.001), rel=1e-5)  # 30.82
    assert fit.x_peak == pytest.approx(float(usl_throughput(math.sqrt(950), 100, 0.05, 0.001)), rel=1e-5)
    assert fit.points == N.size


def test_noisy_data_recovered_within_a_few_percent():
    # 22 load-test points, 1% multiplicative noise. Tolerances are about the 99th percentile of the
    # estimator's error over 200 seeds (sigma is the least determined: ~5% at the 95th).
    n = np.arange(1, 65, 3, dtype=float)
    rng = np.random.default_rng(7)
    x = usl_throughput(n, 100.0, 0.05, 0.001) * (1 + 0.01 * rng.standard_normal(n.size))
    fit = fit_usl(n, x)
    assert fit.lam == pytest.approx(100.0, rel=0.03)
    assert fit.sigma == pytest.approx(0.05, rel=0.08)
    assert fit.kappa == pytest.approx(0.001, rel=0.06)
    assert fit.n_peak == pytest.approx(30.82, rel=0.03)
    assert fit.r2 > 0.99


def test_amdahl_case_kappa_zero():
    x = usl_throughput(N, 50.0, 0.1, 0.0)
    fit = fit_usl(N, x)
    assert fit.kappa == pytest.approx(0.0, abs=1e-7)
    assert fit.sigma == pytest.approx(0.1, rel=1e-4)
    assert math.isinf(fit.n_peak)
    assert fit.x_peak == pytest.approx(500.0, rel=1e-3)  # asymptote lam / sigma


def test_knee_by_hand_for_amdahl():
    # Amdahl, sigma=0.1, lam=1: X(N+1)-X(N) = 0.9 / ((0.9+0.1N)(1.0+0.1N))
    # N=3: 0.9/(1.2*1.3)=0.577 >= 0.5; N=4: 0.9/(1.3*1.4)=0.4945 < 0.5  -> knee 4
    assert knee(1.0, 0.1, 0.0, 0.5) == 4
    # floor 0.7: N=2: 0.9/(1.1*1.2)=0.682 < 0.7, N=1: 0.818 -> knee 2
    assert knee(1.0, 0.1, 0.0, 0.7) == 2
    assert math.isinf(knee(1.0, 0.0, 0.0, 0.5))  # linear scaling never drops


def test_knee_matches_brute_force_with_coherency():
    lam, s, k = 100.0, 0.05, 0.001
    gains = np.diff(usl_throughput(np.arange(1, 200), lam, s, k))
    expected = int(np.argmax(gains < 0.5 * lam)) + 1
    assert knee(lam, s, k, 0.5) == expected


def test_capacity_and_instances_for_a_throughput():
    fit = fit_usl(N, usl_throughput(N, 100.0, 0.05, 0.001))
    assert usl_capacity(fit, 10) == pytest.approx(1000 / 1.54, rel=1e-5)
    # X(8) = 800/1.406 = 569.0, X(9) = 900/1.472 = 611.4
    assert usl_instances_for(fit, 600.0) == 9
    assert usl_instances_for(fit, 50.0) == 1
    assert math.isinf(usl_instances_for(fit, fit.x_peak * 1.01))


def _frame(service, n, x, *, by="instances"):
    other = "concurrency" if by == "instances" else "instances"
    return pd.DataFrame({"service": service, by: n, other: np.nan, "throughput": x, "latency_p99_ms": 10.0})


def test_frame_wrapper_uses_concurrency_when_instances_missing():
    a = _frame("api", N, usl_throughput(N, 100.0, 0.05, 0.001))
    b = _frame("db", N, usl_throughput(N, 20.0, 0.1, 0.0), by="concurrency")
    out = fit_usl_frame(pd.concat([b, a], ignore_index=True))
    assert list(out["service"]) == ["api", "db"]
    assert list(out.columns) == [
        "service",
        "lam",
        "sigma",
        "kappa",
        "r2",
        "n_peak",
        "x_peak",
        "n_knee",
        "points",
    ]
    assert out.loc[1, "lam"] == pytest.approx(20.0, rel=1e-5)
    assert out.loc[1, "sigma"] == pytest.approx(0.1, rel=1e-4)
    assert out.loc[0, "n_peak"] == pytest.approx(30.82, rel=1e-3)


def test_fewer_than_three_points_names_the_service():
    frame = _frame("checkout", [1.0, 2.0, 2.0], [10.0, 19.0, 19.5])
    with pytest.raises(CapplanError, match="checkout.*at least 3.*found 2"):
        fit_usl_frame(frame)
