"""Universal Scalability Law (Gunther): throughput as a function of instances or concurrency.

    X(N) = lam * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))

* ``N``: instances (or concurrent clients when the load test varied concurrency), >= 1.
* ``lam``: throughput of one unit with no contention, in the load test's throughput unit
  (e.g. requests/s). ``X(1) == lam``.
* ``sigma`` in [0, 1]: contention (the serial fraction; ``kappa == 0`` gives Amdahl's law).
* ``kappa`` >= 0: coherency (crosstalk) cost; with ``kappa > 0`` throughput peaks at
  ``n_peak = sqrt((1 - sigma) / kappa)`` and falls beyond it.

Invariants of :class:`UslFit`: ``lam > 0``, ``0 <= sigma <= 1``, ``kappa >= 0``; ``n_peak`` and
``x_peak`` are the continuous maximiser and the supremum of ``X`` (``inf`` when unbounded);
``n_knee`` is an integer-valued float >= 1 or ``inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, nnls

from capplan.core.errors import CapplanError

from ._common import require_columns

LOADTEST_COLUMNS = ("service", "instances", "concurrency", "throughput")
FIT_COLUMNS = ("service", "lam", "sigma", "kappa", "r2", "n_peak", "x_peak", "n_knee", "points")


@dataclass(frozen=True)
class UslFit:
    """A fitted USL curve; see the module docstring for units and invariants."""

    lam: float
    sigma: float
    kappa: float
    r2: float
    n_peak: float
    x_peak: float
    n_knee: float
    points: int


def usl_throughput(n: np.ndarray | float, lam: float, sigma: float, kappa: float) -> np.ndarray:
    """X(N) for an array (or scalar) of ``n``; same unit as ``lam``."""
    n = np.asarray(n, dtype=float)
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def usl_capacity(fit: UslFit, n: np.ndarray | float) -> np.ndarray | float:
    """Throughput the fitted system delivers at ``n`` instances (scalar in, scalar out)."""
    out = usl_throughput(n, fit.lam, fit.sigma, fit.kappa)
    return float(out) if out.ndim == 0 else out


def usl_instances_for(fit: UslFit, throughput: float) -> float:
    """Smallest integer N with X(N) >= ``throughput``; ``inf`` if no integer N reaches it.

    X rises monotonically up to ``n_peak``, so the search is a bisection over [1, best integer
    near ``n_peak``] (unbounded doubling when kappa == 0).
    """
    if throughput <= fit.lam:
        return 1.0
    if math.isfinite(fit.n_peak):
        cands = [max(1, math.floor(fit.n_peak)), max(1, math.ceil(fit.n_peak))]
        best = max(cands, key=lambda m: usl_capacity(fit, m))
        if usl_capacity(fit, best) < throughput:
            return math.inf
        return float(_first_true(lambda m: m >= best or usl_capacity(fit, m) >= throughput))
    return float(_first_true(lambda m: usl_capacity(fit, m) >= throughput))


def _first_true(pred, limit: int = 2**62) -> float:
    """Smallest integer m >= 1 with ``pred(m)``, for a predicate false-then-true; ``inf`` if none."""
    if pred(1):
        return 1
    lo, hi = 1, 2
    while not pred(hi):
        lo, hi = hi, hi * 2
        if hi > limit:
            return math.inf
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _marginal_gain(n: float, lam: float, sigma: float, kappa: float) -> float:
    """X(n+1) - X(n) in closed form, lam (1 - sigma - kappa n (n+1)) / (D(n) D(n+1)): no cancellation."""
    n = float(n)
    d0 = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
    d1 = 1.0 + sigma * n + kappa * (n + 1.0) * n
    return lam * (1.0 - sigma - kappa * n * (n + 1.0)) / (d0 * d1)


def knee(lam: float, sigma: float, kappa: float, efficiency_floor: float = 0.5) -> float:
    """Smallest integer N >= 1 where adding unit N+1 adds less than ``efficiency_floor * lam``.

    That is the first N with ``X(N+1) - X(N) < efficiency_floor * lam``: N is the last size at
    which each extra unit still earns at least that fraction of a lone unit's throughput.
    With sigma, kappa >= 0, X is concave up to ``n_peak`` and falls after it, so the marginal
    gain only decreases (until it turns negative) and bisection finds the first crossing.
    Returns ``inf`` when the gain never drops that low (sigma == kappa == 0, linear scaling).
    """
    if not 0.0 < efficiency_floor <= 1.0:
        raise CapplanError(f"efficiency_floor must be in (0, 1], got {efficiency_floor!r}")
    floor = efficiency_floor * lam

    def gain_below(m: int) -> bool:
        return _marginal_gain(m, lam, sigma, kappa) < floor

    return float(_first_true(gain_below))


def _peak(lam: float, sigma: float, kappa: float) -> tuple[float, float]:
    if kappa > 0.0:
        n_peak = math.sqrt(max(1.0 - sigma, 0.0) / kappa)
        n_eval = max(n_peak, 1.0)
        return n_peak, float(usl_throughput(n_eval, lam, sigma, kappa))
    if sigma > 0.0:
        return math.inf, lam / sigma  # Amdahl asymptote
    return math.inf, math.inf


def _initial_guess(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linearised start: with lam fixed at X/N of the smallest N, N*lam/X - 1 is linear in sigma, kappa."""
    i = int(np.argmin(n))
    lam0 = max(x[i] / n[i], 1e-12)
    ok = x > 0
    design = np.column_stack([n[ok] - 1.0, n[ok] * (n[ok] - 1.0)])
    target = n[ok] * lam0 / x[ok] - 1.0
    (sigma0, kappa0), _ = nnls(design, target)
    return np.array([lam0, min(sigma0, 1.0), kappa0])


