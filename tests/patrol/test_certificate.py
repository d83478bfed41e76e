"""Certified patrol plans: exact route pricing, the proven bound, the gap, bad input."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.patrol import (
    PatrolUnit,
    Pin,
    best_route,
    certify,
    check_route,
    empirical_coverage,
    greedy_rota,
    mix_with_rotas,
    route_game_from_arrays,
    sample_mixture_shift,
    solve_patrol_game,
    solve_patrol_schedule,
)
from watchfloor.patrol.mixture import mixture_master

HOUR = 3600.0


def _brute_routes(
    n_sites: int,
    anchors: tuple[tuple[int, float, float, int], ...],
    travel: np.ndarray,
    ticks: np.ndarray,
    tick_slot: np.ndarray,
    dwell_s: float,
) -> list[list[tuple[int, int]]]:
    """Every route (visits (site, tick) in time order) between the first and last anchor."""
    (loc_a, _, dep_a, _), (loc_b, arr_b, _, _) = anchors[0], anchors[-1]
    nodes = [
        (j, q)
        for j in range(n_sites)
        for q in range(ticks.size)
        if ticks[q] >= dep_a + travel[loc_a, j] - 1e-6
        and ticks[q] + dwell_s + travel[j, loc_b] <= arr_b + 1e-6
    ]
    out: list[list[tuple[int, int]]] = []

    def extend(path: list[tuple[int, int]]) -> None:
        out.append(list(path))
        for j, q in nodes:
            if path:
                i, p = path[-1]
                if i == j and tick_slot[p] == tick_slot[q]:
                    continue
                if ticks[p] + dwell_s + (travel[i, j] if i != j else 0.0) > ticks[q] + 1e-6:
                    continue
            extend([*path, (j, q)])

    extend([])
    return out


def _tiny(seed: int) -> dict:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    n_sites = int(rng.integers(1, 4))
    n_slots = int(rng.integers(1, 3))
    xy = rng.uniform(0, 40_000, (n_sites + 1, 2))
    travel = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 10.0
    value = rng.uniform(1, 10, (n_sites, n_slots))
    n_units = int(rng.integers(1, 3))
    units = [
        PatrolUnit(
            f"U{k}",
            "vehicle",
            n_sites,
            n_sites,
            -float(rng.uniform(0, 1800)),
            n_slots * HOUR + float(rng.uniform(0, 3600)),
        )
        for k in range(n_units)
    ]
    return {
        "value": value,
        "covered": value * rng.uniform(0, 0.5, value.shape),
        "travel": {"vehicle": travel},
        "units": units,
        "slot_start_s": np.arange(n_slots) * HOUR,
        "slot_length_s": HOUR,
    }


def _exact_best_guarantee(inst: dict) -> float:  # type: ignore[type-arg]
    """Best guarantee among coverable site-slots over every distribution of joint routes."""
    game = route_game_from_arrays(
        inst["value"],
        inst["covered"],
        slot_start_s=inst["slot_start_s"],
        slot_length_s=inst["slot_length_s"],
        travel_time_s=inst["travel"],
        units=inst["units"],
    )
    n_sites, n_slots = inst["value"].shape
    per_unit = [
        _brute_routes(
            n_sites,
            anchors,
            inst["travel"]["vehicle"],
            game.tick_time_s,
            game.tick_slot,
            game.dwell_s,
        )
        for g, anchors in enumerate(game.group_anchors)
        for _ in game.group_members[g]
    ]
    columns = []
    for joint in itertools.product(*per_unit):
        hit = np.zeros((n_sites, n_slots))
        for route in joint:
            for j, q in route:
                hit[j, game.tick_slot[q]] = 1.0
        columns.append(hit.ravel())
    cover = game.coverable.ravel()
    a_u = inst["value"].ravel()[cover]
    d = a_u - inst["covered"].ravel()[cover]
    _, z, _ = mixture_master(a_u, d, [c[cover] for c in columns])
    return z


def test_best_route_is_the_longest_path() -> None:
    # Base 2; sites 0 and 1 one minute from the base and 40 minutes apart; ticks at 0 and
    # 1 h (one per slot), visits of 10 minutes. Weights: site 0 in slot 0 is 5, site 1 in
    # slot 1 is 4, site 0 in slot 1 is 3. Best: site 0 at 0 then site 1 at 1 h (5 + 4 = 9;
    # 600 s + 2,400 s <= 3,600 s).
    travel = np.array([[0.0, 2400.0, 60.0], [2400.0, 0.0, 60.0], [60.0, 60.0, 0.0]])
    weight = np.array([[5.0, 3.0], [0.0, 4.0]])
    r = best_route(
        weight,
        anchors=[(2, -300.0, -300.0, -1), (2, 2 * HOUR, 2 * HOUR, -1)],
        travel_time_s=travel,
        tick_time_s=np.array([0.0, HOUR]),
        tick_slot=np.array([0, 1]),
        dwell_s=600.0,
    )
    assert r.value == pytest.approx(9.0)
    assert r.site.tolist() == [0, 1]
    assert r.tick.tolist() == [0, 1]


def test_one_unit_two_sites_bound_and_plan_are_known() -> None:
    # One slot, one tick, one unit: c_A + c_B <= 1. Values 10 and 5, covered 0:
    # 10 (1 - c_A) = 5 (1 - c_B) -> c_A = 2/3: the best guarantee is 10/3, and the plan
    # reaches it, so it is certified optimal.
    travel = np.full((3, 3), 60.0)
    np.fill_diagonal(travel, 0.0)
    kw = {
        "slot_start_s": [0.0],
        "slot_length_s": HOUR,
        "travel_time_s": {"vehicle": travel},
        "units": [PatrolUnit("U1", "vehicle", 2, 2, -300.0, HOUR)],
        "tick_s": HOUR,
    }
    cert = certify(route_game_from_arrays(np.array([[10.0], [5.0]]), np.zeros((2, 1)), **kw))
    assert cert.lower_bound == pytest.approx(10 / 3)
    plan = solve_patrol_game([[10.0], [5.0]], [[0.0], [0.0]], **kw)
    assert plan.guarantee == pytest.approx(10 / 3)
    assert plan.lower_bound == pytest.approx(10 / 3)
    assert plan.status == "optimal"
    assert plan.schedule.status == "optimal"
    assert plan.gap < 1e-4


def test_uncoverable_site_slot_reported_and_the_rest_optimised() -> None:
    # Base 2, site A (0) 55 minutes away, site B (1) one minute away; B to A 55 minutes.
    # The unit is free at -5 min; ticks at 0 and 1 h. A cannot be visited in slot 0 (the
    # unit arrives at 00:50): that site-slot (value 8) is uncoverable. Coverable: B in
    # slot 0 (4), A in slot 1 (6), B in slot 1 (4); routes {B0, B1} or {A1}: mixing them
    # 0.4 / 0.6 gives 6 (1 - 0.6) = 4 (1 - 0.4) = 2.4 among the coverable site-slots.
    travel = np.array([[0.0, 3300.0, 3300.0], [3300.0, 0.0, 60.0], [3300.0, 60.0, 0.0]])
    unit = PatrolUnit("U1", "vehicle", 2, 2, -300.0, 3 * HOUR)
    plan = solve_patrol_game(
        [[8.0, 6.0], [4.0, 4.0]],
        np.zeros((2, 2)),
        slot_start_s=[0.0, HOUR],
        slot_length_s=HOUR,
        travel_time_s={"vehicle": travel},
        units=[unit],
        tick_s=HOUR,
    )
    assert [(u.site, u.slot) for u in plan.uncoverable] == [(0, 0)]
    assert "unreachable in time" in plan.uncoverable[0].reason
    assert plan.guarantee == pytest.approx(8.0)  # the attacker's best is still the lost one
    assert plan.coverable_guarantee == pytest.approx(2.4)
    assert plan.lower_bound == pytest.approx(2.4)
    assert plan.status == "optimal"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_bound_never_exceeds_any_plan_and_matches_enumeration(seed: int) -> None:
    inst = _tiny(seed)
    kw = {
        "slot_start_s": inst["slot_start_s"],
        "slot_length_s": inst["slot_length_s"],
        "travel_time_s": inst["travel"],
        "units": inst["units"],
    }
    game = route_game_from_arrays(inst["value"], inst["covered"], **kw)
    cert = certify(game)
    cover = game.coverable
    if not cover.any():
        return
    best = _exact_best_guarantee(inst)
    d = inst["value"] - inst["covered"]

    def level1(coverage: np.ndarray) -> float:
        return float((inst["value"] - d * coverage)[cover].max())

    # the bound is at most the best plan (all joint routes enumerated) ...
    assert cert.lower_bound <= best + 1e-7
    # ... and at most any plan's guarantee: the schedule LP, the mixture, pure rotas
    sched = solve_patrol_schedule(inst["value"], inst["covered"], **kw)
    assert cert.lower_bound <= level1(sched.coverage) + 1e-7
    mix = mix_with_rotas(
        sched, inst["value"], inst["covered"], units=inst["units"], travel_time_s=inst["travel"]
    )
    assert cert.lower_bound <= level1(mix.coverage) + 1e-7
    rng = np.random.default_rng(seed)
    rota = greedy_rota(
        rng.uniform(0, 1, inst["value"].shape),
        units=inst["units"],
        travel_time_s=inst["travel"],
        tick_time_s=game.tick_time_s,
        slot_start_s=game.slot_start_s,
        slot_length_s=game.slot_length_s,
        dwell_s=game.dwell_s,
    )
    assert cert.lower_bound <= level1(rota.hit.astype(float)) + 1e-7
    # the certified plan is a real plan (never below the enumerated best) within its gap
    plan = solve_patrol_game(inst["value"], inst["covered"], target_gap=1e-6, **kw)
    assert plan.coverable_guarantee >= best - 1e-7
    assert plan.lower_bound <= best + 1e-7
    assert (
        plan.coverable_guarantee
        <= plan.lower_bound + plan.gap * abs(plan.coverable_guarantee) + 1e-7
    )


def _county(seed: int, n_sites: int, n_units: int, n_slots: int = 8) -> dict:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 15_000, (n_sites + 2, 2))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    value = rng.lognormal(0, 0.7, (n_sites, 1)) * rng.uniform(0.6, 1.4, (n_sites, n_slots))
    units = [
        PatrolUnit(f"V{k}", "vehicle", n_sites + k % 2, n_sites + k % 2, 0.0, n_slots * HOUR)
        for k in range(n_units)
    ]
    return {
        "value": value,
        "slot_start_s": np.arange(n_slots) * HOUR,
        "slot_length_s": HOUR,
        "travel_time_s": {"vehicle": dist / 10.0},
        "units": units,
    }


def test_plan_is_never_worse_than_its_warm_start_and_reaches_the_gap() -> None:
    inst = _county(0, 120, 8)
    value = inst.pop("value")
    sched = solve_patrol_schedule(value, 0.25 * value, **inst)
    mix = mix_with_rotas(
        sched, value, 0.25 * value, units=inst["units"], travel_time_s=inst["travel_time_s"]
    )
    plan = solve_patrol_game(value, 0.25 * value, warm_start=mix, target_gap=0.01, **inst)
    assert plan.guarantee <= mix.guarantee + 1e-7
    assert plan.lower_bound <= plan.coverable_guarantee + 1e-9
    if plan.status != "time_limit":
        assert plan.gap <= 0.01
    weights = np.concatenate([[plan.lp_weight], plan.rota_weight])
    assert weights.sum() == pytest.approx(1.0)


def test_time_limit_is_honoured_in_cpu_time() -> None:
    inst = _county(1, 250, 12)
    value = inst.pop("value")
    t0 = time.process_time()
    plan = solve_patrol_game(value, 0.25 * value, target_gap=0.0, time_limit_s=1.0, **inst)
    cpu_s = time.process_time() - t0
    assert cpu_s < 1.0 * 1.5 + 0.5
    assert plan.status in ("time_limit", "optimal", "gap_bounded")
    assert np.isfinite(plan.gap)


def test_bad_input_says_what_to_change() -> None:
    inst = _county(2, 10, 2)
    value = inst.pop("value")
    with pytest.raises(InvalidInputError, match="at least one patrol unit"):
        solve_patrol_game(value, 0.25 * value, **{**inst, "units": []})
    short = [PatrolUnit("S1", "vehicle", 10, 10, 0.0, 300.0)]
    with pytest.raises(InvalidInputError, match="shorter than one visit"):
        solve_patrol_game(value, 0.25 * value, **{**inst, "units": short})
    with pytest.raises(InvalidInputError, match="time_limit_s must be positive"):
        solve_patrol_game(value, 0.25 * value, time_limit_s=0.0, **inst)
    clash = [Pin("V0", 0, HOUR, 2 * HOUR), Pin("V0", 1, 1.5 * HOUR, 2.5 * HOUR)]
    with pytest.raises(InfeasibleError, match="overlap"):
        solve_patrol_game(value, 0.25 * value, pins=clash, **inst)


def test_levels_optimise_below_a_floor() -> None:
    # Two units, one slot with one tick, sites A (10, covered 8), B (5, 0), C (4, 0), all a
    # minute from the base. Level 1 is 8: A must be visited for sure (10 - 2 c_A >= 8), and
    # any use of the second unit keeps it. Level 2 spends the second unit on B and C:
    # 5 (1 - c_B) = 4 (1 - c_C) with c_B + c_C = 1 -> c_B = 5/9, level 2 = 20/9.
    travel = np.full((4, 4), 60.0)
    np.fill_diagonal(travel, 0.0)
    units = [PatrolUnit(f"U{k}", "vehicle", 3, 3, -300.0, HOUR) for k in range(2)]
    plan = solve_patrol_game(
        [[10.0], [5.0], [4.0]],
        [[8.0], [0.0], [0.0]],
        slot_start_s=[0.0],
        slot_length_s=HOUR,
        travel_time_s={"vehicle": travel},
        units=units,
        tick_s=HOUR,
    )
    assert plan.guarantee == pytest.approx(8.0)
    assert plan.level_guarantees[:2] == pytest.approx((8.0, 20 / 9))
    np.testing.assert_allclose(plan.coverage[:, 0], [1.0, 5 / 9, 4 / 9], atol=1e-7)
    assert plan.status == "optimal"


def test_bound_on_consecutive_visits_and_its_price() -> None:
    # One unit, one site a minute from the base, three one-hour slots with one tick each,
    # value 9, covered 0. Unbounded the unit stays: guarantee 0. At most two visits in a
    # row: two of the three slots, 2/3 each, guarantee 3 (the price of the bound: 3);
    # at most one: 1/3 each, guarantee 6.
    travel = np.array([[0.0, 60.0], [60.0, 0.0]])
    kw = {
        "slot_start_s": [0.0, HOUR, 2 * HOUR],
        "slot_length_s": HOUR,
        "travel_time_s": {"vehicle": travel},
        "units": [PatrolUnit("U1", "vehicle", 1, 1, -300.0, 3 * HOUR)],
        "tick_s": HOUR,
    }
    value = np.full((1, 3), 9.0)
    free = solve_patrol_game(value, 0 * value, **kw)
    assert free.guarantee == pytest.approx(0.0)
    for max_run, expected in ((2, 3.0), (1, 6.0)):
        plan = solve_patrol_game(value, 0 * value, max_consecutive_visits=max_run, **kw)
        assert plan.guarantee == pytest.approx(expected)
        assert plan.lower_bound == pytest.approx(expected)
        assert plan.lp_weight == 0.0
        for rota in plan.rotas:
            assert len(rota.stops[0]) <= max_run
    with pytest.raises(InvalidInputError, match="max_consecutive_visits"):
        solve_patrol_game(value, 0 * value, max_consecutive_visits=0, **kw)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([None, 1, 2]))
def test_best_route_matches_enumeration(seed: int, max_run: int | None) -> None:
    rng = np.random.default_rng(seed)
    n_sites, n_slots, per_slot = int(rng.integers(1, 4)), int(rng.integers(1, 4)), 2
    xy = rng.uniform(0, 4000, (n_sites + 1, 2))
    travel = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 10.0
    ticks = np.arange(n_slots * per_slot) * (HOUR / per_slot)
    tick_slot = np.arange(ticks.size) // per_slot
    weight = rng.uniform(0, 1, (n_sites, n_slots)) * (rng.random((n_sites, n_slots)) < 0.8)
    start = -float(rng.uniform(0, 900))
    anchors = ((n_sites, start, start, -1), (n_sites, n_slots * HOUR, n_slots * HOUR, -1))

    def runs_ok(route: list[tuple[int, int]]) -> bool:
        run, last = 0, -1
        for j, _ in route:
            run = run + 1 if j == last else 1
            last = j
            if max_run is not None and run > max_run:
                return False
        return True

    routes = _brute_routes(n_sites, anchors, travel, ticks, tick_slot, 600.0)
    best = max(sum(weight[j, tick_slot[q]] for j, q in r) for r in routes if runs_ok(r))
    got = best_route(
        weight,
        anchors=anchors,
        travel_time_s=travel,
        tick_time_s=ticks,
        tick_slot=tick_slot,
        dwell_s=600.0,
        max_run=max_run,
    )
    assert got.value == pytest.approx(best)
    visits = list(zip(got.site.tolist(), got.tick.tolist(), strict=True))
    assert runs_ok(visits)
    assert got.value == pytest.approx(sum(weight[j, tick_slot[q]] for j, q in visits))


def test_certified_plan_draws_feasible_routes_with_its_coverage() -> None:
    inst = _county(3, 60, 5)
    value = inst.pop("value")
    plan = solve_patrol_game(value, 0.25 * value, **inst)
    rng = np.random.default_rng(4)
    shifts = [
        sample_mixture_shift(
            plan, units=inst["units"], travel_time_s=inst["travel_time_s"], rng=rng
        )
        for _ in range(400)
    ]
    for shift in shifts:
        for route in shift:
            assert check_route(route, inst["travel_time_s"]["vehicle"]).status == "feasible"
    emp = empirical_coverage(shifts, n_sites=60, n_slots=8)
    # the share of shifts visiting each site-slot matches the plan (400 draws: 5 sigma)
    se = np.sqrt(plan.coverage * (1 - plan.coverage) / 400) + 1e-9
    assert (np.abs(emp.visited_share - plan.coverage) <= 5 * se + 1e-9).all()


def test_pins_give_the_schedule_alone_certified() -> None:
    inst = _county(4, 30, 3)
    value = inst.pop("value")
    pin = Pin("V1", 0, 2 * HOUR, 2 * HOUR + 900.0)
    sched = solve_patrol_schedule(value, 0.25 * value, pins=[pin], **inst)
    plan = solve_patrol_game(value, 0.25 * value, pins=[pin], **inst)
    assert plan.lp_weight == 1.0
    assert plan.rotas == ()
    np.testing.assert_allclose(plan.coverage, sched.coverage)
    assert plan.guarantee == pytest.approx(sched.guarantee)
    assert plan.coverage[0, 2] == 1.0  # the pinned visit covers its slot
    assert plan.lower_bound <= plan.coverable_guarantee + 1e-9
    assert plan.status in ("optimal", "gap_bounded")
