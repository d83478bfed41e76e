"""ARV standby bases: the placement of a number of units under a location model.

:func:`plan_bases` hands the problem's travel-time matrix to the pure solvers
of :mod:`watchfloor.placement` (MEXCLP by default: expected coverage with
units busy a share of the time); :func:`station_bases` is the naive choice a
plan is compared with.
"""

from __future__ import annotations

import numpy as np

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.placement import (
    Placement,
    solve_backup,
    solve_mclp,
    solve_mexclp,
    solve_pcenter,
    solve_pmedian,
)
from watchfloor.services.arv.demand import ArvProblem
from watchfloor.types import IntArray

__all__ = ["MIN_REACHABLE_SHARE", "MODELS", "plan_bases", "station_bases"]

MODELS = ("mexclp", "mclp", "pmedian", "pcenter", "backup")


#: A plan is refused when less than this share of demand is within the standard of
#: any candidate base at all: no placement could meet the standard.
MIN_REACHABLE_SHARE = 0.5


def plan_bases(
    problem: ArvProblem,
    *,
    n_units: int,
    model: str = "mexclp",
    calls_per_day: float = 6.0,
    mean_service_s: float = 2700.0,
    time_limit_s: float = 60.0,
) -> Placement:
    """Return the placement of ``n_units`` bases under ``model`` (see :data:`MODELS`).

    Covering models use each atom's own standard (travel divided by the standard,
    against 1). MEXCLP's busy fraction is ``calls_per_day * mean_service_s / 86400 /
    n_units``.

    Raises
    ------
    InvalidInputError
        Unknown model, more units than candidates, or no demand.
    InfeasibleError
        When less than :data:`MIN_REACHABLE_SHARE` of demand is within its standard of
        any candidate base.
    """
    if model not in MODELS:
        msg = f"unknown model {model!r}; use one of {', '.join(MODELS)}"
        raise InvalidInputError(msg)
    if n_units > problem.candidate_node.size:
        msg = (
            f"{n_units} units but only {problem.candidate_node.size} candidate bases; "
            "lower --units or give more candidates"
        )
        raise InvalidInputError(msg)
    reachable = np.isfinite(problem.travel_s).any(axis=0)
    best = (problem.travel_s <= problem.standard_s[None, :]).any(axis=0)
    reachable_share = float(problem.demand[best].sum() / problem.demand.sum())
    if reachable_share < MIN_REACHABLE_SHARE:
        slowest = ", ".join(f"{k} {v:g} s" for k, v in problem.standards.items())
        msg = (
            f"only {100 * reachable_share:.1f} % of demand can be reached within the standard "
            f"({slowest}) even with a unit at every candidate base; raise the standard or add "
            "candidate bases"
        )
        raise InfeasibleError(msg)
    travel = problem.travel_s[:, reachable]
    demand = problem.demand[reachable]
    ratio = travel / problem.standard_s[reachable][None, :]
    if model == "pmedian":
        return solve_pmedian(travel, demand, n_units=n_units, time_limit_s=time_limit_s)
    if model == "pcenter":
        return solve_pcenter(travel, demand, n_units=n_units, time_limit_s=time_limit_s)
    if model == "mclp":
        return solve_mclp(ratio, demand, n_units=n_units, standard_s=1.0, time_limit_s=time_limit_s)
    if model == "backup":
        return solve_backup(
            ratio, demand, n_units=n_units, standard_s=1.0, time_limit_s=time_limit_s
        )
    q = min(calls_per_day * mean_service_s / 86400.0 / max(n_units, 1), 0.95)
    return solve_mexclp(
        ratio,
        demand,
        n_units=n_units,
        standard_s=1.0,
        busy_fraction=q,
        time_limit_s=time_limit_s,
    )


def station_bases(problem: ArvProblem, n_units: int) -> IntArray:
    """Return the naive choice: every unit at a police station, spread round-robin."""
    stations = [i for i, k in enumerate(problem.candidate_kind) if k == "police_station"]
    if not stations:
        msg = "the region has no police station to base units at"
        raise InvalidInputError(msg)
    return np.array([stations[u % len(stations)] for u in range(n_units)], dtype=np.int64)
