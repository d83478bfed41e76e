"""Median and centre models: p-median (mean response) and p-center (worst response).

Both see only a travel-time matrix ``travel_s`` (rows = candidate sites, columns =
demand points, seconds; ``inf`` = unreachable) and demand weights ``h``.
"""

from __future__ import annotations

import logging
import time

import numba
import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.placement._common import Placement, validate_problem
from watchfloor.placement._milp import SolveStatus, relative_gap, solve_milp

__all__ = ["assignment_cost", "solve_pcenter", "solve_pmedian"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _reachable_or_raise(travel: FloatArray) -> None:
    unreachable = ~np.isfinite(travel).any(axis=0)
    if unreachable.any():
        msg = (
            f"{int(unreachable.sum())} demand point(s) cannot be reached from any candidate "
            "site; drop them or add candidate sites that reach them"
        )
        raise InfeasibleError(msg)


def assignment_cost(travel_s: FloatArray, demand: FloatArray, sites: IntArray) -> float:
    """Return the demand-weighted travel time when every point uses its nearest site."""
    best = np.min(np.asarray(travel_s)[np.asarray(sites, dtype=np.int64)], axis=0)
    return float(np.dot(demand, best))


@numba.njit(cache=True, nogil=True)
def _nearest_two(
    travel: npt.NDArray[np.float64], open_sites: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    n = travel.shape[1]
    d1 = np.full(n, np.inf)
    d2 = np.full(n, np.inf)
    a1 = np.full(n, -1, dtype=np.int64)
    for s in open_sites:
        row = travel[s]
        for i in range(n):
            t = row[i]
            if t < d1[i]:
                d2[i] = d1[i]
                d1[i] = t
                a1[i] = s
            elif t < d2[i]:
                d2[i] = t
    return d1, d2, a1


@numba.njit(cache=True, nogil=True)
def _greedy_add(
    travel: npt.NDArray[np.float64], weight: npt.NDArray[np.float64], n_units: int
) -> npt.NDArray[np.int64]:
    m, n = travel.shape
    chosen = np.full(n_units, -1, dtype=np.int64)
    is_open = np.zeros(m, dtype=np.bool_)
    d = np.full(n, np.inf)
    for u in range(n_units):
        best_j, best_cost = -1, np.inf
        for j in range(m):
            if is_open[j]:
                continue
            row = travel[j]
            cost = 0.0
            for i in range(n):
                cost += weight[i] * min(d[i], row[i])
            if cost < best_cost:
                best_cost, best_j = cost, j
        chosen[u] = best_j
        is_open[best_j] = True
        row = travel[best_j]
        for i in range(n):
            d[i] = min(d[i], row[i])
    return chosen


@numba.njit(cache=True, nogil=True)
def _best_swap(
    travel: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    open_sites: npt.NDArray[np.int64],
) -> tuple[float, int, int]:
    """Best single exchange (close ``r``, open ``j``): its change in cost, ``j``, ``r``."""
    m, n = travel.shape
    d1, d2, a1 = _nearest_two(travel, open_sites)
    is_open = np.zeros(m, dtype=np.bool_)
    for s in open_sites:
        is_open[s] = True
    best_delta, best_j, best_r = 0.0, -1, -1
    b = np.empty(n)
    for r in open_sites:
        base = 0.0
        for i in range(n):
            b[i] = d2[i] if a1[i] == r else d1[i]
            base += weight[i] * (b[i] - d1[i])
        for j in range(m):
            if is_open[j]:
                continue
            row = travel[j]
            delta = base
            for i in range(n):
                if row[i] < b[i]:
                    delta += weight[i] * (row[i] - b[i])
            if delta < best_delta - 1e-9:
                best_delta, best_j, best_r = delta, j, r
    return best_delta, best_j, best_r


@numba.njit(cache=True, nogil=True)
def _lagrangian_step(
    travel: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    lam: npt.NDArray[np.float64],
    n_units: int,
) -> tuple[float, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Lagrangian value, the ``p`` chosen sites and the subgradient at ``lam``."""
    m, n = travel.shape
    rho = np.zeros(m)
    for j in range(m):
        row = travel[j]
        acc = 0.0
        for i in range(n):
            v = weight[i] * row[i] - lam[i]
            if v < 0.0:
                acc += v
        rho[j] = acc
    chosen = np.argsort(rho)[:n_units].astype(np.int64)
    value = lam.sum()
    for s in chosen:
        value += rho[s]
    grad = np.ones(n)
    for s in chosen:
        row = travel[s]
        for i in range(n):
            if weight[i] * row[i] - lam[i] < 0.0:
                grad[i] -= 1.0
    return value, chosen, grad


def _interchange(
    travel: FloatArray, weight: FloatArray, sites: IntArray, *, deadline: float
) -> IntArray:
    """Return ``sites`` improved by best-improvement exchanges (Teitz & Bart 1968)."""
    current = np.sort(sites.astype(np.int64))
    while time.perf_counter() < deadline:
        delta, j, r = _best_swap(travel, weight, current)
        if j < 0:
            break
        current = np.sort(np.where(current == r, j, current))
        log.debug("interchange: open %d, close %d, cost change %.6g", j, r, delta)
    return current


def _finite(travel: FloatArray) -> FloatArray:
    """Travel times with ``inf`` replaced by a penalty larger than any finite sum."""
    finite = travel[np.isfinite(travel)]
    top = float(finite.max()) if finite.size else 1.0
    penalty = 10.0 * top * max(travel.shape[1], 1) + 1.0
    return np.where(np.isfinite(travel), travel, penalty)


def _elloumi_model(
    travel: FloatArray, weight: FloatArray, n_units: int, radius: FloatArray
) -> tuple[FloatArray, sparse.csc_array, FloatArray, FloatArray, float, IntArray, FloatArray]:
    """Build Elloumi's chained p-median formulation in bulk, levels below ``radius`` only.

    Returns cost, matrix, row bounds, objective offset, and for every ``z`` column its
    demand point and level distance ``D_i^k``. Levels at or beyond ``radius[i]`` are
    left out, which makes the model a relaxation (their costs are non-negative);
    it is exact for any placement that serves ``i`` within ``radius[i]``.
    """
    m, n = travel.shape
    order = np.argsort(travel, axis=0, kind="stable").T  # n x m: candidates by distance
    dist = np.take_along_axis(travel.T, order, axis=1)
    step = np.zeros(dist.shape, dtype=np.int64)
    step[:, 1:] = (np.diff(dist, axis=1) > 0).astype(np.int64)
    level = np.cumsum(step, axis=1)  # 0-based distance level of each (demand, rank)
    n_levels = level[:, -1] + 1
    firsts = np.concatenate([np.ones((n, 1), dtype=bool), step[:, 1:] > 0], axis=1)
    d_of_level = dist[firsts]  # per demand, in level order, concatenated
    level_offset = np.concatenate([[0], np.cumsum(n_levels)])[:-1]
    below = np.where(firsts, dist < radius[:, None], False).sum(axis=1)
    n_z_per = np.minimum(np.maximum(below, 1), n_levels - 1)
    z_offset = np.concatenate([[0], np.cumsum(n_z_per)])
    n_z = int(z_offset[-1])
    z_dem = np.repeat(np.arange(n), n_z_per)
    z_lev = np.arange(n_z) - z_offset[z_dem]
    lv = level_offset[z_dem] + z_lev
    z_cost = weight[z_dem] * (d_of_level[lv + 1] - d_of_level[lv])
    offset = float(np.dot(weight, dist[:, 0]))
    # one row per z (demand i, level k): z_ik - z_i,k-1 + sum_{j at level k} x_j >= [k == 0]
    dem_idx, rank_idx = np.nonzero(level < n_z_per[:, None])
    x_rows = z_offset[dem_idx] + level[dem_idx, rank_idx]
    x_cols = order[dem_idx, rank_idx]
    prev = np.flatnonzero(z_lev > 0)
    rows = np.concatenate([x_rows, np.arange(n_z), prev, np.full(m, n_z)])
    cols = np.concatenate([x_cols, m + np.arange(n_z), m + prev - 1, np.arange(m)])
    vals = np.concatenate([np.ones(x_rows.size), np.ones(n_z), -np.ones(prev.size), np.ones(m)])
    a = sparse.csc_array((vals, (rows, cols)), shape=(n_z + 1, m + n_z))
    row_lower = np.concatenate([(z_lev == 0).astype(np.float64), [n_units]])
    row_upper = np.concatenate([np.full(n_z, np.inf), [n_units]])
    cost = np.concatenate([np.zeros(m), z_cost])
    return cost, a, row_lower, row_upper, offset, z_dem, d_of_level[lv]


def solve_pmedian(
    travel_s: FloatArray,
    demand: FloatArray,
    *,
    n_units: int,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
    max_exact_entries: int = 50_000,
) -> Placement:
    """Return the placement minimising demand-weighted travel time (p-median).

    p-median problem (Hakimi 1964; ReVelle & Swain 1970)::

        min  sum_i sum_j h_i t_ij z_ij
        s.t. sum_j z_ij = 1,  z_ij <= x_j,  sum_j x_j = p,  x_j in {0, 1}

    Small matrices (``n_candidates * n_demand <= max_exact_entries``) are solved with
    HiGHS on Elloumi's formulation (Elloumi 2010, "A tighter formulation of the
    p-median problem", J. Comb. Optim. 19, 69-83), in its chained form: with
    ``D_i^1 < ... < D_i^K`` the distinct travel times from ``i`` and ``z_ik = 1`` when
    no open site lies within ``D_i^k``::

        min  sum_i h_i (D_i^1 + sum_{k<K} (D_i^{k+1} - D_i^k) z_ik)
        s.t. z_ik >= z_i,k-1 - sum_{j: t_ij = D_i^k} x_j   (z_i0 = 1),  z >= 0

    Larger ones use Lagrangian relaxation of the assignment constraints (Cornuejols,
    Fisher & Nemhauser 1977; Beasley 1993) with subgradient steps for the proven
    lower bound, and greedy adding plus Teitz & Bart (1968) interchange on the
    Lagrangian solutions for the placement. The result's gap is proven either way.

    Parameters
    ----------
    travel_s : float64[n_candidates, n_demand]
        Travel times (inf = unreachable; every demand point must be reachable).
    demand : float64[n_demand]
        Demand weights.
    n_units : int
        Number of sites ``p`` to open.
    time_limit_s, mip_rel_gap : float
        Stop when the proven relative gap is below ``mip_rel_gap`` or time runs out.
    max_exact_entries : int
        Matrix size up to which the exact MILP is used.
    """
    t0 = time.perf_counter()
    travel, weight = validate_problem(travel_s, demand, n_units)
    if not time_limit_s > 0 or not 0 <= mip_rel_gap < 1:
        msg = "time_limit_s must be positive and mip_rel_gap in [0, 1)"
        raise InvalidInputError(msg)
    _reachable_or_raise(travel)
    deadline = t0 + time_limit_s
    keep = weight > 0
    travel = np.ascontiguousarray(_finite(travel[:, keep]))
    weight = np.ascontiguousarray(weight[keep])
    m, n = travel.shape
    start = _greedy_add(travel, weight, n_units)
    sites = _interchange(travel, weight, start, deadline=t0 + 0.3 * time_limit_s)
    upper = assignment_cost(travel, weight, sites)
    status: SolveStatus
    if m * n <= max_exact_entries:
        sites, objective, bound, status, n_var, n_con = _solve_elloumi(
            travel, weight, n_units, sites, deadline=deadline, mip_rel_gap=mip_rel_gap
        )
    else:
        bound, sites, objective = _lagrangian(
            travel, weight, n_units, sites, upper, deadline=deadline, gap=mip_rel_gap
        )
        status = "optimal" if relative_gap(objective, bound) <= mip_rel_gap else "time_limit"
        n_var, n_con = 0, 0
    gap = relative_gap(objective, bound)
    log.info(
        "p-median: %d candidates, %d demand points, %d units: %s, cost %.6g, gap %.2g",
        m,
        n,
        n_units,
        status,
        objective,
        gap,
    )
    return Placement(
        model="pmedian",
        status=status,
        sites=np.sort(sites),
        objective=objective,
        bound=bound,
        gap=gap,
        solve_time_s=time.perf_counter() - t0,
        n_variables=n_var,
        n_constraints=n_con,
    )


def _solve_elloumi(
    travel: FloatArray,
    weight: FloatArray,
    n_units: int,
    sites: IntArray,
    *,
    deadline: float,
    mip_rel_gap: float,
) -> tuple[IntArray, float, float, SolveStatus, int, int]:
    """Solve radius-bounded Elloumi models, widening the radius until the answer is exact."""
    m = travel.shape[0]
    _, d2, _ = _nearest_two(travel, sites)
    radius = d2 if n_units > 1 else np.full(travel.shape[1], np.inf)
    best_sites, best_cost = sites, assignment_cost(travel, weight, sites)
    bound, n_var, n_con = -np.inf, 0, 0
    status: SolveStatus = "time_limit"
    for _ in range(4):
        cost, a, row_lower, row_upper, offset, z_dem, z_dist = _elloumi_model(
            travel, weight, n_units, radius
        )
        x0 = np.zeros(m)
        x0[best_sites] = 1
        nearest = np.min(travel[best_sites], axis=0)
        z0 = (nearest[z_dem] > z_dist).astype(np.float64)
        out = solve_milp(
            cost,
            a,
            row_lower,
            row_upper,
            col_lower=np.zeros(cost.size),
            col_upper=np.concatenate([np.ones(m), np.full(cost.size - m, np.inf)]),
            integer=np.arange(cost.size) < m,
            time_limit_s=max(deadline - time.perf_counter(), 0.05),
            mip_rel_gap=mip_rel_gap,
            start=np.concatenate([x0, z0]),
            objective_offset=offset,
        )
        n_var, n_con = out.n_variables, out.n_constraints
        bound = max(bound, out.bound)
        found = np.flatnonzero(np.rint(out.x[:m]) > 0).astype(np.int64)
        found_cost = assignment_cost(travel, weight, found)
        if found_cost < best_cost:
            best_sites, best_cost = found, found_cost
        nearest = np.min(travel[found], axis=0)
        outside = nearest >= radius
        if out.status == "optimal" and not outside.any():
            status = "optimal"  # the relaxation is exact for this placement
            break
        if out.status != "optimal" or time.perf_counter() >= deadline:
            break
        radius = np.where(outside, np.inf, radius)
    return best_sites, best_cost, min(bound, best_cost), status, n_var, n_con


def _lagrangian(
    travel: FloatArray,
    weight: FloatArray,
    n_units: int,
    sites: IntArray,
    upper: float,
    *,
    deadline: float,
    gap: float,
) -> tuple[float, IntArray, float]:
    """Subgradient optimisation of the p-median Lagrangian dual; returns bound, sites, cost."""
    d1, _, _ = _nearest_two(travel, sites)
    lam = weight * d1  # the incumbent's own assignment costs: a good starting multiplier
    best_bound = -np.inf
    best_sites, best_cost = sites, upper
    theta = 2.0
    since_improved = 0
    tried: set[bytes] = {np.sort(sites).tobytes()}
    iteration = 0
    while time.perf_counter() < deadline:
        iteration += 1
        value, chosen, grad = _lagrangian_step(travel, weight, lam, n_units)
        if value > best_bound + 1e-9 * abs(value):
            best_bound, since_improved = value, 0
        else:
            since_improved += 1
            if since_improved >= 30:
                theta, since_improved = theta / 2.0, 0
        key = np.sort(chosen).tobytes()
        if key not in tried:
            tried.add(key)
            cost = assignment_cost(travel, weight, chosen)
            if cost < best_cost * (1 + 0.01):
                improved = _interchange(
                    travel, weight, chosen, deadline=min(deadline, time.perf_counter() + 5.0)
                )
                cost = assignment_cost(travel, weight, improved)
                if cost < best_cost:
                    best_cost, best_sites = cost, improved
        if relative_gap(best_cost, best_bound) <= gap or theta < 1e-4:
            break
        grad = np.where((lam <= 0.0) & (grad < 0.0), 0.0, grad)
        norm = float(grad @ grad)
        if norm == 0:
            break
        lam = np.maximum(lam + theta * (best_cost - value) / norm * grad, 0.0)
    log.debug("p-median Lagrangian: %d iterations, bound %.6g", iteration, best_bound)
    return float(min(best_bound, best_cost)), best_sites, best_cost


def solve_pcenter(
    travel_s: FloatArray,
    demand: FloatArray,
    *,
    n_units: int,
    time_limit_s: float = 60.0,
) -> Placement:
    """Return the placement minimising the worst travel time to any demand point (p-center).

    Vertex p-center problem (Hakimi 1965; Minieka 1970): ``min W`` such that every
    demand point with positive weight is within ``W`` of an open site. Solved exactly
    as a sequence of set-covering decision problems (Minieka 1970; Daskin 1995,
    ch. 5) over the sorted distinct travel times, by bisection::

        feasible(r):  exists x in {0,1}^m, sum_j x_j <= p,
                      sum_{j: t_ij <= r} x_j >= 1 for every demand point i

    Each decision is tried with the greedy set cover first and proved with HiGHS
    only when greedy fails. The objective is the worst travel time in seconds; the
    bound is the smallest radius not proven infeasible.

    Parameters
    ----------
    travel_s, demand, n_units
        As in :func:`solve_pmedian` (weights only select which points count).
    time_limit_s : float
        Wall-time budget; a decision left open makes the status ``"time_limit"``.
    """
    t0 = time.perf_counter()
    travel, weight = validate_problem(travel_s, demand, n_units)
    if not time_limit_s > 0:
        msg = f"time_limit_s must be positive, got {time_limit_s}"
        raise InvalidInputError(msg)
    _reachable_or_raise(travel)
    deadline = t0 + time_limit_s
    travel = travel[:, weight > 0]
    lower_value = float(np.max(np.min(travel, axis=0)))
    sites = _farthest_first(travel, n_units)
    upper_value = float(np.max(np.min(travel[sites], axis=0)))
    values = np.unique(travel[(travel >= lower_value) & (travel <= upper_value)])
    lo, hi = 0, int(np.searchsorted(values, upper_value))  # values[hi] is feasible
    open_decision = False
    n_milps = 0
    while lo < hi and time.perf_counter() < deadline:
        mid = (lo + hi) // 2
        verdict, found = _cover_decision(travel, float(values[mid]), n_units, deadline=deadline)
        n_milps += 1
        if verdict is True and found is not None:
            hi = mid
            sites = found
        elif verdict is False:
            lo = mid + 1
        else:
            open_decision = True
            break
    objective = float(np.max(np.min(travel[sites], axis=0)))
    bound = float(values[lo]) if values.size else objective
    status: SolveStatus = "optimal" if lo >= hi and not open_decision else "time_limit"
    gap = relative_gap(objective, bound)
    log.info(
        "p-center: %d candidates, %d demand points, %d units: %s, radius %.1f s, %d decisions",
        travel.shape[0],
        travel.shape[1],
        n_units,
        status,
        objective,
        n_milps,
    )
    return Placement(
        model="pcenter",
        status=status,
        sites=np.sort(sites),
        objective=objective,
        bound=bound,
        gap=gap,
        solve_time_s=time.perf_counter() - t0,
        n_variables=travel.shape[0],
        n_constraints=0,
    )


def _farthest_first(travel: FloatArray, n_units: int) -> IntArray:
    """Greedy p-center start: repeatedly open the site nearest the worst-served point."""
    first = int(np.argmin(np.max(travel, axis=1)))
    chosen = [first]
    d = travel[first].copy()
    is_open = np.zeros(travel.shape[0], dtype=bool)
    is_open[first] = True
    while len(chosen) < n_units:
        worst = int(np.argmax(d))
        col = np.where(is_open, np.inf, travel[:, worst])
        j = int(np.argmin(col))
        chosen.append(j)
        is_open[j] = True
        d = np.minimum(d, travel[j])
    return np.array(chosen, dtype=np.int64)


def _cover_decision(
    travel: FloatArray, radius: float, n_units: int, *, deadline: float
) -> tuple[bool | None, IntArray | None]:
    """Decide whether ``n_units`` sites cover every column within ``radius``."""
    cover = travel <= radius
    packed = np.ascontiguousarray(np.packbits(cover, axis=0).T)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)
    sub = cover[:, first]
    # greedy set cover: if it needs no more than p sites, the radius is feasible
    uncovered = np.ones(sub.shape[1], dtype=bool)
    chosen: list[int] = []
    sub_f = sub.astype(np.float32)
    while uncovered.any() and len(chosen) < n_units:
        j = int(np.argmax(sub_f @ uncovered.astype(np.float32)))
        chosen.append(j)
        uncovered &= ~sub[j]
    if not uncovered.any():
        return True, np.array(chosen, dtype=np.int64)
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None, None
    m, g = sub.shape
    rows, cols = np.nonzero(sub.T)
    a = sparse.csc_array(
        (
            np.ones(rows.size + m),
            (np.concatenate([rows, np.full(m, g)]), np.concatenate([cols, np.arange(m)])),
        ),
        shape=(g + 1, m),
    )
    try:
        out = solve_milp(
            np.ones(m),
            a,
            np.concatenate([np.ones(g), [0]]),
            np.concatenate([np.full(g, np.inf), [n_units]]),
            col_lower=np.zeros(m),
            col_upper=np.ones(m),
            integer=np.ones(m, dtype=bool),
            time_limit_s=remaining,
            mip_rel_gap=1.0 - 1e-9,  # any feasible cover answers the decision
        )
    except InfeasibleError:
        if time.perf_counter() >= deadline:
            return None, None
        return False, None
    found = np.flatnonzero(np.rint(out.x) > 0).astype(np.int64)
    if found.size < n_units:
        extra = np.setdiff1d(np.arange(m), found)[: n_units - found.size]
        found = np.concatenate([found, extra])
    return True, found
