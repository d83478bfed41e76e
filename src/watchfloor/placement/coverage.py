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
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InvalidInputError
from watchfloor.placement._common import (
    Placement,
    coverage_sets,
    require_some_coverage,
    sites_from_counts,
    validate_problem,
)
from watchfloor.placement._milp import MilpOutcome, SolveStatus, relative_gap, solve_milp

__all__ = ["solve_backup", "solve_mclp", "solve_mexclp"]

log = logging.getLogger(__name__)

#: Coverage matrices with more non-zeros than this try Lagrangian relaxation first.
LAGRANGIAN_MIN_NNZ = 500_000
#: Share of the time limit the Lagrangian phase may use before HiGHS takes over.
LAGRANGIAN_SHARE = 0.6
#: HiGHS takes over only when Lagrangian fixing leaves at most this share of candidates.
FREE_SHARE_FOR_MILP = 0.5

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Levels:
    """A covering model in level form: ``max sum_k v_k y_k`` over coverage levels.

    Level ``k`` of group ``group[k]`` is worth ``value[k]`` when the group is covered
    at least ``rank[k] + 1`` times; within a group the values do not increase with the
    rank, so the LP fills the levels in order and ``y`` may stay continuous. MCLP has
    one level per group, MEXCLP ``(1 - q) q^(k-1)`` per unit, backup coverage two.
    """

    matrix: sparse.csc_array  # candidates x groups, 0/1
    group: IntArray
    rank: IntArray
    value: FloatArray

    @property
    def n_cand(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.matrix.shape[1])

    def first_value(self) -> FloatArray:
        """Return the value of each group's first level (0 for a group without levels)."""
        out = np.zeros(self.n_groups)
        out[self.group[self.rank == 0]] = self.value[self.rank == 0]
        return out

    def evaluate(self, counts: FloatArray) -> float:
        """Return the objective of the placement with ``counts`` units per candidate."""
        cover = self.matrix.T @ counts
        return float(self.value[self.rank < cover[self.group]].sum())

    def upper(self) -> float:
        """Return the value of covering every level (a trivial bound)."""
        return float(self.value.sum())


def _levels_greedy(lv: _Levels, n_units: int, cap: int) -> FloatArray:
    """Return unit counts per candidate from greedy marginal gains."""
    csr = sparse.csr_array(lv.matrix)
    counts = np.zeros(lv.n_cand)
    cover = np.zeros(lv.n_groups, dtype=np.int64)
    # next_value[g]: what the next covering unit adds to group g
    start = np.searchsorted(lv.group, np.arange(lv.n_groups + 1))
    n_levels = np.diff(start)
    for _ in range(n_units):
        has_next = cover < n_levels
        next_value = np.zeros(lv.n_groups)
        next_value[has_next] = lv.value[start[:-1][has_next] + cover[has_next]]
        gain = lv.matrix @ next_value
        gain = np.where(counts < cap, gain, -np.inf)
        j = int(np.argmax(gain))
        counts[j] += 1
        cover[csr.indices[csr.indptr[j] : csr.indptr[j + 1]]] += 1
    return counts


