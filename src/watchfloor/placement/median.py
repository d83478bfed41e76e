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
    """Best single exchange (close ``r``, open ``j``): its change in cost, ``j``, ``r``.

    Whitaker's fast interchange (1983; Hansen & Mladenovic 1997): for each closed
    ``j`` one pass over the demand gives the change for every ``r`` at once, since a
    point moves to ``j`` when ``j`` is nearer than its site, and otherwise only
    when its own site ``r`` closes (to the nearer of ``j`` and its second site).
    """
    m, n = travel.shape
    d1, d2, a1 = _nearest_two(travel, open_sites)
    slot = np.full(m, -1, dtype=np.int64)
    for k in range(open_sites.size):
        slot[open_sites[k]] = k
    owner = np.empty(n, dtype=np.int64)
    for i in range(n):
        owner[i] = slot[a1[i]]
    best_delta, best_j, best_r = 0.0, -1, -1
    loss = np.zeros(open_sites.size)
    for j in range(m):
        if slot[j] >= 0:
            continue
        row = travel[j]
        gain = 0.0
        loss[:] = 0.0
        for i in range(n):
            t = row[i]
            if t < d1[i]:
                gain += weight[i] * (t - d1[i])
            else:
                loss[owner[i]] += weight[i] * (min(t, d2[i]) - d1[i])
        for k in range(open_sites.size):
            delta = gain + loss[k]
            if delta < best_delta - 1e-9:
                best_delta, best_j, best_r = delta, j, open_sites[k]
    return best_delta, best_j, best_r


