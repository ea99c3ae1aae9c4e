"""M/M/c queueing: Erlang C, waiting and response times, servers for a latency target.

Assumptions (the model, not approximations inside it): Poisson arrivals at ``arrival_rate``
(lambda, requests per second), exponential service at ``service_rate`` per server (mu,
requests per second, so mean service time is 1/mu seconds), ``c`` identical servers, one FCFS
queue, infinite buffer. Offered load ``a = lambda / mu`` (erlangs); the queue is stable only
when ``a < c``. Times are in seconds.

Real services are rarely exactly M/M/c (service times are less variable than exponential,
load balancers are not one shared queue); treat the results as a sizing guide and check them
against load tests (:mod:`capplan.planning.usl`).
"""

from __future__ import annotations

import math

from scipy.optimize import brentq

from capplan.core.errors import CapplanError


def _check_servers(c: int) -> int:
    if int(c) != c or c < 1:
        raise CapplanError(f"number of servers must be a positive integer, got {c!r}")
    return int(c)


def erlang_b(c: int, offered_load: float) -> float:
    """Erlang B blocking probability, by the stable recursion B(k) = a B(k-1) / (k + a B(k-1))."""
    c = _check_servers(c)
    if offered_load < 0:
        raise CapplanError(f"offered load must be >= 0, got {offered_load!r}")
    b = 1.0
    for k in range(1, c + 1):
        b = offered_load * b / (k + offered_load * b)
    return b


def erlang_c(c: int, offered_load: float) -> float:
    """Probability that an arrival waits, C(c, a), for ``c`` servers and ``a`` erlangs.

    Computed from Erlang B as C = c B / (c - a (1 - B)), which avoids factorials and
    overflow for large ``c``. Returns 1.0 when ``a >= c`` (unstable: everyone waits).
    """
    c = _check_servers(c)
    if offered_load >= c:
        return 1.0
    b = erlang_b(c, offered_load)
    return c * b / (c - offered_load * (1.0 - b))


def _rates(arrival_rate: float, service_rate: float, c: int) -> tuple[float, float, int]:
    if arrival_rate < 0 or service_rate <= 0:
        raise CapplanError(
            f"need arrival_rate >= 0 and service_rate > 0, got {arrival_rate!r} and {service_rate!r}"
        )
    return float(arrival_rate), float(service_rate), _check_servers(c)


def mmc_mean_wait(arrival_rate: float, service_rate: float, c: int) -> float:
    """Mean time in queue (seconds), Wq = C / (c mu - lambda); ``inf`` when unstable."""
    lam, mu, c = _rates(arrival_rate, service_rate, c)
    if lam >= c * mu:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_wait_tail(arrival_rate: float, service_rate: float, c: int, t: float) -> float:
    """P(W > t) = C exp(-(c mu - lambda) t) for t >= 0: the chance of queueing longer than t seconds."""
    lam, mu, c = _rates(arrival_rate, service_rate, c)
    if lam >= c * mu:
        return 1.0
    return erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * max(t, 0.0))


def mmc_wait_quantile(arrival_rate: float, service_rate: float, c: int, quantile: float = 0.99) -> float:
    """The ``quantile`` of time in queue (seconds): max(0, ln(C / (1 - q)) / (c mu - lambda))."""
    lam, mu, c = _rates(arrival_rate, service_rate, c)
    _check_quantile(quantile)
    if lam >= c * mu:
        return math.inf
    cw = erlang_c(c, lam / mu)
    if cw <= 1.0 - quantile:
        return 0.0
    return math.log(cw / (1.0 - quantile)) / (c * mu - lam)


def _check_quantile(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise CapplanError(f"quantile must be strictly between 0 and 1, got {q!r}")


def mmc_response_tail(arrival_rate: float, service_rate: float, c: int, t: float) -> float:
    """P(R > t) for response time R = W + S (queue wait plus service), exact for M/M/c FCFS.

    W is 0 with probability 1 - C and Exp(theta), theta = c mu - lambda, otherwise; S ~ Exp(mu)
    independent of W. So P(R > t) = (1 - C) e^{-mu t} + C P(Exp(theta) + Exp(mu) > t), where the
    hypoexponential tail is (theta e^{-mu t} - mu e^{-theta t}) / (theta - mu), or
    (1 + mu t) e^{-mu t} when theta == mu.
    """
    lam, mu, c = _rates(arrival_rate, service_rate, c)
    if lam >= c * mu:
        return 1.0
    t = max(t, 0.0)
    cw = erlang_c(c, lam / mu)
    theta = c * mu - lam
    if abs(theta - mu) <= 1e-9 * mu:
        hypo = (1.0 + mu * t) * math.exp(-mu * t)
    else:
        hypo = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
    return (1.0 - cw) * math.exp(-mu * t) + cw * hypo


def mmc_response_quantile(arrival_rate: float, service_rate: float, c: int, quantile: float = 0.99) -> float:
    """The ``quantile`` of response time (seconds), solving P(R > t) = 1 - q by Brent's method."""
    lam, mu, c = _rates(arrival_rate, service_rate, c)
    _check_quantile(quantile)
    if lam >= c * mu:
        return math.inf
    tail = 1.0 - quantile
    # R <= S + W, both quantiles bounded: the sum of the two quantiles brackets the root.
    hi = -math.log(tail) / mu + mmc_wait_quantile(lam, mu, c, 1.0 - tail / 2.0) + 1.0 / mu
    while mmc_response_tail(lam, mu, c, hi) > tail:
        hi *= 2.0
    return brentq(lambda t: mmc_response_tail(lam, mu, c, t) - tail, 0.0, hi, xtol=1e-12, rtol=1e-12)


def servers_for_latency(
    arrival_rate: float,
    service_rate: float,
    target_s: float,
    quantile: float = 0.99,
    *,
    max_servers: int = 100_000,
) -> int:
    """Smallest ``c`` whose M/M/c response-time ``quantile`` (wait + service) is <= ``target_s``.

    Uses the exact M/M/c response-time distribution (:func:`mmc_response_tail`), so the only
    approximation is the M/M/c model itself (see the module docstring). The response quantile
    falls as ``c`` grows, towards the service-time quantile -ln(1 - q) / mu; a target at or below
    that cannot be met by adding servers and raises :class:`CapplanError`.
    """
    lam, mu, _ = _rates(arrival_rate, service_rate, 1)
    _check_quantile(quantile)
    floor_s = -math.log(1.0 - quantile) / mu
    if target_s <= floor_s:
        raise CapplanError(
            f"a p{quantile * 100:g} response time of {target_s:g}s is unreachable: service time alone "
            f"has p{quantile * 100:g} {floor_s:.4g}s at service_rate {mu:g}/s"
        )
    c = max(1, math.floor(lam / mu) + 1)
    while mmc_response_quantile(lam, mu, c, quantile) > target_s:
        c += 1
        if c > max_servers:
            raise CapplanError(f"more than {max_servers} servers needed for a {target_s:g}s target")
    return c