_SNAP = 1e-6


def _snap(sigma: float, kappa: float, n_max: float) -> tuple[float, float]:
    """Report sigma/kappa as 0 when their term adds under 1e-6 to the denominator at the largest N
    tested: such values are optimiser noise the data cannot tell from 0 (and kappa = 8e-11 would
    otherwise claim a throughput peak at N = 100,000)."""
    if sigma * (n_max - 1.0) < _SNAP:
        sigma = 0.0
    if kappa * n_max * (n_max - 1.0) < _SNAP:
        kappa = 0.0
    return sigma, kappa


def _r2(observed: np.ndarray, fitted: np.ndarray) -> float:
    ss_res = float(np.sum((observed - fitted) ** 2))
    ss_tot = float(np.sum((observed - observed.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def _validate_points(n: np.ndarray, x: np.ndarray, service: str | None) -> None:
    who = f"service {service!r}" if service is not None else "USL fit"
    if n.shape != x.shape:
        raise CapplanError(f"{who}: n and throughput differ in length ({n.size} vs {x.size})")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(x))):
        raise CapplanError(f"{who}: load-test points must be finite numbers")
    if np.any(n < 1) or np.any(x < 0):
        raise CapplanError(f"{who}: load-test points need instances/concurrency >= 1 and throughput >= 0")
    distinct = np.unique(n).size
    if distinct < 3:
        raise CapplanError(
            f"{who}: a USL fit needs at least 3 load-test points with distinct instance counts, "
            f"found {distinct}"
        )
    if not np.any(x > 0):
        raise CapplanError(f"{who}: every load-test throughput is zero")


def fit_usl(
    n: np.ndarray, throughput: np.ndarray, *, efficiency_floor: float = 0.5, service: str | None = None
) -> UslFit:
    """Fit the USL by bounded least squares (lam > 0, 0 <= sigma <= 1, kappa >= 0).

    Residuals are relative errors (model - observed) / observed, since load-test noise grows
    with throughput (observed values below 1% of the mean count as 1% of the mean). ``service``
    only names the service in errors.
    Raises :class:`CapplanError` with fewer than 3 distinct ``n`` values.
    """
    n = np.asarray(n, dtype=float).ravel()
    x = np.asarray(throughput, dtype=float).ravel()
    _validate_points(n, x, service)
    scale = np.maximum(x, 0.01 * float(np.mean(x)))

    def residuals(p: np.ndarray) -> np.ndarray:
        return (usl_throughput(n, *p) - x) / scale

    p0 = _initial_guess(n, x)
    res = least_squares(
        residuals, p0, bounds=([1e-12, 0.0, 0.0], [np.inf, 1.0, np.inf]), x_scale="jac", method="trf"
    )
    lam, sigma, kappa = (float(v) for v in res.x)
    sigma, kappa = _snap(sigma, kappa, float(n.max()))
    n_peak, x_peak = _peak(lam, sigma, kappa)
    return UslFit(
        lam=lam,
        sigma=sigma,
        kappa=kappa,
        r2=_r2(x, usl_throughput(n, lam, sigma, kappa)),
        n_peak=n_peak,
        x_peak=x_peak,
        n_knee=knee(lam, sigma, kappa, efficiency_floor),
        points=int(n.size),
    )


def fit_usl_frame(loadtests: pd.DataFrame, *, efficiency_floor: float = 0.5) -> pd.DataFrame:
    """One USL fit per service of a load-test frame.

    Input columns: ``service, instances, concurrency, throughput`` (``latency_p99_ms`` is
    ignored here). N is ``instances`` where present, else ``concurrency``; rows with neither,
    or with no throughput, are dropped before fitting. Returns one row per service with
    :data:`FIT_COLUMNS`, sorted by service.
    """
    require_columns(loadtests, LOADTEST_COLUMNS, "load tests")
    n = pd.to_numeric(loadtests["instances"], errors="coerce").fillna(
        pd.to_numeric(loadtests["concurrency"], errors="coerce")
    )
    pts = pd.DataFrame(
        {
            "service": loadtests["service"].astype(str),
            "n": n,
            "x": pd.to_numeric(loadtests["throughput"], errors="coerce"),
        }
    )
    rows = []
    for service, grp in pts.groupby("service", sort=True):
        grp = grp.dropna(subset=["n", "x"])
        fit = fit_usl(
            grp["n"].to_numpy(), grp["x"].to_numpy(), efficiency_floor=efficiency_floor, service=service
        )
        rows.append({"service": service, **fit.__dict__})
    return pd.DataFrame(rows, columns=list(FIT_COLUMNS))
