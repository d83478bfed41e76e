"""Hypercube queueing model of units answering calls from their bases (Larson 1974, 1975).

``N`` distinguishable units wait at their bases; calls arrive from demand atom ``j``
as a Poisson stream of rate ``lambda f_j``; a call goes to the first free unit in
the atom's fixed preference list (units by travel time from their bases, nearest
first); when every unit is busy the call waits in one first-come-first-served
queue and is taken by the next unit to come free. Service times are exponential
with mean ``1 / mu``, the same for every unit, and include the travel. Response
time is the wait in the queue plus the travel time from the serving unit's base.

* :func:`hypercube_exact` solves the balance equations of the ``2^N`` busy/free
  states (Larson 1974, "A hypercube queuing model for facility location and
  redistricting in urban emergency services", Computers & OR 1, 67-95). The
  queue is handled exactly: censored on "queue empty" the chain is the loss
  chain, and the all-busy states with ``k`` waiting have probability
  ``P(all busy, 0) (lambda / N mu)^k``.
* :func:`hypercube_approx` is Larson's approximation (Larson 1975,
  "Approximating the performance of urban emergency service systems",
  Operations Research 23(5), 845-868): units are treated as independently busy
  with workloads ``rho_n`` corrected by factors ``Q(N, rho, k)`` that make it exact
  for identical units; the workloads are found by fixed-point iteration.
  ``Q`` is evaluated from the M/M/N state probabilities,
  ``Q(N, rho, k) = sum_{m=k}^{N-1} P_m C(N-k-1, m-k) / C(N, m) / (rho^k (1 - rho))``,
  which is Larson's closed form written as a sum.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InvalidInputError

__all__ = [
    "MAX_EXACT_UNITS",
    "QueueingResult",
    "hypercube_approx",
    "hypercube_exact",
    "response_quantile",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Largest number of units :func:`hypercube_exact` accepts (2^14 states).
MAX_EXACT_UNITS = 14


@dataclass(frozen=True)
class QueueingResult:
    """Steady-state performance of a placement under the hypercube model.

    Attributes
    ----------
    method : str
        ``"exact"`` or ``"approximate"``.
    status : str
        ``"converged"`` (always for the exact model) or ``"iteration_limit"``.
    workload : float64[n_units]
        Fraction of time each unit is busy.
    dispatch_fraction : float64[n_units, n_atoms]
        Fraction of all calls that come from atom ``j`` and are answered by unit ``n``
        (queued calls included); sums to 1.
    prob_all_busy : float
        Probability a call finds every unit busy and waits.
    mean_wait_s : float
        Mean wait in the queue over all calls.
    fraction_within_standard : float
        Fraction of calls whose response (wait + travel) is within the atom's standard.
    mean_response_s, p90_response_s : float
        Mean and 90th percentile of the response time over all calls.
    n_iterations : int
        Fixed-point iterations (0 for the exact model).
    """

    method: Literal["exact", "approximate"]
    status: Literal["converged", "iteration_limit"]
    workload: FloatArray
    dispatch_fraction: FloatArray
    prob_all_busy: float
    mean_wait_s: float
    fraction_within_standard: float
    mean_response_s: float
    p90_response_s: float
    n_iterations: int


def _validate(
    travel_s: FloatArray,
    call_share: FloatArray,
    call_rate_per_s: float,
    mean_service_s: float,
    standard_s: float | FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    t = np.asarray(travel_s, dtype=np.float64)
    f = np.asarray(call_share, dtype=np.float64)
    if t.ndim != 2 or f.shape != (t.shape[1],):
        msg = "travel_s must be (units x atoms) and call_share hold one value per atom"
        raise InvalidInputError(msg)
    if t.shape[0] == 0:
        msg = "no units: give at least one unit base"
        raise InvalidInputError(msg)
    if f.size == 0 or (f < 0).any() or not np.isfinite(f).all() or f.sum() <= 0:
        msg = "demand is empty: call_share needs positive, finite weights"
        raise InvalidInputError(msg)
    if not np.isfinite(t).all() or (t < 0).any():
        msg = "every unit base must reach every demand atom (finite, non-negative times)"
        raise InvalidInputError(msg)
    if not call_rate_per_s > 0 or not mean_service_s > 0:
        msg = "call_rate_per_s and mean_service_s must be positive"
        raise InvalidInputError(msg)
    load = call_rate_per_s * mean_service_s / t.shape[0]
    if load >= 1:
        msg = (
            f"offered load {call_rate_per_s * mean_service_s:.2f} Erlang is not below the "
            f"{t.shape[0]} units: the queue would grow without end; add units"
        )
        raise InvalidInputError(msg)
    std = np.broadcast_to(np.asarray(standard_s, dtype=np.float64), f.shape).copy()
    return t, f / f.sum(), std


def _mmn_probabilities(n_units: int, offered: float) -> tuple[FloatArray, float]:
    """Return ``P_m`` for ``m = 0..N-1`` busy units and ``P(all busy)`` in an M/M/N queue."""
    rho = offered / n_units
    log_terms = np.array([m * math.log(offered) - math.lgamma(m + 1) for m in range(n_units)])
    log_full = n_units * math.log(offered) - math.lgamma(n_units + 1) - math.log(1 - rho)
    top = max(float(log_terms.max()), log_full)
    terms = np.exp(log_terms - top)
    full = math.exp(log_full - top)
    total = terms.sum() + full
    return terms / total, full / total


def _metrics(
    travel: FloatArray,
    served: FloatArray,
    queued: FloatArray,
    wait_rate: float,
    standard: FloatArray,
) -> tuple[float, float, float]:
    """Fraction within standard, mean and p90 response for a dispatch mixture.

    ``served[n, j]``: share of calls from ``j`` answered by ``n`` at once;
    ``queued[n, j]``: share answered by ``n`` after an exponential wait of rate
    ``wait_rate``.
    """
    within = float((served * (travel <= standard[None, :])).sum())
    if queued.sum() > 0:
        slack = np.maximum(standard[None, :] - travel, 0.0)
        within += float((queued * (1.0 - np.exp(-wait_rate * slack))).sum())
    mean = float((served * travel).sum() + (queued * (travel + 1.0 / wait_rate)).sum())
    p90 = response_quantile(travel, served, queued, wait_rate, 0.9)
    return within, mean, p90


def response_quantile(
    travel_s: FloatArray,
    served: FloatArray,
    queued: FloatArray,
    wait_rate: float,
    quantile: float,
) -> float:
    """Return the ``quantile`` of response time of a travel-time mixture with queueing.

    The distribution is ``sum served[n, j] delta(travel[n, j])`` plus
    ``sum queued[n, j] (travel[n, j] + Exp(wait_rate))``; the quantile is found by
    bisection on its distribution function.
    """
    t = travel_s.ravel()
    order = np.argsort(t, kind="stable")
    t = t[order]
    cum_a = np.cumsum(served.ravel()[order])
    b = queued.ravel()[order]
    has_queue = float(b.sum()) > 0
    # queued part of the CDF at x: sum_{t_i <= x} b_i (1 - exp(-r (x - t_i)))
    shift = float(t[-1]) if t.size else 0.0
    cum_b = np.cumsum(b)
    cum_be = np.cumsum(b * np.exp(np.clip(wait_rate * (t - shift), -700.0, 0.0)))
    total = float(cum_a[-1] + cum_b[-1])
    target = quantile * total

    def cdf(x: float) -> float:
        k = int(np.searchsorted(t, x, side="right"))
        if k == 0:
            return 0.0
        value = float(cum_a[k - 1])
        if has_queue:
            factor = math.exp(min(wait_rate * (shift - x), 700.0))
            value += float(cum_b[k - 1]) - factor * float(cum_be[k - 1])
        return value

    lo, hi = 0.0, float(t[-1]) + (50.0 / wait_rate if has_queue else 0.0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if cdf(mid) >= target:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-3:
            break
    return hi


def _preferences(travel: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Return distinct preference lists, each atom's list index and list weights."""
    pref = np.argsort(travel, axis=0, kind="stable").T.astype(np.int64)  # atoms x units
    uniq, inverse = np.unique(pref, axis=0, return_inverse=True)
    return uniq, inverse.ravel(), np.zeros(0)


