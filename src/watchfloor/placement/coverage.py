"""Covering models: MCLP, MEXCLP and backup coverage, solved as MILPs with HiGHS.

All three see only a travel-time matrix ``travel_s`` (rows = candidate sites,
columns = demand points, seconds; ``inf`` = unreachable), demand weights ``h`` and
a response standard ``S``. ``N_i = {j : travel_s[j, i] <= S}`` is the coverage set
of demand point ``i``. Demand points with identical coverage sets are merged
before the model is built (their weights summed), and demand no candidate can
reach is left out (it is uncovered in every placement).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InvalidInputError
from watchfloor.placement._common import (
    CoverageSets,
    Placement,
    coverage_sets,
    require_some_coverage,
    sites_from_counts,
    validate_problem,
)
from watchfloor.placement._milp import relative_gap, solve_milp

__all__ = ["solve_backup", "solve_mclp", "solve_mexclp"]

log = logging.getLogger(__name__)

#: Coverage matrices with more non-zeros than this try Lagrangian relaxation first.
LAGRANGIAN_MIN_NNZ = 500_000

FloatArray = npt.NDArray[np.float64]


def _greedy_counts(
    sets: CoverageSets,
    n_units: int,
    value_of_count: FloatArray,
    max_units_per_site: int,
) -> FloatArray:
    """Return unit counts per candidate from greedy marginal gains.

    ``value_of_count[c]`` is the gain, per unit of demand weight, of the ``c + 1``-th
    unit covering a group; a group covered ``c`` times gains ``value_of_count[c]``.
    """
    matrix = sets.matrix
    csr = sparse.csr_array(matrix)
    n_cand = matrix.shape[0]
    counts = np.zeros(n_cand)
    covered = np.zeros(matrix.shape[1], dtype=np.int64)
    last = value_of_count.size - 1
    for _ in range(n_units):
        gain = matrix @ (sets.weight * value_of_count[np.minimum(covered, last)])
        gain = np.where(counts < max_units_per_site, gain, -np.inf)
        j = int(np.argmax(gain))
        counts[j] += 1
        covered[csr.indices[csr.indptr[j] : csr.indptr[j + 1]]] += 1
    return counts


def _mclp_lagrangian(
    sets: CoverageSets, n_units: int, *, deadline: float, target_gap: float
) -> tuple[FloatArray, float, float]:
    """Lagrangian relaxation of MCLP (Galvao & ReVelle 1996): unit counts, value, bound.

    Relaxing ``y_i <= sum_{j in N_i} x_j`` with ``lambda_i >= 0`` gives the upper bound
    ``L(lambda) = sum_i max(0, h_i - lambda_i) + (sum of the p largest
    sum_{i in N_j} lambda_i)``, minimised by subgradient steps; each step's ``p``
    sites are a feasible placement.
    """
    matrix = sets.matrix
    w = sets.weight
    lam = 0.5 * w
    best_counts = _greedy_counts(sets, n_units, np.array([1.0, 0.0]), 1)
    best_value = float(w @ (matrix.T @ best_counts > 0))
    best_bound = float(w.sum())
    theta, stall = 2.0, 0
    while time.perf_counter() < deadline and theta > 1e-4:
        score = matrix @ lam
        top = np.argpartition(-score, n_units - 1)[:n_units]
        y = (w > lam).astype(np.float64)
        value_l = float(np.maximum(w - lam, 0.0).sum() + score[top].sum())
        if value_l < best_bound - 1e-12 * abs(value_l):
            best_bound, stall = value_l, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2.0, 0
        counts = np.zeros(matrix.shape[0])
        counts[top] = 1.0
        cov = matrix.T @ counts
        value = float(w @ (cov > 0))
        if value > best_value:
            best_value, best_counts = value, counts
        if (best_bound - best_value) <= target_gap * max(best_value, 1e-12):
            break
        g = y - cov
        g = np.where(((lam <= 0) & (g < 0)) | ((lam >= w) & (g > 0)), 0.0, g)
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.clip(lam + theta * (value_l - best_value) / norm * g, 0.0, w)
    return best_counts, best_value, best_bound


def _check_options(time_limit_s: float, mip_rel_gap: float) -> None:
    if not time_limit_s > 0:
        msg = f"time_limit_s must be positive, got {time_limit_s}"
        raise InvalidInputError(msg)
    if not 0 <= mip_rel_gap < 1:
        msg = f"mip_rel_gap must be in [0, 1), got {mip_rel_gap}"
        raise InvalidInputError(msg)


def solve_mclp(
    travel_s: FloatArray,
    demand: FloatArray,
    *,
    n_units: int,
    standard_s: float,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> Placement:
    """Return the maximal covering placement of ``n_units`` units (MCLP).

    Maximal covering location problem (Church & ReVelle 1974, "The maximal covering
    location problem", Papers of the Regional Science Association 32, 101-118)::

        max  sum_i h_i y_i
        s.t. y_i <= sum_{j in N_i} x_j      for every demand point i
             sum_j x_j = p
             x_j in {0, 1},  0 <= y_i <= 1

    ``y`` is left continuous: at an integral ``x`` the optimum sets it to 0/1 anyway.
    The objective is the covered demand weight.

    Parameters
    ----------
    travel_s : float64[n_candidates, n_demand]
        Travel time from each candidate site to each demand point (inf = unreachable).
    demand : float64[n_demand]
        Non-negative demand weight of each point.
    n_units : int
        Number of units ``p`` to place.
    standard_s : float
        Response standard ``S`` in seconds.
    time_limit_s, mip_rel_gap : float
        HiGHS limits; on a time limit the result has status ``"time_limit"`` and its gap.
    """
    t0 = time.perf_counter()
    travel, weight = validate_problem(travel_s, demand, n_units)
    _check_options(time_limit_s, mip_rel_gap)
    sets = coverage_sets(travel, weight, standard_s)
    require_some_coverage(sets, standard_s)
    n_cand, n_groups = sets.matrix.shape
    coo = sets.matrix.tocoo()
    rows = np.concatenate([coo.col, np.arange(n_groups), np.full(n_cand, n_groups)])
    cols = np.concatenate([coo.row, n_cand + np.arange(n_groups), np.arange(n_cand)])
    vals = np.concatenate([-np.ones(coo.nnz), np.ones(n_groups), np.ones(n_cand)])
    a = sparse.csc_array((vals, (rows, cols)), shape=(n_groups + 1, n_cand + n_groups))
    if sets.matrix.nnz > LAGRANGIAN_MIN_NNZ:
        greedy, lag_value, lag_bound = _mclp_lagrangian(
            sets, n_units, deadline=t0 + 0.5 * time_limit_s, target_gap=mip_rel_gap
        )
    else:
        greedy = _greedy_counts(sets, n_units, np.array([1.0, 0.0]), 1)
        lag_value, lag_bound = float(sets.weight @ (sets.matrix.T @ greedy > 0)), np.inf
    if lag_bound - lag_value <= mip_rel_gap * max(lag_value, 1e-12):
        log.info("MCLP: Lagrangian bound proves the placement within %.2g", mip_rel_gap)
        return Placement(
            model="mclp",
            status="optimal",
            sites=sites_from_counts(greedy),
            objective=lag_value,
            bound=lag_bound,
            gap=relative_gap(lag_value, lag_bound),
            solve_time_s=time.perf_counter() - t0,
            n_variables=0,
            n_constraints=0,
        )
    covered0 = np.minimum(sets.matrix.T @ greedy, 1.0)
    out = solve_milp(
        np.concatenate([np.zeros(n_cand), sets.weight]),
        a,
        np.concatenate([np.full(n_groups, -np.inf), [n_units]]),
        np.concatenate([np.zeros(n_groups), [n_units]]),
        col_lower=np.zeros(n_cand + n_groups),
        col_upper=np.ones(n_cand + n_groups),
        integer=np.arange(n_cand + n_groups) < n_cand,
        maximize=True,
        time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.05),
        mip_rel_gap=mip_rel_gap,
        start=np.concatenate([greedy, covered0]),
    )
    sites = sites_from_counts(out.x[:n_cand])
    log.info(
        "MCLP: %d candidates, %d demand points in %d coverage groups, %d units: %s, gap %.2g",
        n_cand,
        travel.shape[1],
        n_groups,
        n_units,
        out.status,
        out.gap,
    )
    return Placement(
        model="mclp",
        status=out.status,
        sites=sites,
        objective=out.objective,
        # the Lagrangian bound holds when HiGHS stops before its root LP
        bound=min(out.bound, lag_bound, float(sets.weight.sum())),
        gap=relative_gap(out.objective, min(out.bound, lag_bound, float(sets.weight.sum()))),
        solve_time_s=time.perf_counter() - t0,
        n_variables=out.n_variables,
        n_constraints=out.n_constraints,
    )


def solve_mexclp(
    travel_s: FloatArray,
    demand: FloatArray,
    *,
    n_units: int,
    standard_s: float,
    busy_fraction: float,
    max_units_per_site: int = 1,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> Placement:
    """Return the placement maximising expected covered demand with busy units (MEXCLP).

    Maximum expected covering location problem (Daskin 1983, "A maximum expected
    covering location model: formulation, properties and heuristic solution",
    Transportation Science 17(1), 48-70). Each unit is busy independently with
    probability ``q``; a point covered by ``k`` units is answered in time with
    probability ``1 - q^k``, so the ``k``-th covering unit adds ``(1 - q) q^(k-1)``::

        max  sum_i h_i sum_{k=1..p} (1 - q) q^(k-1) y_ik
        s.t. sum_k y_ik <= sum_{j in N_i} x_j      for every demand point i
             sum_j x_j = p
             x_j in {0, ..., max_units_per_site},  0 <= y_ik <= 1

    Because the coefficients fall with ``k``, the LP fills ``y_i1, y_i2, ...`` in order
    and ``y`` may stay continuous. ``k`` stops at ``min(p, |N_i| * max_units_per_site)``.
    The objective is the expected covered demand weight.

    Parameters
    ----------
    travel_s, demand, n_units, standard_s, time_limit_s, mip_rel_gap
        As in :func:`solve_mclp`.
    busy_fraction : float
        ``q``, the probability that a unit is busy (0 <= q < 1), e.g. the system
        utilisation ``call rate x mean service time / n_units``.
    max_units_per_site : int
        Units one base may host (Daskin allows several; 1 spreads the units).
    """
    t0 = time.perf_counter()
    travel, weight = validate_problem(travel_s, demand, n_units)
    _check_options(time_limit_s, mip_rel_gap)
    if not 0 <= busy_fraction < 1:
        msg = f"busy_fraction must be in [0, 1), got {busy_fraction}"
        raise InvalidInputError(msg)
    if max_units_per_site < 1:
        msg = f"max_units_per_site must be at least 1, got {max_units_per_site}"
        raise InvalidInputError(msg)
    sets = coverage_sets(travel, weight, standard_s)
    require_some_coverage(sets, standard_s)
    q = float(busy_fraction)
    n_cand, n_groups = sets.matrix.shape
    set_size = np.diff(sets.matrix.indptr)
    # Levels past K add at most q^K of a group's weight: truncating there changes the
    # objective by less than a tenth of the requested gap, which is added to the bound.
    tail_tol = max(mip_rel_gap, 1e-9) / 10.0
    k_max = n_units
    if q > 0:
        k_max = int(min(n_units, max(1.0, np.ceil(np.log(tail_tol) / np.log(q)))))
    levels = np.minimum(k_max, set_size * max_units_per_site).astype(np.int64)
    n_y = int(levels.sum())
    y_group = np.repeat(np.arange(n_groups), levels)
    y_level = np.arange(n_y) - np.repeat(np.cumsum(levels) - levels, levels)
    y_cost = sets.weight[y_group] * (1.0 - q) * q**y_level
    coo = sets.matrix.tocoo()
    rows = np.concatenate([coo.col, y_group, np.full(n_cand, n_groups)])
    cols = np.concatenate([coo.row, n_cand + np.arange(n_y), np.arange(n_cand)])
    vals = np.concatenate([-np.ones(coo.nnz), np.ones(n_y), np.ones(n_cand)])
    a = sparse.csc_array((vals, (rows, cols)), shape=(n_groups + 1, n_cand + n_y))
    value_of_count = (1.0 - q) * q ** np.arange(n_units + 1, dtype=np.float64)
    value_of_count[-1] = 0.0
    greedy = _greedy_counts(sets, n_units, value_of_count, max_units_per_site)
    cover_count = sets.matrix.T @ greedy
    y0 = (y_level < cover_count[y_group]).astype(np.float64)
    out = solve_milp(
        np.concatenate([np.zeros(n_cand), y_cost]),
        a,
        np.concatenate([np.full(n_groups, -np.inf), [n_units]]),
        np.concatenate([np.zeros(n_groups), [n_units]]),
        col_lower=np.zeros(n_cand + n_y),
        col_upper=np.concatenate([np.full(n_cand, float(max_units_per_site)), np.ones(n_y)]),
        integer=np.arange(n_cand + n_y) < n_cand,
        maximize=True,
        time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.05),
        mip_rel_gap=mip_rel_gap,
        start=np.concatenate([greedy, y0]),
    )
    counts = np.rint(out.x[:n_cand])
    cover_count = sets.matrix.T @ counts
    objective = float(sets.weight @ (1.0 - q**cover_count))
    truncated = bool((levels < np.minimum(n_units, set_size * max_units_per_site)).any())
    bound = out.bound + (q**k_max) * float(sets.weight.sum()) if truncated else out.bound
    bound = max(min(bound, float(sets.weight.sum())), objective)
    gap = (bound - objective) / max(objective, 1e-9)
    log.info(
        "MEXCLP: %d candidates, %d coverage groups, %d level variables, %d units, q=%.3f: %s",
        n_cand,
        n_groups,
        n_y,
        n_units,
        q,
        out.status,
    )
    return Placement(
        model="mexclp",
        status=out.status,
        sites=sites_from_counts(counts),
        objective=objective,
        bound=bound,
        gap=float(gap),
        solve_time_s=time.perf_counter() - t0,
        n_variables=out.n_variables,
        n_constraints=out.n_constraints,
    )


def solve_backup(
    travel_s: FloatArray,
    demand: FloatArray,
    *,
    n_units: int,
    standard_s: float,
    primary_weight: float = 0.5,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> Placement:
    """Return the placement maximising first and backup (second) coverage (BACOP2).

    Backup coverage location problem 2 (Hogan & ReVelle 1986, "Concepts and
    applications of backup coverage", Management Science 32(11), 1434-1444)::

        max  theta sum_i h_i y_i + (1 - theta) sum_i h_i u_i
        s.t. y_i + u_i <= sum_{j in N_i} x_j     (u_i: covered a second time)
             u_i <= y_i
             sum_j x_j = p
             x_j in {0, 1},  0 <= y_i, u_i <= 1

    The objective is ``theta * covered weight + (1 - theta) * twice-covered weight``.

    Parameters
    ----------
    travel_s, demand, n_units, standard_s, time_limit_s, mip_rel_gap
        As in :func:`solve_mclp`.
    primary_weight : float
        ``theta`` in [0.5, 1]: 1 is MCLP, 0.5 weighs first and second cover alike.
        Below 0.5 the continuous ``y, u`` would split a single cover into two halves,
        so smaller values are refused.
    """
    t0 = time.perf_counter()
    travel, weight = validate_problem(travel_s, demand, n_units)
    _check_options(time_limit_s, mip_rel_gap)
    if not 0.5 <= primary_weight <= 1:
        msg = f"primary_weight must be in [0.5, 1], got {primary_weight}"
        raise InvalidInputError(msg)
    sets = coverage_sets(travel, weight, standard_s)
    require_some_coverage(sets, standard_s)
    theta = float(primary_weight)
    n_cand, n_groups = sets.matrix.shape
    coo = sets.matrix.tocoo()
    g = np.arange(n_groups)
    y_col, u_col = n_cand + g, n_cand + n_groups + g
    rows = np.concatenate(
        [coo.col, g, g, n_groups + g, n_groups + g, np.full(n_cand, 2 * n_groups)]
    )
    cols = np.concatenate([coo.row, y_col, u_col, u_col, y_col, np.arange(n_cand)])
    vals = np.concatenate(
        [
            -np.ones(coo.nnz),
            np.ones(n_groups),
            np.ones(n_groups),
            np.ones(n_groups),
            -np.ones(n_groups),
            np.ones(n_cand),
        ]
    )
    n_cols = n_cand + 2 * n_groups
    a = sparse.csc_array((vals, (rows, cols)), shape=(2 * n_groups + 1, n_cols))
    greedy = _greedy_counts(sets, n_units, np.array([theta, 1.0 - theta, 0.0]), 1)
    count = sets.matrix.T @ greedy
    out = solve_milp(
        np.concatenate([np.zeros(n_cand), theta * sets.weight, (1 - theta) * sets.weight]),
        a,
        np.concatenate([np.full(2 * n_groups, -np.inf), [n_units]]),
        np.concatenate([np.zeros(2 * n_groups), [n_units]]),
        col_lower=np.zeros(n_cols),
        col_upper=np.ones(n_cols),
        integer=np.arange(n_cols) < n_cand,
        maximize=True,
        time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.05),
        mip_rel_gap=mip_rel_gap,
        start=np.concatenate([greedy, np.minimum(count, 1.0), (count >= 2).astype(float)]),
    )
    log.info(
        "backup coverage: %d candidates, %d coverage groups, %d units: %s",
        n_cand,
        n_groups,
        n_units,
        out.status,
    )
    return Placement(
        model="backup",
        status=out.status,
        sites=sites_from_counts(out.x[:n_cand]),
        objective=out.objective,
        bound=min(out.bound, float(sets.weight.sum())),
        gap=relative_gap(out.objective, min(out.bound, float(sets.weight.sum()))),
        solve_time_s=time.perf_counter() - t0,
        n_variables=out.n_variables,
        n_constraints=out.n_constraints,
    )
