"""Move-up: where free units should go when one goes busy, to restore coverage.

A small maximal-covering MILP over the free units (Church & ReVelle 1974 with the
free units as ``p``), with a tie-break that keeps units where they are, and an
optional cap on the number of units moved (as in the compliance-table and
dynamic relocation models of Gendreau, Laporte & Semet 2001). The moved units
are then matched to the new bases by least total relocation time (Hungarian
method, :func:`scipy.optimize.linear_sum_assignment`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import linear_sum_assignment

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.placement._common import coverage_sets
from watchfloor.placement._milp import SolveStatus, solve_milp

__all__ = ["MoveUp", "recommend_moveup"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MoveUp:
    """Recommended relocations of free units.

    Attributes
    ----------
    status : str
        ``"optimal"`` or ``"time_limit"`` (best found, with ``gap``).
    new_bases : int64[n_units]
        Candidate index of every unit after the move (busy units keep their base).
    moved_units : int64[k]
        Units that move; ``from_site``/``to_site``/``relocation_s`` are parallel.
    from_site, to_site : int64[k]
    relocation_s : float64[k]
        Travel time of each move (nan when no relocation matrix was given).
    coverage_before, coverage_after : float
        Share of demand within the standard of a free unit, before and after.
    gap : float
    solve_time_s : float
    """

    status: SolveStatus
    new_bases: IntArray
    moved_units: IntArray
    from_site: IntArray
    to_site: IntArray
    relocation_s: FloatArray
    coverage_before: float
    coverage_after: float
    gap: float
    solve_time_s: float


def _covered_share(cover: npt.NDArray[np.bool_], weight: FloatArray, sites: IntArray) -> float:
    if sites.size == 0:
        return 0.0
    return float(weight[cover[sites].any(axis=0)].sum() / weight.sum())


def recommend_moveup(
    travel_s: FloatArray,
    demand: FloatArray,
    *,
    bases: IntArray,
    busy: npt.NDArray[np.bool_],
    standard_s: float,
    relocation_s: FloatArray | None = None,
    max_moves: int | None = None,
    time_limit_s: float = 1.0,
) -> MoveUp:
    """Return relocations of the free units that maximise coverage within the standard.

    ``max sum_i h_i y_i - eps * sum_{j not a free unit's base} x_j`` subject to
    ``y_i <= sum_{j in N_i} x_j``, ``sum_j x_j = n_free``, optionally
    ``sum_{j not a free base} x_j <= max_moves``; ``eps`` is small enough never to
    trade coverage for fewer moves.

    Parameters
    ----------
    travel_s : float64[n_candidates, n_demand]
        Travel time from candidate bases to demand points.
    demand : float64[n_demand]
        Demand weights.
    bases : int64[n_units]
        Current candidate index of each unit.
    busy : bool[n_units]
        Units that are busy (they stay out of the coverage).
    standard_s : float
        Response standard.
    relocation_s : float64[n_candidates, n_candidates], optional
        Travel time between candidates, to pair moved units with new bases.
    max_moves : int, optional
        Most units that may move.
    time_limit_s : float
        HiGHS time limit.
    """
    t0 = time.perf_counter()
    travel = np.asarray(travel_s, dtype=np.float64)
    weight = np.asarray(demand, dtype=np.float64)
    base = np.asarray(bases, dtype=np.int64)
    is_busy = np.asarray(busy, dtype=bool)
    if travel.ndim != 2 or weight.shape != (travel.shape[1],) or weight.sum() <= 0:
        msg = "travel_s must be (candidates x demand) and demand non-empty with one weight each"
        raise InvalidInputError(msg)
    if base.ndim != 1 or is_busy.shape != base.shape:
        msg = "bases and busy must have one entry per unit"
        raise InvalidInputError(msg)
    if base.size and (base.min() < 0 or base.max() >= travel.shape[0]):
        msg = "bases must be candidate indices (rows of travel_s)"
        raise InvalidInputError(msg)
    if max_moves is not None and max_moves < 0:
        msg = f"max_moves must be non-negative, got {max_moves}"
        raise InvalidInputError(msg)
    free_units = np.flatnonzero(~is_busy)
    if free_units.size == 0:
        msg = "every unit is busy: there is no free unit to move"
        raise InfeasibleError(msg)
    cover = travel <= standard_s
    before = _covered_share(cover, weight, base[free_units])
    sets = coverage_sets(travel, weight, standard_s)
    n_cand, n_groups = sets.matrix.shape
    n_free = int(free_units.size)
    current = np.zeros(n_cand, dtype=bool)
    current[base[free_units]] = True
    eps = 1e-9 * float(weight.sum())
    coo = sets.matrix.tocoo()
    rows = [coo.col, np.arange(n_groups), np.full(n_cand, n_groups)]
    cols = [coo.row, n_cand + np.arange(n_groups), np.arange(n_cand)]
    vals = [-np.ones(coo.nnz), np.ones(n_groups), np.ones(n_cand)]
    lower = [np.full(n_groups, -np.inf), [n_free]]
    upper = [np.zeros(n_groups), [n_free]]
    if max_moves is not None:
        outside = np.flatnonzero(~current)
        rows.append(np.full(outside.size, n_groups + 1))
        cols.append(outside)
        vals.append(np.ones(outside.size))
        lower.append([0])
        upper.append([max_moves])
    n_rows = n_groups + 1 + (max_moves is not None)
    a = sparse.csc_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cand + n_groups),
    )
    # several free units may share a base; x counts units per candidate
    cap = np.maximum(np.bincount(base[free_units], minlength=n_cand), 1).astype(np.float64)
    start_x = np.bincount(base[free_units], minlength=n_cand).astype(np.float64)
    out = solve_milp(
        np.concatenate([np.where(current, 0.0, -eps), sets.weight]),
        a,
        np.concatenate([np.asarray(v, dtype=np.float64) for v in lower]),
        np.concatenate([np.asarray(v, dtype=np.float64) for v in upper]),
        col_lower=np.zeros(n_cand + n_groups),
        col_upper=np.concatenate([cap, np.ones(n_groups)]),
        integer=np.arange(n_cand + n_groups) < n_cand,
        maximize=True,
        time_limit_s=time_limit_s,
        mip_rel_gap=1e-6,
        start=np.concatenate([start_x, np.minimum(sets.matrix.T @ start_x, 1.0)]),
    )
    counts = np.rint(out.x[:n_cand]).astype(np.int64)
    # units whose base keeps enough places stay; the others move to the new places
    staying: list[int] = []
    remaining = counts.copy()
    for u in free_units:
        if remaining[base[u]] > 0:
            remaining[base[u]] -= 1
            staying.append(int(u))
    movers = np.setdiff1d(free_units, np.array(staying, dtype=np.int64))
    targets = np.repeat(np.arange(n_cand, dtype=np.int64), remaining)
    new_bases = base.copy()
    reloc = np.full(movers.size, np.nan)
    if movers.size:
        if relocation_s is not None:
            r = np.asarray(relocation_s, dtype=np.float64)
            cost = r[np.ix_(base[movers], targets)]
            cost = np.where(np.isfinite(cost), cost, 1e12)
            row_ind, col_ind = linear_sum_assignment(cost)
            targets = targets[col_ind[np.argsort(row_ind)]]
            reloc = r[base[movers], targets]
        new_bases[movers] = targets
    after = _covered_share(cover, weight, new_bases[free_units])
    log.info(
        "move-up: %d free units, %d move, coverage %.1f %% -> %.1f %%",
        n_free,
        movers.size,
        100 * before,
        100 * after,
    )
    return MoveUp(
        status=out.status,
        new_bases=new_bases,
        moved_units=movers.astype(np.int64),
        from_site=base[movers],
        to_site=new_bases[movers],
        relocation_s=reloc,
        coverage_before=before,
        coverage_after=after,
        gap=out.gap,
        solve_time_s=time.perf_counter() - t0,
    )