@numba.njit(cache=True)
def _upward_rates(
    pref: npt.NDArray[np.int64], share: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For each non-full state and unit, the share of calls that unit takes there."""
    n_pref, n_units = pref.shape
    n_states = 1 << n_units
    full = n_states - 1
    rate = np.zeros((n_states, n_units))
    for state in range(n_states):
        if state == full:
            continue
        for g in range(n_pref):
            for k in range(n_units):
                u = pref[g, k]
                if not (state >> u) & 1:
                    rate[state, u] += share[g]
                    break
    src = np.empty(n_states * n_units, dtype=np.int64)
    unit = np.empty(n_states * n_units, dtype=np.int64)
    val = np.empty(n_states * n_units)
    c = 0
    for state in range(n_states):
        for u in range(n_units):
            if rate[state, u] > 0:
                src[c] = state
                unit[c] = u
                val[c] = rate[state, u]
                c += 1
    return src[:c], unit[:c], val[:c]


@numba.njit(cache=True)
def _first_free_share(
    pref: npt.NDArray[np.int64],
    inverse: npt.NDArray[np.int64],
    share: npt.NDArray[np.float64],
    prob: npt.NDArray[np.float64],
    n_units: int,
) -> npt.NDArray[np.float64]:
    """``out[n, j]``: share of calls from atom ``j`` arriving to find ``n`` first free."""
    n_pref = pref.shape[0]
    n_states = prob.shape[0]
    by_pref = np.zeros((n_units, n_pref))
    for state in range(n_states - 1):
        p = prob[state]
        if p == 0.0:
            continue
        for g in range(n_pref):
            for k in range(n_units):
                u = pref[g, k]
                if not (state >> u) & 1:
                    by_pref[u, g] += p
                    break
    out = np.zeros((n_units, inverse.shape[0]))
    for j in range(inverse.shape[0]):
        g = inverse[j]
        for u in range(n_units):
            out[u, j] = by_pref[u, g] * share[j]
    return out


@numba.njit(cache=True, nogil=True)
def _approx_sweep(  # noqa: PLR0917
    pref: npt.NDArray[np.int64],
    share: npt.NDArray[np.float64],
    workload: npt.NDArray[np.float64],
    q_factor: npt.NDArray[np.float64],
    served_share: float,
    p_k: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """One pass of Larson's approximation: fills ``p_k``, returns each unit's call share."""
    n_atoms, n_units = pref.shape
    calls = np.zeros(n_units)
    for j in range(n_atoms):
        before = 1.0
        total = 0.0
        for k in range(n_units):
            r = workload[pref[j, k]]
            v = q_factor[k] * before * (1.0 - r)
            p_k[j, k] = v
            total += v
            before *= r
        scale = served_share / total if total > 0.0 else 0.0
        for k in range(n_units):
            p_k[j, k] *= scale
            calls[pref[j, k]] += share[j] * p_k[j, k]
    return calls


@numba.njit(cache=True, nogil=True)
def _gauss_seidel(  # noqa: PLR0917
    in_ptr: npt.NDArray[np.int64],
    in_src: npt.NDArray[np.int64],
    in_rate: npt.NDArray[np.float64],
    out_rate: npt.NDArray[np.float64],
    tol: float,
    max_sweeps: int,
) -> tuple[npt.NDArray[np.float64], int]:
    """Stationary distribution from the balance equations by Gauss-Seidel sweeps."""
    n = out_rate.shape[0]
    pi = np.full(n, 1.0 / n)
    for sweep in range(max_sweeps):
        change = 0.0
        for s in range(n):
            acc = 0.0
            for e in range(in_ptr[s], in_ptr[s + 1]):
                acc += pi[in_src[e]] * in_rate[e]
            new = acc / out_rate[s]
            change = max(change, abs(new - pi[s]))
            pi[s] = new
        total = pi.sum()
        pi /= total
        if change / total < tol:
            return pi, sweep + 1
    return pi, max_sweeps


def hypercube_exact(
    travel_s: FloatArray,
    call_share: FloatArray,
    *,
    call_rate_per_s: float,
    mean_service_s: float,
    standard_s: float | FloatArray,
) -> QueueingResult:
    """Return the exact hypercube queueing performance of ``N <= 14`` units (Larson 1974).

    Parameters
    ----------
    travel_s : float64[n_units, n_atoms]
        Travel time from each unit's base to each demand atom (rows = units).
    call_share : float64[n_atoms]
        Share of calls from each atom (normalised here).
    call_rate_per_s : float
        Total call rate ``lambda``.
    mean_service_s : float
        Mean time a unit is busy with one call, ``1 / mu`` (travel included).
    standard_s : float or float64[n_atoms]
        Response standard, per atom if an array.
    """
    travel, share, standard = _validate(
        travel_s, call_share, call_rate_per_s, mean_service_s, standard_s
    )
    n = travel.shape[0]
    if n > MAX_EXACT_UNITS:
        msg = f"the exact hypercube takes at most {MAX_EXACT_UNITS} units; use hypercube_approx"
        raise InvalidInputError(msg)
    lam, mu = call_rate_per_s, 1.0 / mean_service_s
    uniq, inverse, _ = _preferences(travel)
    pref_share = np.bincount(inverse, weights=share, minlength=uniq.shape[0]).astype(np.float64)
    src, unit, val = _upward_rates(uniq, pref_share)
    n_states = 1 << n
    states = np.arange(n_states)
    busy = ((states[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    down_src, down_unit = np.nonzero(busy)
    rows = np.concatenate([src, down_src])
    cols = np.concatenate([src | (1 << unit), down_src & ~(1 << down_unit)])
    rates = np.concatenate([lam * val, np.full(down_src.size, mu)])
    out_rate = np.bincount(rows, weights=rates, minlength=n_states).astype(np.float64)
    # balance: pi(s) out(s) = sum_{s'} pi(s') q(s', s); incoming transitions in CSR form
    incoming = sparse.csr_array((rates, (cols, rows)), shape=(n_states, n_states))
    loss, n_sweeps = _gauss_seidel(
        incoming.indptr.astype(np.int64),
        incoming.indices.astype(np.int64),
        incoming.data,
        out_rate,
        1e-13,
        100_000,
    )
    log.debug("exact hypercube: %d states, %d Gauss-Seidel sweeps", n_states, n_sweeps)
    rho = lam / (n * mu)
    scale = 1.0 / (1.0 - loss[-1] + loss[-1] / (1.0 - rho))
    prob = loss * scale  # queue-empty states
    p_all_busy = float(prob[-1] / (1.0 - rho))  # all busy, any queue length
    workload = busy[:-1].T.astype(np.float64) @ prob[:-1] + p_all_busy
    served = _first_free_share(uniq, inverse, share, prob, n)
    queued = np.tile(share * p_all_busy / n, (n, 1))
    wait_rate = n * mu - lam
    within, mean, p90 = _metrics(travel, served, queued, wait_rate, standard)
    return QueueingResult(
        method="exact",
        status="converged",
        workload=workload,
        dispatch_fraction=served + queued,
        prob_all_busy=p_all_busy,
        mean_wait_s=p_all_busy / wait_rate,
        fraction_within_standard=within,
        mean_response_s=mean,
        p90_response_s=p90,
        n_iterations=0,
    )


def correction_factors(n_units: int, rho: float) -> FloatArray:
    """Return Larson's correction factors ``Q(N, rho, k)`` for ``k = 0..N-1``."""
    p_m, _ = _mmn_probabilities(n_units, rho * n_units)
    q = np.zeros(n_units)
    for k in range(n_units):
        m = np.arange(k, n_units)
        log_ratio = np.array(
            [_log_comb(n_units - k - 1, int(mm) - k) - _log_comb(n_units, int(mm)) for mm in m]
        )
        exact = float((p_m[m] * np.exp(log_ratio)).sum())
        q[k] = exact / (rho**k * (1.0 - rho))
    return q


def _log_comb(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def hypercube_approx(
    travel_s: FloatArray,
    call_share: FloatArray,
    *,
    call_rate_per_s: float,
    mean_service_s: float,
    standard_s: float | FloatArray,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> QueueingResult:
    """Return hypercube performance by Larson's (1975) approximation, for any ``N``.

    Parameters are those of :func:`hypercube_exact`, plus the fixed-point tolerance
    on workloads ``tol`` and ``max_iter``. The fraction of atom ``j``'s calls that go
    to its ``k``-th preferred unit ``n_k`` (``k = 1..N``) is
    ``Q(N, rho, k-1) (1 - rho_{n_k}) prod_{l<k} rho_{n_l}``; queued calls (Erlang C
    probability) are shared equally; workloads are ``lambda / mu`` times each unit's
    share of calls, iterated to a fixed point.
    """
    t0 = time.perf_counter()
    travel, share, standard = _validate(
        travel_s, call_share, call_rate_per_s, mean_service_s, standard_s
    )
    n = travel.shape[0]
    lam, mu = call_rate_per_s, 1.0 / mean_service_s
    offered = lam / mu
    rho_bar = offered / n
    _, p_all_busy = _mmn_probabilities(n, offered)
    q_factor = correction_factors(n, rho_bar)
    pref = np.ascontiguousarray(np.argsort(travel, axis=0, kind="stable").T)  # atoms x units
    workload = np.full(n, rho_bar)
    status: Literal["converged", "iteration_limit"] = "iteration_limit"
    iteration = 0
    p_k = np.zeros(pref.shape)
    for iteration in range(1, max_iter + 1):  # noqa: B007
        calls = _approx_sweep(pref, share, workload, q_factor, 1.0 - p_all_busy, p_k)
        new = offered * (calls + p_all_busy / n)
        new *= offered / new.sum()
        new = np.minimum(0.5 * (new + workload), 1.0 - 1e-12)  # damped: plain steps cycle
        change = float(np.max(np.abs(new - workload)))
        workload = new
        if change < tol:
            status = "converged"
            break
    served = np.zeros((n, travel.shape[1]))
    np.put_along_axis(served.T, pref, share[:, None] * p_k, axis=1)
    queued = np.tile(share * p_all_busy / n, (n, 1))
    wait_rate = n * mu - lam
    within, mean, p90 = _metrics(travel, served, queued, wait_rate, standard)
    log.debug(
        "hypercube approximation: %d units, %d atoms, %d iterations, %.1f ms",
        n,
        travel.shape[1],
        iteration,
        1e3 * (time.perf_counter() - t0),
    )
    return QueueingResult(
        method="approximate",
        status=status,
        workload=workload,
        dispatch_fraction=served + queued,
        prob_all_busy=p_all_busy,
        mean_wait_s=p_all_busy / wait_rate,
        fraction_within_standard=within,
        mean_response_s=mean,
        p90_response_s=p90,
        n_iterations=iteration,
    )
