"""Dispatch advice: rank the available units for one incident by road ETA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InfeasibleError, InvalidInputError

__all__ = ["DispatchAdvice", "rank_units"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DispatchAdvice:
    """Available units ordered by ETA to the incident, nearest first.

    Attributes
    ----------
    status : str
        ``"ok"`` when at least one available unit can reach the incident.
    order : int64[k]
        Unit indices (into the inputs) of the available, reachable units by ETA.
    eta_s : float64[k]
        Their ETAs in seconds, non-decreasing.
    n_busy, n_unreachable : int
        Units left out because busy, or unable to reach the incident.
    """

    status: str
    order: IntArray
    eta_s: FloatArray
    n_busy: int
    n_unreachable: int


def rank_units(eta_s: FloatArray, *, available: npt.NDArray[np.bool_]) -> DispatchAdvice:
    """Return the available units ranked by ETA (ties by unit index).

    Parameters
    ----------
    eta_s : float64[n_units]
        Road travel time from each unit's position to the incident (inf = no route).
    available : bool[n_units]
        Whether each unit can be dispatched.

    Raises
    ------
    InfeasibleError
        When no available unit can reach the incident.
    """
    eta = np.asarray(eta_s, dtype=np.float64)
    free = np.asarray(available, dtype=bool)
    if eta.ndim != 1 or free.shape != eta.shape:
        msg = "eta_s and available must be 1-D with one entry per unit"
        raise InvalidInputError(msg)
    if np.isnan(eta).any() or (eta < 0).any():
        msg = "eta_s must be non-negative seconds (inf for no route)"
        raise InvalidInputError(msg)
    if not free.any():
        msg = "every unit is busy: no unit can be dispatched; free a unit or call a neighbour"
        raise InfeasibleError(msg)
    ok = free & np.isfinite(eta)
    if not ok.any():
        msg = "no available unit has a road route to the incident; check the location"
        raise InfeasibleError(msg)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((idx, eta[idx]))].astype(np.int64)
    return DispatchAdvice(
        status="ok",
        order=order,
        eta_s=eta[order],
        n_busy=int((~free).sum()),
        n_unreachable=int((free & ~np.isfinite(eta)).sum()),
    )
