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
from scipy.special import gammaln

from watchfloor.errors import InvalidInputError

__all__ = [
    "AUTO_EXACT_UNITS",
    "MAX_EXACT_UNITS",
    "HourlyQueueingResult",
    "QueueingResult",
    "correction_factors",
    "hypercube_approx",
    "hypercube_by_hour",
    "hypercube_exact",
    "response_quantile",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Largest number of units :func:`hypercube_exact` accepts (2^14 states).
MAX_EXACT_UNITS = 14

#: Past iterates Anderson mixing uses in Larson's fixed point.
_ANDERSON_DEPTH = 5

#: Largest number of units :func:`hypercube_by_hour` solves exactly by default.
AUTO_EXACT_UNITS = 12


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
    ``sum queued[n, j] (travel[n, j] + Exp(wait_rate))``; the quantile is found to
    1 ms by :func:`_mixture_quantile` (one linear pass, no sort).
    """
    t = np.ascontiguousarray(travel_s, dtype=np.float64).ravel()
    a = np.ascontiguousarray(served, dtype=np.float64).ravel()
    q = np.ascontiguousarray(queued, dtype=np.float64).ravel()
    return _quantile_of_mixture(
        t, a, q, coef=np.ones(1), rate=np.array([float(wait_rate)]), quantile=quantile
    )


def _quantile_of_mixture(
    t: FloatArray,
    a: FloatArray,
    q: FloatArray,
    *,
    coef: FloatArray,
    rate: FloatArray,
    quantile: float,
) -> float:
    """Quantile of ``sum a_i delta(t_i) + sum_g coef_g sum_i q_i (t_i + Exp(rate_g))``."""
    total = float(a.sum() + coef.sum() * q.sum())
    if t.size == 0 or total <= 0:
        return float("nan")
    # a queue group whose mass is below 1e-13 of the total moves no quantile by more
    # than that share of probability: leave it out of the exponential sums
    live = coef * q.sum() > 1e-13 * total
    use_coef = np.where(live, coef, 0.0)
    hi = float(t.max())
    if live.any():
        hi += 50.0 / float(rate[live].min())
    target = quantile * float(a.sum() + use_coef.sum() * q.sum())
    return float(_mixture_quantile(t, a, q, use_coef, rate, target, hi, 1e-3))


@numba.njit(cache=True, nogil=True)
def _mixture_quantile(  # noqa: PLR0917
    t: npt.NDArray[np.float64],
    a: npt.NDArray[np.float64],
    q: npt.NDArray[np.float64],
    coef: npt.NDArray[np.float64],
    rate: npt.NDArray[np.float64],
    target: float,
    hi: float,
    tol: float,
) -> float:
    """Smallest ``x`` (to ``tol``) with ``F(x) >= target``, by 256-way bracketing.

    ``F(x) = sum_{t_i <= x} a_i + sum_g coef_g sum_{t_i <= x} q_i (1 - exp(-rate_g (x - t_i)))``.
    Each pass splits the bracket ``(lo, hi]`` into 256 bins, accumulates the
    elements of the bracket into them (the queued part as sums decayed to each bin's
    right edge, so no exponent is positive) and keeps the first bin where ``F``
    reaches the target; only that bin's elements go on to the next pass.
    """
    n_bins = 256
    n_groups = coef.shape[0]
    lo = -1.0  # travel times are >= 0, so F(lo) = 0 < target
    base_a = 0.0
    base_b = np.zeros(n_groups)  # queued mass with t_i <= lo
    base_d = np.zeros(n_groups)  # the same, each term times exp(-rate (lo - t_i))
    cur = np.arange(t.shape[0])
    while hi - lo > tol:
        width = (hi - lo) / n_bins
        edge = lo + width * np.arange(1, n_bins + 1)
        edge[-1] = hi
        bin_a = np.zeros(n_bins)
        bin_b = np.zeros((n_bins, n_groups))
        bin_d = np.zeros((n_bins, n_groups))
        where = np.empty(cur.shape[0], dtype=np.int64)
        for c in range(cur.shape[0]):
            i = cur[c]
            k = min(max(int((t[i] - lo) / width), 0), n_bins - 1)
            while k > 0 and t[i] <= edge[k - 1]:
                k -= 1
            while k < n_bins - 1 and t[i] > edge[k]:
                k += 1
            where[c] = k
            bin_a[k] += a[i]
            if q[i] > 0.0:
                for g in range(n_groups):
                    if coef[g] > 0.0:
                        m = coef[g] * q[i]
                        bin_b[k, g] += m
                        bin_d[k, g] += m * math.exp(-rate[g] * (edge[k] - t[i]))
        acc_a = base_a
        acc_b = base_b.copy()
        acc_d = base_d.copy()
        prev = lo
        found = n_bins - 1
        snap_a = acc_a
        snap_b = acc_b.copy()
        snap_d = acc_d.copy()
        for k in range(n_bins):
            snap_a = acc_a
            snap_b[:] = acc_b
            snap_d[:] = acc_d
            x = edge[k]
            acc_a += bin_a[k]
            value = acc_a
            for g in range(n_groups):
                acc_d[g] = acc_d[g] * math.exp(-rate[g] * (x - prev)) + bin_d[k, g]
                acc_b[g] += bin_b[k, g]
                value += acc_b[g] - acc_d[g]
            prev = x
            if value >= target:
                found = k
                break
        new_lo = edge[found - 1] if found > 0 else lo
        hi = edge[found]
        lo = new_lo
        base_a = snap_a
        base_b = snap_b
        base_d = snap_d
        keep = 0
        for c in range(cur.shape[0]):
            if where[c] == found:
                cur[keep] = cur[c]
                keep += 1
        cur = cur[:keep].copy()
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


@dataclass(frozen=True)
class _Solved:
    """One steady state: workloads and the served / queued dispatch mixture."""

    workload: FloatArray
    served: FloatArray
    queued: FloatArray
    prob_all_busy: float
    wait_rate: float
    converged: bool
    n_iterations: int


@dataclass(frozen=True, eq=False)
class _ExactChain:
    """The rate-independent structure of the ``2^N`` chain: built once per placement."""

    n_units: int
    uniq: IntArray
    inverse: IntArray
    up_src: IntArray
    up_unit: IntArray
    up_share: FloatArray
    busy: npt.NDArray[np.bool_]
    down_src: IntArray
    down_unit: IntArray


def _exact_chain(travel: FloatArray, share: FloatArray) -> _ExactChain:
    n = travel.shape[0]
    uniq, inverse, _ = _preferences(travel)
    pref_share = np.bincount(inverse, weights=share, minlength=uniq.shape[0]).astype(np.float64)
    src, unit, val = _upward_rates(uniq, pref_share)
    states = np.arange(1 << n)
    busy = ((states[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    down_src, down_unit = np.nonzero(busy)
    return _ExactChain(n, uniq, inverse, src, unit, val, busy, down_src, down_unit)


def _exact_solve(chain: _ExactChain, share: FloatArray, lam: float, mu: float) -> _Solved:
    n = chain.n_units
    n_states = 1 << n
    src, unit = chain.up_src, chain.up_unit
    rows = np.concatenate([src, chain.down_src])
    cols = np.concatenate([src | (1 << unit), chain.down_src & ~(1 << chain.down_unit)])
    rates = np.concatenate([lam * chain.up_share, np.full(chain.down_src.size, mu)])
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
    workload = chain.busy[:-1].T.astype(np.float64) @ prob[:-1] + p_all_busy
    served = _first_free_share(chain.uniq, chain.inverse, share, prob, n)
    queued = np.tile(share * p_all_busy / n, (n, 1))
    return _Solved(workload, served, queued, p_all_busy, n * mu - lam, True, 0)


def _result(
    method: Literal["exact", "approximate"],
    solved: _Solved,
    travel: FloatArray,
    standard: FloatArray,
) -> QueueingResult:
    within, mean, p90 = _metrics(travel, solved.served, solved.queued, solved.wait_rate, standard)
    return QueueingResult(
        method=method,
        status="converged" if solved.converged else "iteration_limit",
        workload=solved.workload,
        dispatch_fraction=solved.served + solved.queued,
        prob_all_busy=solved.prob_all_busy,
        mean_wait_s=solved.prob_all_busy / solved.wait_rate,
        fraction_within_standard=within,
        mean_response_s=mean,
        p90_response_s=p90,
        n_iterations=solved.n_iterations,
    )


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
    _check_exact_size(travel.shape[0])
    chain = _exact_chain(travel, share)
    solved = _exact_solve(chain, share, call_rate_per_s, 1.0 / mean_service_s)
    return _result("exact", solved, travel, standard)


def _check_exact_size(n_units: int) -> None:
    if n_units > MAX_EXACT_UNITS:
        msg = f"the exact hypercube takes at most {MAX_EXACT_UNITS} units; use hypercube_approx"
        raise InvalidInputError(msg)


def correction_factors(n_units: int, rho: float) -> FloatArray:
    """Return Larson's correction factors ``Q(N, rho, k)`` for ``k = 0..N-1``.

    ``Q(N, rho, k) = sum_{m=k}^{N-1} P_m C(N-k-1, m-k) / C(N, m) / (rho^k (1 - rho))``
    with ``P_m`` the M/M/N probability of ``m`` busy units, summed in logs over
    the ``(k, m)`` grid.
    """
    p_m, _ = _mmn_probabilities(n_units, rho * n_units)
    k = np.arange(n_units)[:, None]
    m = np.arange(n_units)[None, :]
    valid = m >= k
    mk = np.where(valid, m - k, 0)
    log_ratio = (gammaln(n_units - k) - gammaln(mk + 1) - gammaln(n_units - k - mk)) - (
        gammaln(n_units + 1) - gammaln(m + 1) - gammaln(n_units - m + 1)
    )
    with np.errstate(divide="ignore"):
        log_p = np.log(p_m)[None, :]
    log_terms = np.where(valid, log_p + log_ratio - k * math.log(rho) - math.log1p(-rho), -np.inf)
    top = log_terms.max(axis=1, keepdims=True)
    return np.asarray((np.exp(log_terms - top).sum(axis=1) * np.exp(top[:, 0])), dtype=np.float64)


def _approx_pref(travel: FloatArray) -> IntArray:
    """Each atom's units by travel time, nearest first (atoms x units), ties by index."""
    return np.ascontiguousarray(
        np.argsort(np.ascontiguousarray(travel.T), axis=1, kind="stable").astype(np.int64)
    )


def _approx_solve(  # noqa: PLR0917
    pref: IntArray,
    share: FloatArray,
    lam: float,
    mu: float,
    tol: float,
    max_iter: int,
    start: FloatArray | None = None,
) -> _Solved:
    n = pref.shape[1]
    offered = lam / mu
    rho_bar = offered / n
    _, p_all_busy = _mmn_probabilities(n, offered)
    q_factor = correction_factors(n, rho_bar)
    workload = np.full(n, rho_bar) if start is None else start * (offered / start.sum())
    converged = False
    iteration = 0
    p_k = np.zeros(pref.shape)
    # Fixed point of w = F(w) by Anderson mixing (depth 5, mixing 0.5): plain steps
    # (w <- F(w)) cycle at high load and damped ones crawl.
    hist_w: list[FloatArray] = []
    hist_f: list[FloatArray] = []
    for iteration in range(1, max_iter + 1):  # noqa: B007
        calls = _approx_sweep(pref, share, workload, q_factor, 1.0 - p_all_busy, p_k)
        target = offered * (calls + p_all_busy / n)
        target *= offered / target.sum()
        residual = target - workload
        if float(np.max(np.abs(residual))) < tol:
            converged = True
            break
        hist_w.append(workload)
        hist_f.append(residual)
        if len(hist_w) > _ANDERSON_DEPTH + 1:
            del hist_w[0], hist_f[0]
        step_w, step_f = workload, residual
        if len(hist_w) > 1:
            d_f = np.array([hist_f[i + 1] - hist_f[i] for i in range(len(hist_f) - 1)]).T
            d_w = np.array([hist_w[i + 1] - hist_w[i] for i in range(len(hist_w) - 1)]).T
            gamma = np.linalg.lstsq(d_f, residual, rcond=None)[0]
            step_w = workload - d_w @ gamma
            step_f = residual - d_f @ gamma
        workload = np.clip(step_w + 0.5 * step_f, 1e-12, 1.0 - 1e-12)
    served = np.zeros((n, pref.shape[0]))
    np.put_along_axis(served.T, pref, share[:, None] * p_k, axis=1)
    queued = np.tile(share * p_all_busy / n, (n, 1))
    return _Solved(workload, served, queued, p_all_busy, n * mu - lam, converged, iteration)


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
    pref = _approx_pref(travel)
    solved = _approx_solve(pref, share, call_rate_per_s, 1.0 / mean_service_s, tol, max_iter)
    result = _result("approximate", solved, travel, standard)
    log.debug(
        "hypercube approximation: %d units, %d atoms, %d iterations, %.1f ms",
        travel.shape[0],
        travel.shape[1],
        solved.n_iterations,
        1e3 * (time.perf_counter() - t0),
    )
    return result


@dataclass(frozen=True)
class HourlyQueueingResult:
    """Hypercube performance hour by hour, and over the day weighted by calls.

    Each hour with calls is one steady-state solve at that hour's rate (the
    pointwise stationary approximation, Green & Kolesar 1991: good when a unit's
    busy time is short beside the time the rate takes to change). Day figures are
    the hours' figures weighted by their calls (a call's chance of a given
    response), workloads by time (every hour counts 1/24).

    Attributes
    ----------
    method : str
        ``"exact"`` or ``"approximate"``.
    status : str
        ``"converged"``, or ``"iteration_limit"`` when any hour's iteration stopped.
    calls_per_hour : float64[24]
        The rates used.
    fraction_within_standard, mean_response_s, p90_response_s, prob_all_busy : float
        Over all calls of the day.
    workload : float64[n_units]
        Fraction of the day each unit is busy.
    by_hour_fraction_within_standard, by_hour_mean_response_s, by_hour_p90_response_s,
    by_hour_prob_all_busy : float64[24]
        The same for each hour (nan for an hour without calls).
    by_hour_workload : float64[24, n_units]
        Each hour's workloads.
    n_solves : int
        Distinct steady states solved (hours of equal rate share one).
    """

    method: Literal["exact", "approximate"]
    status: Literal["converged", "iteration_limit"]
    calls_per_hour: FloatArray
    fraction_within_standard: float
    mean_response_s: float
    p90_response_s: float
    prob_all_busy: float
    workload: FloatArray
    by_hour_fraction_within_standard: FloatArray
    by_hour_mean_response_s: FloatArray
    by_hour_p90_response_s: FloatArray
    by_hour_prob_all_busy: FloatArray
    by_hour_workload: FloatArray
    n_solves: int


def hypercube_by_hour(
    travel_s: FloatArray,
    call_share: FloatArray,
    *,
    calls_per_hour: FloatArray,
    mean_service_s: float,
    standard_s: float | FloatArray,
    method: Literal["auto", "exact", "approximate"] = "auto",
) -> HourlyQueueingResult:
    """Return hypercube performance for each hour's call rate and over the day.

    Parameters
    ----------
    travel_s, call_share, mean_service_s, standard_s
        As for :func:`hypercube_exact`.
    calls_per_hour : float64[24]
        Calls in each hour of the day (hour 0 = 00:00-01:00).
    method : {"auto", "exact", "approximate"}
        ``"auto"``: exact up to 12 units, Larson's approximation beyond.

    Raises
    ------
    InvalidInputError
        Bad shapes, no calls at all, or an hour whose offered load reaches the
        number of units (no steady state: the queue would grow without end).
    """
    rate_h = np.asarray(calls_per_hour, dtype=np.float64)
    if rate_h.shape != (24,) or not np.isfinite(rate_h).all() or (rate_h < 0).any():
        msg = "calls_per_hour must hold 24 non-negative, finite rates (hour 0 first)"
        raise InvalidInputError(msg)
    if rate_h.sum() <= 0:
        msg = "calls_per_hour is all zero: give at least one hour with calls"
        raise InvalidInputError(msg)
    busiest = int(np.argmax(rate_h))
    travel, share, standard = _validate(
        travel_s, call_share, float(rate_h[busiest]) / 3600.0, mean_service_s, standard_s
    )
    n = travel.shape[0]
    if method not in ("auto", "exact", "approximate"):
        msg = f"method must be 'auto', 'exact' or 'approximate', got {method!r}"
        raise InvalidInputError(msg)
    exact = method == "exact" or (method == "auto" and n <= AUTO_EXACT_UNITS)
    if exact:
        _check_exact_size(n)
    mu = 1.0 / mean_service_s
    chain = _exact_chain(travel, share) if exact else None
    pref = None if exact else _approx_pref(travel)
    solved: dict[float, _Solved] = {}
    start: FloatArray | None = None
    for r in sorted({float(v) for v in rate_h if v > 0}):
        lam = r / 3600.0
        if chain is not None:
            solved[r] = _exact_solve(chain, share, lam, mu)
        else:
            assert pref is not None
            solved[r] = _approx_solve(pref, share, lam, mu, 1e-6, 200, start)
            start = solved[r].workload
    nan24 = np.full(24, np.nan)
    within_h, mean_h, p90_h, busy_h = nan24.copy(), nan24.copy(), nan24.copy(), nan24.copy()
    work_h = np.zeros((24, n))
    metrics = {
        r: _metrics(travel, s.served, s.queued, s.wait_rate, standard) for r, s in solved.items()
    }
    for h in range(24):
        r = float(rate_h[h])
        if r <= 0:
            continue
        within_h[h], mean_h[h], p90_h[h] = metrics[r]
        busy_h[h] = solved[r].prob_all_busy
        work_h[h] = solved[r].workload
    weight = rate_h / rate_h.sum()
    has = rate_h > 0
    # the day's response distribution: each hour's mixture weighted by its calls; the
    # queued mass of every hour is (share_j / N) times that hour's P(all busy)
    served_day = np.zeros_like(travel)
    coef = np.zeros(24)
    wait_rate = np.ones(24)
    for h in np.flatnonzero(has).tolist():
        s = solved[float(rate_h[h])]
        served_day += weight[h] * s.served
        coef[h] = weight[h] * s.prob_all_busy
        wait_rate[h] = s.wait_rate
    queued_unit = np.tile(share / n, (n, 1))
    p90 = _quantile_of_mixture(
        np.ascontiguousarray(travel).ravel(),
        served_day.ravel(),
        queued_unit.ravel(),
        coef=coef,
        rate=wait_rate,
        quantile=0.9,
    )
    return HourlyQueueingResult(
        method="exact" if exact else "approximate",
        status="converged" if all(s.converged for s in solved.values()) else "iteration_limit",
        calls_per_hour=rate_h.copy(),
        fraction_within_standard=float(np.dot(weight[has], within_h[has])),
        mean_response_s=float(np.dot(weight[has], mean_h[has])),
        p90_response_s=p90,
        prob_all_busy=float(np.dot(weight[has], busy_h[has])),
        workload=work_h.mean(axis=0),
        by_hour_fraction_within_standard=within_h,
        by_hour_mean_response_s=mean_h,
        by_hour_p90_response_s=p90_h,
        by_hour_prob_all_busy=busy_h,
        by_hour_workload=work_h,
        n_solves=len(solved),
    )
