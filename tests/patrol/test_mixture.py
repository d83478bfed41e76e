"""Mixed plans (schedule LP + greedy joint rotas): exact coverage, value, busy units."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.errors import InvalidInputError
from watchfloor.patrol import (
    PatrolUnit,
    Pin,
    check_route,
    empirical_coverage,
    greedy_rota,
    mix_with_rotas,
    mixture_entropy_bits,
    sample_mixture_shift,
    solve_patrol_schedule,
    visits_per_unit_hour,
)
from watchfloor.patrol.sampling import Leg, UnitRoute, Visit

HOUR = 3600.0


def _instance(seed: int, n_sites: int = 25, n_slots: int = 4, n_units: int = 4) -> dict:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 6000, (n_sites + 2, 2))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    value = rng.lognormal(0, 0.5, (n_sites, 1)) * rng.uniform(0.8, 1.2, (n_sites, n_slots))
    units = [
        PatrolUnit(f"V{k}", "vehicle", n_sites + k % 2, n_sites + k % 2, 0.0, n_slots * HOUR)
        for k in range(n_units)
    ]
    travel = {"vehicle": dist / 10.0}
    sched = solve_patrol_schedule(
        value,
        0.25 * value,
        slot_start_s=np.arange(n_slots) * HOUR,
        slot_length_s=HOUR,
        travel_time_s=travel,
        units=units,
    )
    return {"value": value, "units": units, "travel": travel, "sched": sched}


def test_mixture_is_exact_feasible_and_no_worse_than_lp_or_greedy() -> None:
    inst = _instance(3)
    value, units, travel = inst["value"], inst["units"], inst["travel"]
    mix = mix_with_rotas(inst["sched"], value, 0.25 * value, units=units, travel_time_s=travel)
    # The mixture contains the LP and the plain greedy rota as candidates, so the master
    # LP can never do worse than either alone.
    assert mix.guarantee <= mix.lp_guarantee + 1e-7
    assert mix.guarantee <= mix.greedy_guarantee + 1e-7
    weights = np.concatenate([[mix.lp_weight], mix.rota_weight])
    assert weights.sum() == pytest.approx(1.0)
    assert (weights >= 0).all()
    # The guarantee is the attacker's best response against the reported coverage.
    d = 0.75 * value
    assert mix.guarantee == pytest.approx(float((value - d * mix.coverage).max()))
    rng = np.random.default_rng(7)
    n = 3000
    shifts = [
        sample_mixture_shift(mix, units=units, travel_time_s=travel, rng=rng) for _ in range(n)
    ]
    for shift in shifts:
        for route in shift:
            check = check_route(route, travel[route.mode])
            assert check.status == "feasible", check.problems
    emp = empirical_coverage(shifts, n_sites=value.shape[0], n_slots=value.shape[1])
    # Visit probability, not expected visits: the share of shifts with a visit is
    # binomial with standard error <= 0.5 / sqrt(3000) = 0.0091; 0.05 is > 5 sigma.
    np.testing.assert_allclose(emp.visited_share, mix.coverage, atol=0.05)
    # No two units meet at a site-slot in a rota (the LP component has beats).
    assert float((emp.mean_visits - emp.visited_share).max()) <= 0.05
    assert mixture_entropy_bits(mix) >= 0.0


def test_mixture_keeps_units_busier_than_the_lp_alone() -> None:
    inst = _instance(5, n_sites=40, n_slots=6, n_units=3)
    value, units, travel, sched = inst["value"], inst["units"], inst["travel"], inst["sched"]
    mix = mix_with_rotas(sched, value, 0.25 * value, units=units, travel_time_s=travel)
    rng = np.random.default_rng(1)
    mixed = [
        sample_mixture_shift(mix, units=units, travel_time_s=travel, rng=rng) for _ in range(200)
    ]
    # The second stage maximises the total risk taken away at the same guarantee,
    # so the expected number of visits can only rise against the LP's own draw.
    lp_visits = float(sched.coverage.sum())
    assert float(mix.coverage.sum()) >= lp_visits - 1e-6
    assert visits_per_unit_hour(mixed) > 0.0


def test_greedy_rota_takes_the_highest_value_first() -> None:
    # Three sites one minute apart and from the base; one unit, one slot with one tick:
    # it can make one visit and takes the most valuable site (value 9 at site 1).
    travel = np.full((4, 4), 60.0)
    np.fill_diagonal(travel, 0.0)
    unit = PatrolUnit("U1", "vehicle", 3, 3, -300.0, HOUR)
    rota = greedy_rota(
        np.array([[2.0], [9.0], [4.0]]),
        units=[unit],
        travel_time_s={"vehicle": travel},
        tick_time_s=np.array([0.0]),
        slot_start_s=np.array([0.0]),
        slot_length_s=HOUR,
        dwell_s=600.0,
    )
    assert rota.stops == (((1, 0.0, 0),),)
    assert rota.hit[:, 0].tolist() == [False, True, False]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_mixed_route_is_feasible(seed: int) -> None:
    inst = _instance(seed, n_sites=12, n_slots=3, n_units=3)
    value, units, travel = inst["value"], inst["units"], inst["travel"]
    mix = mix_with_rotas(
        inst["sched"], value, 0.25 * value, units=units, travel_time_s=travel, max_rotas=12
    )
    rng = np.random.default_rng(seed)
    for _ in range(20):
        for route in sample_mixture_shift(mix, units=units, travel_time_s=travel, rng=rng):
            assert check_route(route, travel[route.mode]).status == "feasible"


def test_mixture_refuses_pins() -> None:
    inst = _instance(2, n_sites=8, n_slots=2, n_units=2)
    value, units, travel = inst["value"], inst["units"], inst["travel"]
    pinned = solve_patrol_schedule(
        value,
        0.25 * value,
        slot_start_s=np.arange(2) * HOUR,
        slot_length_s=HOUR,
        travel_time_s=travel,
        units=units,
        pins=[Pin("V0", 1, HOUR, HOUR + 1200.0)],
    )
    with pytest.raises(InvalidInputError, match="pins"):
        mix_with_rotas(pinned, value, 0.25 * value, units=units, travel_time_s=travel)


def test_visits_per_unit_hour_counts_visits_over_shift_time() -> None:
    # One unit on an 8-hour shift with 4 visits: 0.5 visits per unit-hour.
    visits = tuple(Visit(0, 1000.0 * k, 1000.0 * k + 600.0, 0, False) for k in range(4))
    legs = tuple(Leg(0, 0, 0.0, 0.0, 0.0) for _ in range(5))
    route = UnitRoute("U1", "vehicle", 1, 1, 0.0, 8 * HOUR, visits, legs)
    assert visits_per_unit_hour([[route]]) == pytest.approx(0.5)
    assert np.isnan(visits_per_unit_hour([]))