@numba.njit(cache=True, nogil=True)
def _swap_search(  # noqa: PLR0917 (numba kernels take positional arrays)
    cand_ptr: npt.NDArray[np.int32],
    cand_groups: npt.NDArray[np.int32],
    group_ptr: npt.NDArray[np.int32],
    group_cands: npt.NDArray[np.int32],
    level_start: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    open_sites: npt.NDArray[np.int64],
    max_rounds: int,
) -> tuple[npt.NDArray[np.int64], float]:
    """Best-improvement swaps (close ``r``, open ``j``) for a level model, one unit per site.

    ``cand_ptr/cand_groups`` list each candidate's groups, ``group_ptr/group_cands`` each
    group's candidates; group ``g``'s level values are ``value[level_start[g]:
    level_start[g + 1]]``. Returns the improved sites and the total gain.
    """
    n_cand = cand_ptr.size - 1
    n_groups = group_ptr.size - 1
    sites = open_sites.copy()
    is_open = np.zeros(n_cand, dtype=np.bool_)
    cover = np.zeros(n_groups, dtype=np.int64)
    for r in sites:
        is_open[r] = True
        for k in range(cand_ptr[r], cand_ptr[r + 1]):
            cover[cand_groups[k]] += 1
    gain_g = np.zeros(n_groups)
    loss_g = np.zeros(n_groups)
    gain_j = np.zeros(n_cand)
    acc = np.zeros(n_cand)
    total = 0.0
    for _ in range(max_rounds):
        for g in range(n_groups):
            n_lv = level_start[g + 1] - level_start[g]
            c = cover[g]
            gain_g[g] = value[level_start[g] + c] if c < n_lv else 0.0
            loss_g[g] = value[level_start[g] + c - 1] if 0 < c <= n_lv else 0.0
        for j in range(n_cand):
            acc_j = 0.0
            for k in range(cand_ptr[j], cand_ptr[j + 1]):
                acc_j += gain_g[cand_groups[k]]
            gain_j[j] = acc_j
        best, best_j, best_r = 1e-9, -1, -1
        for r in sites:
            loss_r = 0.0
            for k in range(cand_ptr[r], cand_ptr[r + 1]):
                g = cand_groups[k]
                loss_r += loss_g[g]
                corr = loss_g[g] - gain_g[g]
                for q in range(group_ptr[g], group_ptr[g + 1]):
                    acc[group_cands[q]] += corr
            for j in range(n_cand):
                if not is_open[j]:
                    delta = gain_j[j] + acc[j] - loss_r
                    if delta > best:
                        best, best_j, best_r = delta, j, r
            for k in range(cand_ptr[r], cand_ptr[r + 1]):
                g = cand_groups[k]
                for q in range(group_ptr[g], group_ptr[g + 1]):
                    acc[group_cands[q]] = 0.0
        if best_j < 0:
            break
        total += best
        for i in range(sites.size):
            if sites[i] == best_r:
                sites[i] = best_j
        is_open[best_r] = False
        is_open[best_j] = True
        for k in range(cand_ptr[best_r], cand_ptr[best_r + 1]):
            cover[cand_groups[k]] -= 1
        for k in range(cand_ptr[best_j], cand_ptr[best_j + 1]):
            cover[cand_groups[k]] += 1
    return sites, total


def _local_search(lv: _Levels, counts: FloatArray, *, deadline: float) -> FloatArray:
    """Return ``counts`` (one unit per site) improved by best-improvement swaps."""
    csc = lv.matrix
    csr = sparse.csr_array(csc)
    args = (
        csr.indptr.astype(np.int32),
        csr.indices.astype(np.int32),
        csc.indptr.astype(np.int32),
        csc.indices.astype(np.int32),
        np.searchsorted(lv.group, np.arange(lv.n_groups + 1)).astype(np.int64),
        np.ascontiguousarray(lv.value, dtype=np.float64),
    )
    sites = np.flatnonzero(counts > 0.5).astype(np.int64)
    while time.perf_counter() < deadline:
        sites, gain = _swap_search(*args, sites, 5)
        if gain <= 0:
            break
    out = np.zeros(lv.n_cand)
    out[sites] = 1.0
    return out


