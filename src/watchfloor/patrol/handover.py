"""Handover between shifts: the next shift's units start where the last shift left them.

A unit of the outgoing shift is, at the handover time, either on a visit, on
the road to its next stop, or still at its base. The incoming plan treats it
as free at its *next stop* (the site of the visit it is on or driving to, or
the base it is heading for) from the moment it gets there, and never earlier
than the handover: every route planned from there is one the unit can drive.
Pass the result as ``units`` to
:func:`~watchfloor.patrol.colgen.solve_patrol_game` (or the schedule LP), so
the first slot of the new shift is covered by the units already out.
"""

from __future__ import annotations

from collections.abc import Sequence

from watchfloor.errors import InvalidInputError
from watchfloor.patrol.sampling import UnitRoute
from watchfloor.patrol.schedule import PatrolUnit

__all__ = ["position_at", "units_at_handover"]


def position_at(route: UnitRoute, at_s: float) -> tuple[int, float]:
    """Return ``(location, free_s)``: where the unit of ``route`` is or is heading at ``at_s``.

    ``location`` indexes the travel-time matrix (sites, then bases); the unit
    is free there from ``free_s >= at_s``.
    """
    if at_s <= route.start_s:
        return route.start_location, route.start_s
    stops = [(v.site, v.arrive_s, v.depart_s) for v in route.visits]
    here, free = route.start_location, route.start_s
    for k, (loc, arrive, depart) in enumerate(stops):
        leaving = route.legs[k].depart_s if k < len(route.legs) else free
        if leaving >= at_s:  # still where it was when the handover comes
            return here, max(free, at_s)
        if depart > at_s:  # on the way to, or on, this visit
            there = leaving + route.legs[k].travel_time_s if k < len(route.legs) else arrive
            return loc, max(min(there, arrive), at_s)
        here, free = loc, depart
    last = route.legs[-1] if route.legs else None
    if last is not None and last.depart_s < at_s:
        return route.end_location, max(at_s, last.depart_s + last.travel_time_s)
    return here, max(free, at_s)


def units_at_handover(
    routes: Sequence[UnitRoute],
    *,
    handover_s: float,
    end_s: float,
    end_location: Sequence[int] | None = None,
    clock_offset_s: float = 0.0,
) -> tuple[PatrolUnit, ...]:
    """Return the incoming shift's units, each starting where its outgoing route is at handover.

    Parameters
    ----------
    routes
        The outgoing shift's routes (one per unit; the unit ids carry over).
    handover_s
        Handover time (the new shift's start), on the routes' clock.
    end_s
        End of the new shift, on the routes' clock.
    end_location
        Base each unit must be back at by ``end_s`` (default: its route's end base).
    clock_offset_s
        Added to every time of the result: the routes' time origin minus the new
        plan's (0 when both count from the same midnight; -86,400 when the new
        plan counts from the next one).

    Raises
    ------
    InvalidInputError
        When ``end_s`` is not after ``handover_s`` or ``end_location`` has the wrong length.
    """
    if end_s <= handover_s:
        msg = f"the new shift ends ({end_s:.0f} s) before the handover ({handover_s:.0f} s)"
        raise InvalidInputError(msg)
    if end_location is not None and len(end_location) != len(routes):
        msg = f"end_location needs one base per route ({len(routes)})"
        raise InvalidInputError(msg)
    out = []
    for k, route in enumerate(routes):
        loc, free_s = position_at(route, handover_s)
        out.append(
            PatrolUnit(
                unit_id=route.unit_id,
                mode=route.mode,
                start_location=loc,
                end_location=route.end_location if end_location is None else int(end_location[k]),
                start_s=min(free_s, end_s) + clock_offset_s,
                end_s=end_s + clock_offset_s,
            )
        )
    return tuple(out)
