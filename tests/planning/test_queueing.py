import math

import pytest

from capplan.core.errors import CapplanError
from capplan.planning.queueing import (
    erlang_b,
    erlang_c,
    mmc_mean_wait,
    mmc_response_quantile,
    mmc_response_tail,
    mmc_wait_quantile,
    mmc_wait_tail,
    servers_for_latency,
)


def erlang_c_direct(c: int, a: float) -> float:
    """Textbook closed form (Gross & Harris, Fundamentals of Queueing Theory, M/M/c section;
    Kleinrock, Queueing Systems Vol. I, Sec. 3.5 'Erlang's C formula'):
    C = (a^c / c!) (c / (c - a)) / (sum_{k<c} a^k / k! + (a^c / c!) (c / (c - a)))."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_two_servers_one_erlang_is_one_third():
    # by hand: top = 1/2 * 2 = 1; sum = 1 + 1 = 2; C = 1 / 3
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3, rel=1e-12)


def test_erlang_c_ten_erlangs_twelve_servers():
    # the classic call-centre example: 10 erlangs on 12 agents, P(wait) ~ 0.4494
    assert erlang_c(12, 10.0) == pytest.approx(erlang_c_direct(12, 10.0), rel=1e-12)
    assert erlang_c(12, 10.0) == pytest.approx(0.4494, abs=5e-5)


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (3, 2.5), (20, 15.0), (50, 49.0)])
def test_erlang_c_matches_direct_formula(c, a):
    assert erlang_c(c, a) == pytest.approx(erlang_c_direct(c, a), rel=1e-10)


def test_erlang_c_edge_cases():
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert erlang_c(3, 3.0) == 1.0  # unstable
    assert erlang_c(3, 0.0) == 0.0
    assert erlang_c(2000, 1900.0) < 1.0  # no overflow for large c
    assert erlang_b(1, 1.0) == pytest.approx(0.5)  # B(1, a) = a / (1 + a)
    with pytest.raises(CapplanError):
        erlang_c(0, 1.0)


def test_mean_wait_mm2_by_hand():
    # M/M/2, lambda = mu = 1: C = 1/3, Wq = C / (2 - 1) = 1/3; check Lq = 2 rho^3 / (1 - rho^2) = 1/3 (rho = 1/2)
    assert mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert 1.0 * mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(2 * 0.5**3 / (1 - 0.5**2))
    assert math.isinf(mmc_mean_wait(2.0, 1.0, 2))


def test_wait_tail_and_quantile():
    # M/M/2, lambda = mu = 1: P(W > t) = (1/3) e^{-t}
    assert mmc_wait_tail(1.0, 1.0, 2, 2.0) == pytest.approx(math.exp(-2.0) / 3)
    # P(W > t) = 0.01 -> t = ln(100 / 3)
    assert mmc_wait_quantile(1.0, 1.0, 2, 0.99) == pytest.approx(math.log(100 / 3))
    assert mmc_wait_quantile(1.0, 1.0, 2, 0.5) == 0.0  # two thirds never wait


def test_response_time_mm1_is_exponential():
    # M/M/1: R ~ Exp(mu - lambda), so P(R > t) = e^{-(mu - lambda) t}, q-quantile = -ln(1-q)/(mu-lambda)
    lam, mu = 8.0, 10.0
    assert mmc_response_tail(lam, mu, 1, 0.3) == pytest.approx(math.exp(-2.0 * 0.3))
    assert mmc_response_quantile(lam, mu, 1, 0.99) == pytest.approx(math.log(100) / 2.0, rel=1e-9)


def test_response_tail_equal_rates_branch_is_continuous():
    # theta = c mu - lambda equals mu when lambda = (c - 1) mu
    at = mmc_response_tail(1.0, 1.0, 2, 1.7)
    near = mmc_response_tail(1.0 - 1e-6, 1.0, 2, 1.7)
    assert at == pytest.approx(near, rel=1e-5)


def test_servers_for_latency():
    # lambda = 80/s, mu = 10/s (100 ms service): c must exceed 8. Service alone has
    # p99 = ln(100)/10 = 0.4605 s, so a 0.5 s p99 target needs the queue to be nearly empty.
    c = servers_for_latency(80.0, 10.0, 0.5, 0.99)
    assert mmc_response_quantile(80.0, 10.0, c, 0.99) <= 0.5
    assert mmc_response_quantile(80.0, 10.0, c - 1, 0.99) > 0.5
    assert c > 8
    # M/M/1 check by hand: need ln(100)/(mu - lambda) <= 1 -> mu - lambda >= 4.605; lambda = 1, mu = 6 -> c = 1
    assert servers_for_latency(1.0, 6.0, 1.0, 0.99) == 1
    with pytest.raises(CapplanError, match="unreachable"):
        servers_for_latency(80.0, 10.0, 0.4, 0.99)