@numba.njit(cache=True, nogil=True)
def _lagrangian_step(
    near_cand: npt.NDArray[np.int32],
    near_cost: npt.NDArray[np.float64],
    lam: npt.NDArray[np.float64],
    n_cand: int,
    n_units: int,
) -> tuple[float, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Lagrangian value, the ``p`` chosen sites and the subgradient at ``lam``.

    ``near_cand[i]`` lists candidates by increasing cost ``near_cost[i] = h_i t_ij``;
    only pairs with ``h_i t_ij < lambda_i`` count, and ``lambda_i`` never exceeds the
    last listed cost, so the lists hold every pair that counts.
    """
    n, k_near = near_cand.shape
    rho = np.zeros(n_cand)
    for i in range(n):
        li = lam[i]
        for k in range(k_near):
            c = near_cost[i, k]
            if c >= li:
                break
            rho[near_cand[i, k]] += c - li
    chosen = np.argsort(rho)[:n_units].astype(np.int64)
    is_chosen = np.zeros(n_cand, dtype=np.bool_)
    value = lam.sum()
    for s in chosen:
        value += rho[s]
        is_chosen[s] = True
    grad = np.ones(n)
    for i in range(n):
        li = lam[i]
        for k in range(k_near):
            if near_cost[i, k] >= li:
                break
            if is_chosen[near_cand[i, k]]:
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
    if np.isfinite(travel).all():
        return travel
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
    sites = _interchange(travel, weight, start, deadline=t0 + 0.15 * time_limit_s)
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
            mip_rel_gap=mip_rel_gap,
            start=np.concatenate([x0, z0]),
            objective_offset=offset,
            deadline=deadline,
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
    # every point served by its nearest candidate: a bound that holds whatever HiGHS did
    trivial = float(weight @ travel.min(axis=0))
    return best_sites, best_cost, min(max(bound, trivial), best_cost), status, n_var, n_con


def _near_lists(
    travel: FloatArray, weight: FloatArray, n_near: int
) -> tuple[npt.NDArray[np.int32], FloatArray]:
    """Return, per demand point, its ``n_near`` nearest candidates and their costs ``h t``."""
    m, n = travel.shape
    k = min(n_near, m)
    near = np.empty((n, k), dtype=np.int32)
    cost = np.empty((n, k))
    for lo in range(0, n, 2048):  # by blocks of columns: the transposed block stays small
        block = np.ascontiguousarray(travel[:, lo : lo + 2048].T)
        idx = np.argpartition(block, k - 1, axis=1)[:, :k] if k < m else np.argsort(block, 1)
        vals = np.take_along_axis(block, idx, axis=1)
        order = np.argsort(vals, axis=1, kind="stable")
        near[lo : lo + 2048] = np.take_along_axis(idx, order, axis=1)
        cost[lo : lo + 2048] = (
            np.take_along_axis(vals, order, axis=1) * weight[lo : lo + 2048, None]
        )
    return near, cost


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
    """Subgradient optimisation of the p-median Lagrangian dual; returns bound, sites, cost.

    The multipliers are kept below each point's cost to its ``n_near``-th nearest
    candidate (any multipliers give a valid bound), so each step only visits the
    pairs nearer than that.
    """
    m = travel.shape[0]
    n_near = min(m, max(64, (4 * m) // n_units + 32))
    near, near_cost = _near_lists(travel, weight, n_near)
    lam_max = near_cost[:, -1] if n_near < m else np.full(travel.shape[1], np.inf)
    d1, _, _ = _nearest_two(travel, sites)
    lam = np.minimum(weight * d1, lam_max)  # the incumbent's own costs: a good start
    best_bound = -np.inf
    best_sites, best_cost = sites, upper
    theta = 1.0
    since_improved = 0
    tried: set[bytes] = {np.sort(sites).tobytes()}
    iteration, next_heuristic = 0, 10
    while time.perf_counter() < deadline:
        iteration += 1
        value, chosen, grad = _lagrangian_step(near, near_cost, lam, m, n_units)
        if value > best_bound + 1e-9 * abs(value):
            best_bound, since_improved = value, 0
        else:
            since_improved += 1
            if since_improved >= 50:
                theta, since_improved = theta / 2.0, 0
        key = np.sort(chosen).tobytes()
        if iteration >= next_heuristic and key not in tried:
            # ever sparser: each costs a few interchange passes over the whole matrix
            next_heuristic = iteration + max(10, iteration // 3)
            tried.add(key)
            # Lagrangian heuristic: the relaxation's sites, improved by interchange
            improved = _interchange(travel, weight, chosen, deadline=deadline)
            cost = assignment_cost(travel, weight, improved)
            log.debug(
                "Lagrangian heuristic at step %d: cost %.6g (%.6g before interchange)",
                iteration,
                cost,
                assignment_cost(travel, weight, chosen),
            )
            if cost < best_cost:
                best_cost, best_sites = cost, improved
        if relative_gap(best_cost, best_bound) <= gap or theta < 1e-5:
            break
        grad = np.where(
            ((lam <= 0.0) & (grad < 0.0)) | ((lam >= lam_max) & (grad > 0.0)), 0.0, grad
        )
        norm = float(grad @ grad)
        if norm == 0:
            break
        lam = np.clip(lam + theta * (best_cost - value) / norm * grad, 0.0, lam_max)
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

    The decisions are taken on a growing subset of the demand points only (row
    generation, after Chen & Chen 2009 and Contardo, Iori & Kramer 2019, "A scalable
    exact algorithm for the vertex p-center problem", Comput. Oper. Res. 103): the
    optimum on a subset is a lower bound for the whole problem; when its placement
    also serves every other point within that radius it is optimal, otherwise the
    worst-served points join the subset. Each decision is tried with the greedy set
    cover first and proved with HiGHS only when greedy fails. The objective is the
    worst travel time in seconds; the bound is the largest radius proven infeasible,
    plus one step.

    Parameters
    ----------
    travel_s, demand, n_units
        As in :func:`solve_pmedian` (weights only select which points count).
    time_limit_s : float
        Wall-time budget, always honoured (to within one HiGHS call's overrun, which
        HiGHS bounds itself); a decision left open makes the status ``"time_limit"``
        and the gap says how far from optimal the answer can be.
    """
    t0 = time.perf_counter()
    travel, weight = validate_problem(travel_s, demand, n_units)
    if not time_limit_s > 0:
        msg = f"time_limit_s must be positive, got {time_limit_s}"
        raise InvalidInputError(msg)
    _reachable_or_raise(travel)
    deadline = t0 + time_limit_s
    travel = np.ascontiguousarray(travel[:, weight > 0])
    m, n = travel.shape
    # every point needs its nearest candidate: the worst of those is a lower bound
    bound = float(np.max(np.min(travel, axis=0)))
    sites = _farthest_first(travel, n_units)
    served = np.min(travel[sites], axis=0)
    objective = float(served.max())
    subset = np.unique(
        np.concatenate([np.argsort(-served)[: 2 * n_units], [int(np.argmax(travel.min(0)))]])
    )
    status: SolveStatus = "time_limit"
    n_decisions, n_rounds = 0, 0
    while time.perf_counter() < deadline:
        n_rounds += 1
        sub = np.ascontiguousarray(travel[:, subset])
        radius, sub_sites, exact, k = _pcenter_subset(
            sub, n_units, lower=bound, upper_sites=sites, deadline=deadline
        )
        n_decisions += k
        bound = max(bound, radius)  # a subset's optimum never exceeds the whole one's
        served_sub = np.min(travel[sub_sites], axis=0)
        if float(served_sub.max()) < objective:
            sites, objective, served = sub_sites, float(served_sub.max()), served_sub
        if not exact:
            break
        if objective <= bound:
            status = "optimal"
            break
        subset = np.union1d(subset, _late_points(travel, sub_sites, radius, n_units))
    bound = min(bound, objective)
    gap = relative_gap(objective, bound)
    log.info(
        "p-center: %d candidates, %d demand points, %d units: %s, radius %.1f s, "
        "bound %.1f s, %d rounds, %d decisions on %d points",
        m,
        n,
        n_units,
        status,
        objective,
        bound,
        n_rounds,
        n_decisions,
        subset.size,
    )
    return Placement(
        model="pcenter",
        status=status,
        sites=np.sort(sites),
        objective=objective,
        bound=bound,
        gap=gap,
        solve_time_s=time.perf_counter() - t0,
        n_variables=m,
        n_constraints=int(subset.size),
    )


def _late_points(travel: FloatArray, sites: IntArray, radius: float, n_units: int) -> IntArray:
    """Return points ``sites`` serve beyond ``radius``: the worst one of each site, then the
    worst overall, up to ``3 * n_units`` (spread over the map, so few rounds are needed)."""
    rows = travel[sites]
    served = rows.min(axis=0)
    late = np.flatnonzero(served > radius)
    if late.size == 0:
        return late
    late = late[np.argsort(-served[late], kind="stable")]
    owner = np.argmin(rows[:, late], axis=0)
    _, first_of_owner = np.unique(owner, return_index=True)
    spread = late[first_of_owner]
    return np.unique(np.concatenate([spread, late[: max(3 * n_units - spread.size, 0)]]))


def _pcenter_subset(
    travel: FloatArray,
    n_units: int,
    *,
    lower: float,
    upper_sites: IntArray,
    deadline: float,
) -> tuple[float, IntArray, bool, int]:
    """Solve p-center on the columns of ``travel`` by bisection over its distinct times.

    Returns the best radius found, its sites, whether that radius is proven optimal
    (when not, the radius returned is the largest one proven infeasible, plus one
    step: a valid lower bound) and the number of decisions taken. ``lower`` is a
    known lower bound and ``upper_sites`` a feasible placement.
    """
    upper = float(np.max(np.min(travel[upper_sites], axis=0)))
    values = np.unique(travel[(travel >= lower) & (travel <= upper)])
    sites = upper_sites
    lo, hi = 0, int(np.searchsorted(values, upper))  # values[hi] is feasible
    n_decisions = 0
    first = True
    while lo < hi:
        if time.perf_counter() >= deadline:
            return float(values[lo]), sites, False, n_decisions
        # the known lower bound first: after the first rounds it is often the optimum
        mid = lo if first else (lo + hi) // 2
        first = False
        verdict, found = _cover_decision(travel, float(values[mid]), n_units, deadline=deadline)
        n_decisions += 1
        if verdict is True and found is not None:
            # the greedy or HiGHS cover may be better than the radius asked for
            hi = int(np.searchsorted(values, float(np.max(np.min(travel[found], axis=0)))))
            sites = found
        elif verdict is False:
            lo = mid + 1
        else:
            return float(values[lo]), sites, False, n_decisions
    if values.size == 0:
        return upper, sites, True, n_decisions
    return float(values[hi]), sites, True, n_decisions


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
    """Decide whether ``n_units`` sites cover every column within ``radius``.

    Returns ``(True, sites)``, ``(False, None)`` when proven impossible, or
    ``(None, None)`` when the deadline came first.
    """
    cover = travel <= radius
    # identical demand columns are one constraint; identical candidate rows one column
    packed = np.ascontiguousarray(np.packbits(cover, axis=0).T)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)
    sub = cover[:, first]
    packed_rows = np.ascontiguousarray(np.packbits(sub, axis=1))
    row_keys = packed_rows.view(np.dtype((np.void, packed_rows.shape[1]))).ravel()
    _, cand = np.unique(row_keys, return_index=True)
    cand = cand[sub[cand].any(axis=1)]
    if (~sub[cand].any(axis=0)).any():
        return False, None
    sub = sub[cand]
    # greedy set cover: if it needs no more than p sites, the radius is feasible
    uncovered = np.ones(sub.shape[1], dtype=bool)
    chosen: list[int] = []
    sub_f = sub.astype(np.float32)
    while uncovered.any() and len(chosen) < n_units:
        j = int(np.argmax(sub_f @ uncovered.astype(np.float32)))
        chosen.append(j)
        uncovered &= ~sub[j]
    if not uncovered.any():
        return True, _pad_sites(cand[np.array(chosen, dtype=np.int64)], n_units, travel.shape[0])
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
            mip_rel_gap=1.0 - 1e-9,  # any feasible cover answers the decision
            deadline=deadline,
        )
    except InfeasibleError:
        if time.perf_counter() >= deadline:
            return None, None
        return False, None
    found = cand[np.flatnonzero(np.rint(out.x) > 0)].astype(np.int64)
    return True, _pad_sites(found, n_units, travel.shape[0])


def _pad_sites(found: IntArray, n_units: int, n_cand: int) -> IntArray:
    """Return ``found`` with unused candidates added up to ``n_units`` sites."""
    if found.size >= n_units:
        return found[:n_units]
    extra = np.setdiff1d(np.arange(n_cand), found)[: n_units - found.size]
    return np.concatenate([found, extra]).astype(np.int64)
