"""Handover: the next shift's units start where the last shift's routes leave them."""

from __future__ import annotations

import numpy as np
import pytest

from watchfloor.errors import InvalidInputError
from watchfloor.patrol import (
    PatrolUnit,
    check_route,
    position_at,
    sample_mixture_shift,
    solve_patrol_game,
    units_at_handover,
)
from watchfloor.patrol.sampling import Leg, UnitRoute, Visit

HOUR = 3600.0


def _route() -> UnitRoute:
    # Base 9 -> site 0 (10 min drive, visit 00:10-00:25) -> site 1 (20 min drive, visit
    # 01:00-01:12) -> base (30 min), shift 00:00-02:00.
    visits = (Visit(0, 600.0, 1500.0, 0, False), Visit(1, HOUR, HOUR + 720.0, 1, False))
    legs = (
        Leg(9, 0, 0.0, 600.0, 0.0),
        Leg(0, 1, 1500.0, 1200.0, 900.0),
        Leg(1, 9, HOUR + 720.0, 1800.0, 0.0),
    )
    return UnitRoute("U1", "vehicle", 9, 9, 0.0, 2 * HOUR, visits, legs)


def test_position_at_each_phase_of_a_route() -> None:
    r = _route()
    assert position_at(r, -10.0) == (9, 0.0)  # before the shift: at base
    assert position_at(r, 300.0) == (0, 600.0)  # driving to site 0, there at 00:10
    assert position_at(r, 1000.0) == (0, 1000.0)  # on the visit at site 0: free now
    assert position_at(r, 2000.0) == (1, 2700.0)  # on the road: at site 1 by 00:45
    assert position_at(r, HOUR + 100.0) == (1, HOUR + 100.0)  # on the visit at site 1
    assert position_at(r, HOUR + 1000.0) == (9, HOUR + 720.0 + 1800.0)  # heading home


def test_units_at_handover_and_bad_input() -> None:
    units = units_at_handover([_route()], handover_s=2000.0, end_s=10 * HOUR)
    assert units == (PatrolUnit("U1", "vehicle", 1, 9, 2700.0, 10 * HOUR),)
    with pytest.raises(InvalidInputError, match="before the handover"):
        units_at_handover([_route()], handover_s=2000.0, end_s=1000.0)


def test_handover_covers_the_first_slot() -> None:
    # Site 0 is 50 minutes from the base; one unit, slots of an hour with one tick each.
    # Starting at the base at 00:00 it cannot visit site 0 in slot 0 (uncoverable); handed
    # over at site 0 (where the last shift left it) it can, and the first slot is covered.
    travel = np.array([[0.0, 3000.0], [3000.0, 0.0]])
    kw = {
        "slot_start_s": [0.0, HOUR],
        "slot_length_s": HOUR,
        "travel_time_s": {"vehicle": travel},
        "tick_s": HOUR,
    }
    cold = solve_patrol_game(
        [[5.0, 5.0]], [[1.0, 1.0]], units=[PatrolUnit("U1", "vehicle", 1, 1, 0.0, 3 * HOUR)], **kw
    )
    assert [(u.site, u.slot) for u in cold.uncoverable] == [(0, 0)]
    handed = [PatrolUnit("U1", "vehicle", 0, 1, 0.0, 3 * HOUR)]
    warm = solve_patrol_game([[5.0, 5.0]], [[1.0, 1.0]], units=handed, **kw)
    assert warm.uncoverable == ()
    assert warm.coverage[0, 0] == pytest.approx(1.0)
    assert warm.guarantee == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        (route,) = sample_mixture_shift(
            warm, units=handed, travel_time_s={"vehicle": travel}, rng=rng
        )
        assert check_route(route, travel).status == "feasible"


def test_handover_clock_offset() -> None:
    # The new plan counts from the next midnight: its times are 24 h less.
    units = units_at_handover(
        [_route()], handover_s=2000.0, end_s=10 * HOUR, clock_offset_s=-86_400.0
    )
    assert units[0].start_s == 2700.0 - 86_400.0
    assert units[0].end_s == 10 * HOUR - 86_400.0
