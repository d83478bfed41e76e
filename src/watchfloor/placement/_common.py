"""Shared pieces of the placement models: the result type, input checks, reductions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InfeasibleError, InvalidInputError

__all__ = [
    "CoverageSets",
    "Placement",
    "coverage_sets",
    "validate_problem",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ModelName = Literal["mclp", "mexclp", "backup", "pmedian", "pcenter"]


@dataclass(frozen=True)
class Placement:
    """A placement of units on candidate sites and what the solver proved about it.

    Attributes
    ----------
    model : str
        ``"mclp"``, ``"mexclp"``, ``"backup"``, ``"pmedian"`` or ``"pcenter"``.
    status : str
        ``"optimal"`` (optimal within ``mip_rel_gap``) or ``"time_limit"`` (the best
        solution found when the time ran out; ``gap`` says how far from optimal it
        can be at most).
    sites : int64[n_units]
        Candidate index (matrix row) of each unit, sorted; a candidate appears more than
        once when it hosts several units.
    objective : float
        Objective value of ``sites`` in the model's own terms (covered demand weight,
        expected covered weight, demand-weighted travel time, worst travel time).
    bound : float
        Best proven bound on the optimal objective.
    gap : float
        Relative gap ``|objective - bound| / |objective|``.
    solve_time_s : float
        Wall time of the whole solve, reductions included.
    n_variables, n_constraints : int
        Size of the MILP passed to HiGHS after reduction (0 when no MILP was needed).
    """

    model: str
    status: Literal["optimal", "time_limit"]
    sites: IntArray
    objective: float
    bound: float
    gap: float
    solve_time_s: float
    n_variables: int
    n_constraints: int


def validate_problem(
    travel_s: FloatArray, demand: FloatArray, n_units: int
) -> tuple[FloatArray, FloatArray]:
    """Return ``(travel_s, demand)`` as float64 arrays after checking shapes and values.

    Raises
    ------
    InvalidInputError
        When shapes disagree, weights are negative or not finite, demand is empty, or
        there are more units than candidates.
    """
    t = np.asarray(travel_s, dtype=np.float64)
    w = np.asarray(demand, dtype=np.float64)
    if t.ndim != 2:
        msg = f"travel_s must be a 2-D matrix (candidates x demand points), got {t.ndim}-D"
        raise InvalidInputError(msg)
    n_cand, n_dem = t.shape
    if w.shape != (n_dem,):
        msg = f"demand must hold one weight per matrix column ({n_dem}), got shape {w.shape}"
        raise InvalidInputError(msg)
    if n_dem == 0 or not np.isfinite(w).all() or (w < 0).any() or float(w.sum()) <= 0:
        msg = "demand is empty: give at least one demand point with a positive, finite weight"
        raise InvalidInputError(msg)
    if np.isnan(t).any() or (t < 0).any():
        msg = "travel_s must hold non-negative travel times (inf for unreachable), no NaN"
        raise InvalidInputError(msg)
    if n_units < 1:
        msg = f"n_units must be at least 1, got {n_units}"
        raise InvalidInputError(msg)
    if n_units > n_cand:
        msg = (
            f"{n_units} units but only {n_cand} candidate sites: "
            "add candidate sites or lower the number of units"
        )
        raise InvalidInputError(msg)
    return t, w


@dataclass(frozen=True)
class CoverageSets:
    """Demand points grouped by identical coverage sets.

    ``matrix`` is a sparse 0/1 CSC array (candidates x groups): entry ``(j, g)`` is 1
    when candidate ``j`` reaches every demand point of group ``g`` within the standard.
    ``weight[g]`` is the total demand of the group; demand no candidate can reach is
    left out and its weight is ``uncoverable_weight``.
    """

    matrix: sparse.csc_array
    weight: FloatArray
    uncoverable_weight: float
    group_of_demand: IntArray


def coverage_sets(travel_s: FloatArray, demand: FloatArray, standard_s: float) -> CoverageSets:
    """Return demand grouped by identical coverage sets within ``standard_s``.

    Two demand points reached by exactly the same candidates are one row of any
    covering model, weighted by their sum: on a road network, neighbouring nodes
    usually share their coverage set, so this shrinks the model several-fold.
    """
    if not np.isfinite(standard_s) or standard_s <= 0:
        msg = f"the response standard must be a positive number of seconds, got {standard_s}"
        raise InvalidInputError(msg)
    cover = travel_s <= standard_s
    n_dem = travel_s.shape[1]
    keep = np.flatnonzero(cover.any(axis=0) & (demand > 0))
    group_of_demand = np.full(n_dem, -1, dtype=np.int64)
    uncoverable = float(demand.sum() - demand[keep].sum())
    if keep.size == 0:
        return CoverageSets(
            matrix=sparse.csc_array((travel_s.shape[0], 0), dtype=np.float64),
            weight=np.zeros(0),
            uncoverable_weight=uncoverable,
            group_of_demand=group_of_demand,
        )
    packed = np.ascontiguousarray(np.packbits(cover[:, keep], axis=0).T)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    weight = np.bincount(inverse, weights=demand[keep], minlength=first.size).astype(np.float64)
    reps = keep[first]
    rows, cols = np.nonzero(cover[:, reps])
    matrix = sparse.csc_array(
        (np.ones(rows.size), (rows, cols)), shape=(travel_s.shape[0], reps.size)
    )
    group_of_demand[keep] = inverse
    return CoverageSets(
        matrix=matrix,
        weight=weight,
        uncoverable_weight=uncoverable,
        group_of_demand=group_of_demand,
    )


def require_some_coverage(sets: CoverageSets, standard_s: float) -> None:
    """Raise when no candidate reaches any demand within the standard."""
    if sets.weight.size == 0:
        msg = (
            f"no candidate site reaches any demand point within {standard_s:g} s; "
            "raise the standard or add candidate sites nearer the demand"
        )
        raise InfeasibleError(msg)


def sites_from_counts(counts: npt.NDArray[np.float64]) -> IntArray:
    """Return sorted candidate indices, repeated by their (rounded) unit counts."""
    c = np.rint(counts).astype(np.int64).clip(min=0)
    return np.repeat(np.arange(c.size, dtype=np.int64), c)