def _top_counts(score: FloatArray, n_units: int, cap: int) -> FloatArray:
    """Return counts placing ``n_units`` on the best-scoring candidates, ``cap`` each."""
    n_best = min(-(-n_units // cap), score.size)
    top = np.argpartition(-score, n_best - 1)[:n_best]
    top = top[np.argsort(-score[top], kind="stable")]
    counts = np.zeros(score.size)
    left = n_units
    for j in top:
        counts[j] = min(cap, left)
        left -= int(counts[j])
    return counts


@dataclass(frozen=True)
class _Dual:
    """Outcome of the Lagrangian phase."""

    counts: FloatArray
    value: float
    bound: float
    lam: FloatArray  # multipliers of the best bound


def _levels_lagrangian(
    lv: _Levels,
    n_units: int,
    cap: int,
    start: FloatArray,
    *,
    deadline: float,
    target_gap: float,
    centre: FloatArray | None = None,
    best_bound: float = np.inf,
) -> _Dual:
    """Lagrangian relaxation of the coverage rows (Galvao & ReVelle 1996 for MCLP).

    Relaxing ``sum_k y_gk <= sum_{j in N_g} x_j`` with ``lambda_g >= 0`` gives the upper
    bound ``L(lambda) = sum_k max(0, v_k - lambda_g(k)) + (best p candidates by
    sum_{g in N_j} lambda_g)``, minimised by the volume algorithm (Barahona & Anbil
    2000, "The volume algorithm: producing primal solutions with a subgradient
    method", Math. Program. 87): steps from the best multipliers so far along the
    violation of an average of the relaxed solutions, which on the county's MCLP
    closes the bound several times faster than plain subgradient steps. Each step's
    candidates are a feasible placement; every 25 steps a local search starts there.
    """
    w1 = lv.first_value()
    best_counts = start
    best_value = lv.evaluate(start)

    def relaxed(lam: FloatArray) -> tuple[float, FloatArray, FloatArray, FloatArray]:
        score = lv.matrix @ lam
        counts = _top_counts(score, n_units, cap)
        above = lv.value > lam[lv.group]
        value_l = float((lv.value - lam[lv.group])[above].sum() + counts @ score)
        filled = np.bincount(lv.group[above], minlength=lv.n_groups).astype(np.float64)
        return value_l, counts, filled, lv.matrix.T @ counts

    centre = 0.5 * w1 if centre is None else centre
    bound, counts, filled_avg, cov_avg = relaxed(centre)
    step, alpha, reds, iteration = 0.1, 0.1, 0, 0
    tried: set[bytes] = set()
    while time.perf_counter() < deadline and step > 1e-9:
        iteration += 1
        v = filled_avg - cov_avg
        v = np.where(((centre <= 0) & (v < 0)) | ((centre >= w1) & (v > 0)), 0.0, v)
        norm = float(v @ v)
        if norm < 1e-12:
            break
        lam = np.clip(centre + step * (bound - best_value) / norm * v, 0.0, w1)
        value_l, counts, filled, cov = relaxed(lam)
        filled_avg = alpha * filled + (1 - alpha) * filled_avg
        cov_avg = alpha * cov + (1 - alpha) * cov_avg
        if value_l < bound:
            if (filled - cov) @ v >= 0:
                step = min(2.0, 1.1 * step)
            centre, bound, reds = lam, value_l, 0
        else:
            reds += 1
            if reds >= 20:
                step, reds = 0.66 * step, 0
        value = float(lv.value[lv.rank < cov[lv.group]].sum())
        if value > best_value:
            best_value, best_counts = value, counts
        if cap == 1 and iteration % 25 == 0 and counts.tobytes() not in tried:
            # Lagrangian heuristic: local search from the relaxation's placement
            tried.add(counts.tobytes())
            improved = _local_search(lv, counts, deadline=deadline)
            value_i = lv.evaluate(improved)
            if value_i > best_value:
                best_value, best_counts = value_i, improved
        if min(bound, best_bound) - best_value <= target_gap * max(best_value, 1e-12):
            break
    log.debug("Lagrangian: %d iterations, value %.6g, bound %.6g", iteration, best_value, bound)
    return _Dual(best_counts, best_value, bound, centre)


def _levels_milp(
    lv: _Levels,
    n_units: int,
    cap: int,
    start: FloatArray,
    *,
    deadline: float,
    mip_rel_gap: float,
) -> tuple[MilpOutcome, int]:
    """Solve the level model with HiGHS; returns its outcome and the number of rows."""
    n_cand, n_groups = lv.matrix.shape
    n_y = lv.value.size
    coo = lv.matrix.tocoo()
    rows = np.concatenate([coo.col, lv.group, np.full(n_cand, n_groups)])
    cols = np.concatenate([coo.row, n_cand + np.arange(n_y), np.arange(n_cand)])
    vals = np.concatenate([-np.ones(coo.nnz), np.ones(n_y), np.ones(n_cand)])
    a = sparse.csc_array((vals, (rows, cols)), shape=(n_groups + 1, n_cand + n_y))
    cover = lv.matrix.T @ start
    y0 = (lv.rank < cover[lv.group]).astype(np.float64)
    out = solve_milp(
        np.concatenate([np.zeros(n_cand), lv.value]),
        a,
        np.concatenate([np.full(n_groups, -np.inf), [n_units]]),
        np.concatenate([np.zeros(n_groups), [n_units]]),
        col_lower=np.zeros(n_cand + n_y),
        col_upper=np.concatenate([np.full(n_cand, float(cap)), np.ones(n_y)]),
        integer=np.arange(n_cand + n_y) < n_cand,
        maximize=True,
        mip_rel_gap=mip_rel_gap,
        start=np.concatenate([start, y0]),
        deadline=deadline,
    )
    return out, n_groups + 1


@dataclass(frozen=True)
class _Solved:
    counts: FloatArray
    objective: float
    bound: float
    optimal: bool
    n_variables: int
    n_constraints: int


def _solve_levels(
    lv: _Levels,
    n_units: int,
    cap: int,
    *,
    deadline: float,
    time_limit_s: float,
    mip_rel_gap: float,
    lagrangian_min_nnz: int = LAGRANGIAN_MIN_NNZ,
) -> _Solved:
    """Solve a level model: greedy, then (when large) Lagrangian bound and fixing, then HiGHS.

    On a large model the Lagrangian phase (at most 40 % of the budget) usually
    proves the gap alone. Otherwise its multipliers fix candidates (Lagrangian
    reduction tests): forcing candidate ``j`` in (out) gives the bound
    ``L + s_j - s_(p)`` (``L - s_j + s_(p+1)``) with ``s`` the candidate scores; when that
    is no better than the incumbent, no better placement has ``j`` in (out). HiGHS
    then solves the smaller model on the free candidates, and the final bound is the
    larger of its bound and those of the fixings.
    """
    t_start = time.perf_counter()
    start = _levels_greedy(lv, n_units, cap)
    if cap == 1:
        start = _local_search(lv, start, deadline=t_start + 0.2 * time_limit_s)
    if lv.matrix.nnz <= lagrangian_min_nnz:
        out, n_rows = _levels_milp(
            lv, n_units, cap, start, deadline=deadline, mip_rel_gap=mip_rel_gap
        )
        counts = np.rint(out.x[: lv.n_cand])
        objective = lv.evaluate(counts)
        bound = max(min(out.bound, lv.upper()), objective)
        return _Solved(counts, objective, bound, out.status == "optimal", out.n_variables, n_rows)
    lag_deadline = min(deadline, time.perf_counter() + LAGRANGIAN_SHARE * time_limit_s)
    dual = _levels_lagrangian(
        lv, n_units, cap, start, deadline=lag_deadline, target_gap=mip_rel_gap
    )
    log.debug("Lagrangian phase: value %.6g, bound %.6g", dual.value, dual.bound)
    if dual.bound - dual.value <= mip_rel_gap * max(dual.value, 1e-12) or cap > 1:
        if cap > 1 and dual.bound - dual.value > mip_rel_gap * max(dual.value, 1e-12):
            out, n_rows = _levels_milp(
                lv, n_units, cap, dual.counts, deadline=deadline, mip_rel_gap=mip_rel_gap
            )
            counts = np.rint(out.x[: lv.n_cand])
            objective = lv.evaluate(counts)
            if objective < dual.value:
                counts, objective = dual.counts, dual.value
            bound = max(min(out.bound, dual.bound), objective)
            return _Solved(
                counts, objective, bound, out.status == "optimal", out.n_variables, n_rows
            )
        return _Solved(dual.counts, dual.value, dual.bound, True, 0, 0)
    fixed_out, fixed_in, _ = _fixings(lv, n_units, dual)
    if (~fixed_out & ~fixed_in).sum() > FREE_SHARE_FOR_MILP * lv.n_cand:
        # HiGHS would not finish even the root LP of a model this large in the time left
        # (measured: 2,000 x 15,249 groups, 1.9 M non-zeros, 40-50 s): keep the
        # Lagrangian going from where it stopped
        more = _levels_lagrangian(
            lv,
            n_units,
            cap,
            dual.counts,
            deadline=deadline,
            target_gap=mip_rel_gap,
            centre=dual.lam,
            best_bound=dual.bound,
        )
        if more.value > dual.value:
            return _Solved(more.counts, more.value, min(more.bound, dual.bound), False, 0, 0)
        return _Solved(dual.counts, dual.value, min(more.bound, dual.bound), False, 0, 0)
    return _fix_and_solve(lv, n_units, dual, deadline=deadline, mip_rel_gap=mip_rel_gap)


def _fixings(
    lv: _Levels, n_units: int, dual: _Dual
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], float]:
    """Return candidates fixed out, fixed in, and the best bound of placements breaking them."""
    lam = dual.lam
    score = lv.matrix @ lam
    order = np.argsort(-score, kind="stable")
    top, rest = order[:n_units], order[n_units:]
    s_p = float(score[top[-1]])
    s_next = float(score[rest[0]]) if rest.size else -np.inf
    above = lv.value > lam[lv.group]
    l_value = float((lv.value - lam[lv.group])[above].sum() + score[top].sum())
    incumbent = dual.value
    bound_in = l_value + score - s_p  # bound of any placement using candidate j
    bound_out = l_value - score + s_next  # bound of any placement leaving j out
    fixed_out = np.zeros(lv.n_cand, dtype=bool)
    fixed_out[rest] = bound_in[rest] <= incumbent
    fixed_in = np.zeros(lv.n_cand, dtype=bool)
    fixed_in[top] = bound_out[top] <= incumbent
    fixing_bound = max(
        float(bound_in[fixed_out].max()) if fixed_out.any() else -np.inf,
        float(bound_out[fixed_in].max()) if fixed_in.any() else -np.inf,
    )
    return fixed_out, fixed_in, fixing_bound


def _fix_and_solve(
    lv: _Levels, n_units: int, dual: _Dual, *, deadline: float, mip_rel_gap: float
) -> _Solved:
    """Fix candidates by Lagrangian reduction tests, solve the rest with HiGHS (one unit each)."""
    fixed_out, fixed_in, fixing_bound = _fixings(lv, n_units, dual)
    free = np.flatnonzero(~fixed_out & ~fixed_in)
    n_left = n_units - int(fixed_in.sum())
    log.debug(
        "Lagrangian fixing: %d candidates out, %d in, %d free",
        fixed_out.sum(),
        fixed_in.sum(),
        free.size,
    )
    # the fixed-in units cover some levels already; the rest form the reduced model
    base = np.zeros(lv.n_cand)
    base[fixed_in] = 1.0
    k0 = (lv.matrix.T @ base).astype(np.int64)
    free_matrix = sparse.csc_array(lv.matrix[free])
    reach = np.diff(free_matrix.indptr)  # free candidates covering each group
    keep_level = (lv.rank >= k0[lv.group]) & (
        lv.rank < k0[lv.group] + np.minimum(reach, n_left)[lv.group]
    )
    groups = np.unique(lv.group[keep_level])
    remap = np.full(lv.n_groups, -1, dtype=np.int64)
    remap[groups] = np.arange(groups.size)
    reduced = _Levels(
        matrix=sparse.csc_array(free_matrix[:, groups]),
        group=remap[lv.group[keep_level]],
        rank=lv.rank[keep_level] - k0[lv.group[keep_level]],
        value=lv.value[keep_level],
    )
    start = dual.counts[free]
    if n_left <= 0 or free.size == 0 or groups.size == 0:
        return _Solved(dual.counts, dual.value, max(fixing_bound, dual.value), True, 0, 0)
    out, n_rows = _levels_milp(
        reduced, n_left, 1, start, deadline=deadline, mip_rel_gap=mip_rel_gap
    )
    counts = base.copy()
    counts[free] = np.rint(out.x[: free.size])
    objective = lv.evaluate(counts)
    if objective < dual.value:
        counts, objective = dual.counts, dual.value
    constant = float(lv.value[lv.rank < k0[lv.group]].sum())
    bound = max(min(out.bound + constant, dual.bound), fixing_bound, objective)
    optimal = out.status == "optimal" and fixing_bound <= objective
    return _Solved(counts, objective, bound, optimal, out.n_variables, n_rows)


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
    n_groups = sets.weight.size
    lv = _Levels(
        matrix=sets.matrix,
        group=np.arange(n_groups, dtype=np.int64),
        rank=np.zeros(n_groups, dtype=np.int64),
        value=sets.weight,
    )
    res = _solve_levels(
        lv,
        n_units,
        1,
        deadline=t0 + time_limit_s,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
    )
    return _placement(
        "mclp",
        res,
        mip_rel_gap=mip_rel_gap,
        t0=t0,
        n_demand=travel.shape[1],
        n_groups=n_groups,
        n_units=n_units,
    )


def _placement(
    model: str,
    res: _Solved,
    *,
    mip_rel_gap: float,
    t0: float,
    n_demand: int,
    n_groups: int,
    n_units: int,
) -> Placement:
    gap = relative_gap(res.objective, res.bound)
    status: SolveStatus = "optimal" if gap <= mip_rel_gap + 1e-12 else "time_limit"
    log.info(
        "%s: %d candidates, %d demand points in %d coverage groups, %d units: %s, "
        "objective %.6g, bound %.6g, gap %.2g, MILP %d x %d",
        model,
        res.counts.size,
        n_demand,
        n_groups,
        n_units,
        status,
        res.objective,
        res.bound,
        gap,
        res.n_constraints,
        res.n_variables,
    )
    return Placement(
        model=model,
        status=status,
        sites=sites_from_counts(res.counts),
        objective=res.objective,
        bound=res.bound,
        gap=gap,
        solve_time_s=time.perf_counter() - t0,
        n_variables=res.n_variables,
        n_constraints=res.n_constraints,
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
    n_groups = sets.weight.size
    set_size = np.diff(sets.matrix.indptr)
    # Levels past K add at most q^K of a group's weight: truncating there changes the
    # objective by less than a twentieth of the requested gap (of the total weight),
    # which is added to the bound; the level model is solved to 3/4 of the gap so
    # that the sum stays within it whenever a third of the weight or more is covered.
    tail_tol = max(mip_rel_gap, 1e-9) / 20.0
    k_max = n_units
    if q > 0:
        k_max = int(min(n_units, max(1.0, np.ceil(np.log(tail_tol) / np.log(q)))))
    levels = np.minimum(k_max, set_size * max_units_per_site).astype(np.int64)
    n_y = int(levels.sum())
    y_group = np.repeat(np.arange(n_groups), levels)
    y_level = np.arange(n_y) - np.repeat(np.cumsum(levels) - levels, levels)
    lv = _Levels(
        matrix=sets.matrix,
        group=y_group,
        rank=y_level,
        value=sets.weight[y_group] * (1.0 - q) * q**y_level,
    )
    res = _solve_levels(
        lv,
        n_units,
        max_units_per_site,
        deadline=t0 + time_limit_s,
        time_limit_s=time_limit_s,
        mip_rel_gap=0.75 * mip_rel_gap,
    )
    # the objective counts every level, past the truncation too
    cover_count = sets.matrix.T @ res.counts
    objective = float(sets.weight @ (1.0 - q**cover_count))
    truncated = bool((levels < np.minimum(n_units, set_size * max_units_per_site)).any())
    bound = res.bound + (q**k_max) * float(sets.weight.sum()) if truncated else res.bound
    bound = max(min(bound, float(sets.weight.sum())), objective)
    res = _Solved(res.counts, objective, bound, res.optimal, res.n_variables, res.n_constraints)
    return _placement(
        "mexclp",
        res,
        mip_rel_gap=mip_rel_gap,
        t0=t0,
        n_demand=travel.shape[1],
        n_groups=n_groups,
        n_units=n_units,
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
    n_groups = sets.weight.size
    # a group reached by one candidate only can be covered once (one unit per site)
    levels = np.minimum(2, np.diff(sets.matrix.indptr)).astype(np.int64)
    y_group = np.repeat(np.arange(n_groups), levels)
    y_level = np.arange(y_group.size) - np.repeat(np.cumsum(levels) - levels, levels)
    lv = _Levels(
        matrix=sets.matrix,
        group=y_group,
        rank=y_level,
        value=sets.weight[y_group] * np.where(y_level == 0, theta, 1.0 - theta),
    )
    res = _solve_levels(
        lv,
        n_units,
        1,
        deadline=t0 + time_limit_s,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
    )
    return _placement(
        "backup",
        res,
        mip_rel_gap=mip_rel_gap,
        t0=t0,
        n_demand=travel.shape[1],
        n_groups=n_groups,
        n_units=n_units,
    )
