"""Schedule-constrained patrols: hand-solved cases, pins, sampling marginals, route checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.patrol import (
    PatrolUnit,
    Pin,
    check_route,
    class_strategies,
    empirical_coverage,
    sample_shift,
    solve_patrol_schedule,
    strategy_entropy_bits,
    visit_lengths,
)
from watchfloor.patrol.sampling import Leg, UnitRoute, Visit

HOUR = 3600.0


def _two_sites() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    # Locations: site A (0), site B (1), base (2); one minute between any two of them.
    travel = np.full((3, 3), 60.0)
    np.fill_diagonal(travel, 0.0)
    return travel, {"vehicle": travel}


def test_one_unit_one_visit_per_slot_known_guarantee() -> None:
    # One slot of an hour with a single tick: the unit (on duty from 5 minutes before)
    # makes one visit, so c_A + c_B <= 1. Values 10 (A) and 5 (B), covered 0:
    # min max(10 (1 - c_A), 5 (1 - c_B)) gives 10 - 10 c_A = 5 c_A -> c_A = 2/3, c_B = 1/3,
    # guarantee 10/3.
    _, travel = _two_sites()
    unit = PatrolUnit("U1", "vehicle", 2, 2, -300.0, HOUR)
    sched = solve_patrol_schedule(
        [[10.0], [5.0]],
        [[0.0], [0.0]],
        slot_start_s=[0.0],
        slot_length_s=HOUR,
        travel_time_s=travel,
        units=[unit],
        tick_s=HOUR,
    )
    assert sched.status == "optimal"
    assert sched.guarantee == pytest.approx(10 / 3)
    np.testing.assert_allclose(sched.coverage[:, 0], [2 / 3, 1 / 3], atol=1e-7)
    assert sched.lower_bound <= sched.guarantee + 1e-9


def test_unreachable_site_sets_the_guarantee() -> None:
    # Site B (value 7) cannot be reached at all: it keeps coverage 0 and the attacker
    # gets 7 there whatever the unit does.
    travel = np.array([[0.0, np.inf, 60.0], [np.inf, 0.0, np.inf], [60.0, np.inf, 0.0]])
    unit = PatrolUnit("U1", "vehicle", 2, 2, 0.0, 2 * HOUR)
    sched = solve_patrol_schedule(
        [[3.0, 3.0], [7.0, 7.0]],
        [[0.0, 0.0], [0.0, 0.0]],
        slot_start_s=[0.0, HOUR],
        slot_length_s=HOUR,
        travel_time_s={"vehicle": travel},
        units=[unit],
    )
    assert sched.coverage[1].max() == 0.0
    assert sched.guarantee == pytest.approx(7.0)
    assert 1 in sched.unreachable_sites.tolist()


def _county(seed: int, n_sites: int = 25, n_slots: int = 4) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 6000, (n_sites + 2, 2))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    value = rng.lognormal(0, 0.5, (n_sites, 1)) * rng.uniform(0.8, 1.2, (n_sites, n_slots))
    return {
        "value": value,
        "travel": {"vehicle": dist / 10.0, "foot": dist / 1.4},
        "slot_start_s": np.arange(n_slots) * HOUR,
        "n_sites": n_sites,
        "n_slots": n_slots,
    }


def _units(n_sites: int, n_slots: int, n_vehicle: int, n_foot: int) -> list[PatrolUnit]:
    end = n_slots * HOUR
    units = [
        PatrolUnit(f"V{k}", "vehicle", n_sites + k % 2, n_sites + k % 2, 0.0, end)
        for k in range(n_vehicle)
    ]
    units += [PatrolUnit(f"F{k}", "foot", n_sites, n_sites, 0.0, end) for k in range(n_foot)]
    return units


def test_sampled_routes_match_coverage_and_are_feasible() -> None:
    c = _county(3)
    n_sites, n_slots = int(c["n_sites"]), int(c["n_slots"])  # type: ignore[call-overload]
    units = _units(n_sites, n_slots, 3, 1)
    value = np.asarray(c["value"])
    travel = c["travel"]
    sched = solve_patrol_schedule(
        value,
        0.2 * value,
        slot_start_s=c["slot_start_s"],  # type: ignore[arg-type]
        slot_length_s=HOUR,
        travel_time_s=travel,  # type: ignore[arg-type]
        units=units,
    )
    assert sched.status == "optimal"
    assert sched.guarantee >= sched.lower_bound - 1e-9
    rng = np.random.default_rng(11)
    strategies = class_strategies(sched)
    for method in ("decomposition", "max_entropy"):
        shifts = [
            sample_shift(
                sched,
                units=units,
                travel_time_s=travel,  # type: ignore[arg-type]
                rng=rng,
                method=method,  # type: ignore[arg-type]
                strategies=strategies,
            )
            for _ in range(2000)
        ]
        for shift in shifts:
            for route in shift:
                check = check_route(route, travel[route.mode])  # type: ignore[index]
                assert check.status == "feasible", check.problems
        emp = empirical_coverage(shifts, n_sites=n_sites, n_slots=n_slots)
        # Expected visits per site-slot match the plan: the standard error of a mean of 2,000
        # draws of a count <= 1 is <= 0.5 / sqrt(2000) = 0.0112; 0.06 is > 5 sigma.
        np.testing.assert_allclose(emp.mean_visits, sched.coverage, atol=0.06)
        lengths = visit_lengths(shifts)
        assert 600.0 <= lengths.p10_s <= lengths.p90_s <= 960.0
    assert strategy_entropy_bits(sched, method="max_entropy") >= 0.0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_sampled_route_is_feasible(seed: int) -> None:
    c = _county(seed, n_sites=12, n_slots=3)
    units = _units(12, 3, 2, 1)
    value = np.asarray(c["value"])
    travel = c["travel"]
    sched = solve_patrol_schedule(
        value,
        0.3 * value,
        slot_start_s=c["slot_start_s"],  # type: ignore[arg-type]
        slot_length_s=HOUR,
        travel_time_s=travel,  # type: ignore[arg-type]
        units=units,
        pins=[Pin("V0", 3, HOUR, HOUR + 1200.0)],
    )
    rng = np.random.default_rng(seed)
    for _ in range(20):
        for route in sample_shift(sched, units=units, travel_time_s=travel, rng=rng):  # type: ignore[arg-type]
            assert check_route(route, travel[route.mode]).status == "feasible"  # type: ignore[index]
            if route.unit_id == "V0":
                pinned = [v for v in route.visits if v.pinned]
                assert len(pinned) == 1
                assert (pinned[0].site, pinned[0].arrive_s, pinned[0].depart_s) == (
                    3,
                    HOUR,
                    HOUR + 1200.0,
                )


def test_pin_costs_guarantee_and_is_honoured() -> None:
    c = _county(5)
    n_sites, n_slots = 25, 4
    units = _units(n_sites, n_slots, 2, 0)
    value = np.asarray(c["value"])
    kw = {
        "slot_start_s": c["slot_start_s"],
        "slot_length_s": HOUR,
        "travel_time_s": c["travel"],
        "units": units,
    }
    low = int(np.argmin(value.max(axis=1)))  # pin to the least valuable site
    free = solve_patrol_schedule(value, 0.2 * value, **kw)  # type: ignore[arg-type]
    pinned = solve_patrol_schedule(
        value,
        0.2 * value,
        pins=[Pin("V1", low, HOUR, 2 * HOUR)],
        **kw,  # type: ignore[arg-type]
    )
    # A pin only restricts the unit (its window starts on a tick), so it can only cost.
    assert pinned.guarantee >= free.guarantee - 1e-7
    assert pinned.pinned_coverage[low, 1] == 1.0


def test_pin_that_cannot_be_met() -> None:
    _, travel = _two_sites()
    travel["vehicle"][2, 1] = travel["vehicle"][1, 2] = 2 * HOUR
    unit = PatrolUnit("U1", "vehicle", 2, 2, 0.0, 4 * HOUR)
    common = {
        "slot_start_s": [0.0, HOUR, 2 * HOUR, 3 * HOUR],
        "slot_length_s": HOUR,
        "travel_time_s": travel,
        "units": [unit],
    }
    value = np.ones((2, 4))
    with pytest.raises(InfeasibleError, match="cannot be met: travel from base 2"):
        solve_patrol_schedule(value, 0 * value, pins=[Pin("U1", 1, 600.0, 1800.0)], **common)  # type: ignore[arg-type]
    with pytest.raises(InfeasibleError, match="outside the unit's shift"):
        solve_patrol_schedule(
            value,
            0 * value,
            pins=[Pin("U1", 0, 3.9 * HOUR, 5 * HOUR)],
            **common,  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidInputError, match="unknown unit"):
        solve_patrol_schedule(value, 0 * value, pins=[Pin("U9", 0, HOUR, 2 * HOUR)], **common)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="at least 10 minutes"):
        solve_patrol_schedule(value, 0 * value, pins=[Pin("U1", 0, HOUR, HOUR + 60)], **common)  # type: ignore[arg-type]


def test_bad_units_and_shift() -> None:
    _, travel = _two_sites()
    args = ([[1.0], [1.0]], [[0.0], [0.0]])
    kw = {"slot_start_s": [0.0], "slot_length_s": HOUR, "travel_time_s": travel}
    with pytest.raises(InvalidInputError, match="zero units"):
        solve_patrol_schedule(*args, units=[], **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"ends .* before it starts"):
        solve_patrol_schedule(
            *args,
            units=[PatrolUnit("U1", "vehicle", 2, 2, HOUR, 0.0)],
            **kw,  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidInputError, match="mode must be one of"):
        solve_patrol_schedule(
            *args,
            units=[PatrolUnit("U1", "bike", 2, 2, 0.0, HOUR)],
            **kw,  # type: ignore[arg-type]
        )


def test_check_route_reports_problems() -> None:
    travel, _ = _two_sites()
    good = UnitRoute(
        "U1",
        "vehicle",
        2,
        2,
        0.0,
        HOUR,
        visits=(Visit(0, 60.0, 760.0, 0, False),),
        legs=(Leg(2, 0, 0.0, 60.0, 0.0), Leg(0, 2, 760.0, 60.0, 0.0)),
    )
    assert check_route(good, travel).status == "feasible"
    too_fast = UnitRoute(
        "U1",
        "vehicle",
        2,
        2,
        0.0,
        HOUR,
        visits=(Visit(0, 30.0, 330.0, 0, False),),
        legs=(Leg(2, 0, 0.0, 30.0, 0.0), Leg(0, 2, 330.0, 60.0, 0.0)),
    )
    check = check_route(too_fast, travel)
    assert check.status == "infeasible"
    assert any("shorter than" in p for p in check.problems)
    assert any("outside 600-960" in p for p in check.problems)
