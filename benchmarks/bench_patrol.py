"""Patrol games: exactness, speed, sampling and value against simple rotas.

Usage: ``python benchmarks/bench_patrol.py [--json] [--quick] [--only SECTION ...]``
(sections: exactness, compact, schedule, sampling, gap-county, gap-rutland, handover,
attacker; the Rutland sections read ``WATCHFLOOR_DATA_DIR``).

1. exactness: water-filling (ours) against the multiple-LPs method (peer, one
   scipy/HiGHS LP per target) on random small games (<= 10 targets, <= 3
   units), and the ERASER MILP against enumerating both types' responses on
   small Bayesian games; maximum absolute difference in the defender's utility.
2. speed: water-filling on 1,000 targets / 40 units against the ERASER MILP
   (HiGHS) on the same game; the schedule-constrained LP on 1,000 sites, 40
   units, 8 hourly slots on the synthetic county (road travel times), no peer.
3. sampling: shifts drawn from a schedule; error of the empirical coverage
   (expected visits, and the share of shifts with a visit), infeasible routes.
4. value: the attacker's best-response utility against our sampled plan and
   against rotas of the same units: uniform random, risk-proportional random,
   and greedy "highest risk first", all moving on the same tick grid with the
   same travel times and 10-minute visits. "Ours" is the mixed plan: the
   schedule LP (beats) mixed with greedy joint rotas (double oracle).
5. gap table (issue 16): for Rutland (4, 8, 12, 20 units; 06-14, 14-22, 22-06; after a
   declared vehicle attack and routine) and the generated county (40 units, 1,500 sites),
   today's plan ("before": the LP mixed with rotas, its reported travel-free bound, and
   its gap to the proven route bound) against the certified plan (``solve_patrol_game``
   warm-started from it, 10 s CPU): lower bound, guarantee over all site-slots and over
   the coverable ones, gap, CPU and wall seconds.
6. handover: first-slot coverage of the next shift with and without handover (the
   incoming crews take the units over where they are half an hour before the
   outgoing shift ends; a cold start leaves from base), on Rutland and the county.
7. learning attacker: over 60 simulated days an attacker who watched k = 7, 14, 28 days
   strikes the site-slot of highest value x observed chance of no patrol; mean and 90th
   percentile of its realised gain against our plan and the greedy, risk-proportional and
   uniform rotas of the same units; per-site visit-time entropy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from watchfloor.patrol import (
    PatrolMixture,
    PatrolUnit,
    SecurityGame,
    certify_mixture,
    check_route,
    class_strategies,
    empirical_coverage,
    hits_of_shift,
    learning_attacker_gains,
    mix_with_rotas,
    mixture_entropy_bits,
    route_game_from_arrays,
    sample_mixture_shift,
    sample_shift,
    solve_game,
    solve_patrol_game,
    solve_patrol_schedule,
    units_at_handover,
    visit_time_entropy_bits,
    visits_per_unit_hour,
)
from watchfloor.patrol.reference import solve_game_multiple_lps
from watchfloor.roads.synthetic import synthetic_county
from watchfloor.traveltime import TravelTimeEngine

HOUR = 3600.0
DETERRENCE = 0.75


def random_game(rng: np.random.Generator, n: int, n_types: int = 1) -> SecurityGame:
    au = rng.uniform(0, 10, (n_types, n))
    ac = au - rng.uniform(0, 10, (n_types, n))
    du = rng.uniform(-10, 0, (n_types, n))
    dc = du + rng.uniform(0, 10, (n_types, n))
    if rng.random() < 0.3:  # some zero-sum games
        dc, du = -ac, -au
    return SecurityGame.from_arrays(
        dc, du, ac, au, type_probability=rng.dirichlet(np.ones(n_types))
    )


def case(
    name: str, graph: str, ours_s: float, peer: str | None, peer_s: float | None, **extra: Any
) -> dict[str, Any]:
    ratio = (peer_s / ours_s) if (peer_s is not None and ours_s > 0) else None
    out = {
        "name": name,
        "graph": graph,
        "ours_s": ours_s,
        "peer": peer,
        "peer_s": peer_s,
        "ratio": ratio,
    }
    out.update(extra)
    return out


def _against_multiple_lps(
    rng: np.random.Generator, n: int, *, max_targets: int, n_types: int
) -> tuple[float, float, float]:
    """Seconds ours, seconds peer and the largest utility difference over ``n`` games."""
    ours_s = peer_s = worst = 0.0
    for _ in range(n):
        game = random_game(rng, int(rng.integers(1, max_targets + 1)), n_types=n_types)
        k = int(rng.integers(1, 4))
        t0 = time.perf_counter()
        a = solve_game(game, n_units=k)
        t1 = time.perf_counter()
        b = solve_game_multiple_lps(game, n_units=k)
        t2 = time.perf_counter()
        ours_s += t1 - t0
        peer_s += t2 - t1
        worst = max(worst, abs(a.defender_utility - b.defender_utility))
    return ours_s, peer_s, worst


def bench_exactness(n_games: int, n_bayes: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(2026)
    ours_s, peer_s, worst = _against_multiple_lps(rng, n_games, max_targets=10, n_types=1)
    out = [
        case(
            f"exactness: {n_games} games <=10 targets <=3 units",
            "random",
            ours_s,
            "multiple LPs (scipy HiGHS)",
            peer_s,
            max_abs_diff=worst,
        )
    ]
    ours_s, peer_s, worst = _against_multiple_lps(rng, n_bayes, max_targets=5, n_types=2)
    out.append(
        case(
            f"exactness: {n_bayes} Bayesian games 2 types <=5 targets",
            "random",
            ours_s,
            "enumerated multiple LPs",
            peer_s,
            max_abs_diff=worst,
        )
    )
    return out


def bench_compact(repeats: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    n = 1000
    au = rng.lognormal(1.0, 0.8, n)
    game = SecurityGame.from_arrays(np.zeros(n), -au, (1 - DETERRENCE) * au, au)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = solve_game(game, n_units=40)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    peer = solve_game(game, n_units=40, method="eraser_milp", time_limit_s=120)
    peer_s = time.perf_counter() - t0
    return [
        case(
            "compact SSE 1000 targets 40 units (median)",
            "random",
            float(np.median(times)),
            "ERASER MILP (HiGHS)",
            peer_s,
            abs_diff=abs(ours.defender_utility - peer.defender_utility),
            peer_status=peer.status,
        )
    ]


def county_instance(
    n_sites: int, n_units: int, n_slots: int, n_nodes: int, seed: int = 0
) -> dict[str, Any]:
    """Sites on the synthetic county, 4 bases, road travel-time matrix, lognormal risk."""
    rng = np.random.default_rng(seed)
    graph = synthetic_county(n_nodes, seed=seed)
    engine = TravelTimeEngine(graph)
    nodes = rng.choice(graph.n_nodes, size=n_sites + 4, replace=False)
    t0 = time.perf_counter()
    travel = engine.matrix(nodes, nodes)
    matrix_s = time.perf_counter() - t0
    np.fill_diagonal(travel, 0.0)
    value = rng.lognormal(0.0, 0.7, (n_sites, 1)) * rng.uniform(0.6, 1.4, (n_sites, n_slots))
    units = [
        PatrolUnit(
            f"U{k:02d}", "vehicle", n_sites + k % 4, n_sites + k % 4, -1800.0, n_slots * HOUR
        )
        for k in range(n_units)
    ]
    return {
        "value": value,
        "travel": {"vehicle": travel},
        "units": units,
        "n_sites": n_sites,
        "n_slots": n_slots,
        "graph": f"synthetic_county({n_nodes})",
        "matrix_s": matrix_s,
    }


def solve(inst: dict[str, Any], time_limit_s: float, *, beats: bool = True) -> Any:
    value = inst["value"]
    return solve_patrol_schedule(
        value,
        (1 - DETERRENCE) * value,
        slot_start_s=np.arange(inst["n_slots"]) * HOUR,
        slot_length_s=HOUR,
        travel_time_s=inst["travel"],
        units=inst["units"],
        time_limit_s=time_limit_s,
        beats=beats,
    )


def bench_schedule(quick: bool) -> list[dict[str, Any]]:
    n_sites = 300 if quick else 1000
    inst = county_instance(n_sites, 40, 8, 20_000 if quick else 100_000)
    t0 = time.perf_counter()
    sched = solve(inst, time_limit_s=300.0)
    wall = time.perf_counter() - t0
    return [
        case(
            f"schedule LP {n_sites} sites 40 units 8 slots",
            inst["graph"],
            wall,
            None,
            None,
            status=sched.status,
            guarantee=sched.guarantee,
            lower_bound=sched.lower_bound,
            gap=sched.gap,
            n_arcs=sched.n_arcs,
            n_targets=sched.n_targets,
            lp_s=sched.solve_time_s,
        )
    ]


def rota_hits(
    inst: dict[str, Any], policy: str, n_shifts: int, rng: np.random.Generator
) -> np.ndarray:
    """Return bool[n_shifts, n_sites, n_slots]: the site-slots each shift of a simple rota visits.

    Slots are hours from ``inst["slot0_s"]`` (0 unless given), visits start on a
    30-minute grid and last 10 minutes; the greedy rota is the same every shift.
    """
    value, travel = inst["value"], inst["travel"]["vehicle"]
    n_sites, n_slots = inst["n_sites"], inst["n_slots"]
    slot0 = float(inst.get("slot0_s", 0.0))
    ticks = np.arange(slot0, slot0 + n_slots * HOUR, 1800.0)
    dwell = 600.0
    out = np.zeros((n_shifts, n_sites, n_slots), dtype=bool)
    for day in range(n_shifts if policy != "greedy" else 1):
        hit = out[day]
        for unit in inst["units"]:
            here, free = unit.start_location, unit.start_s
            while True:
                arrive = free + travel[here, :n_sites]
                tick_idx = np.searchsorted(ticks, arrive - 1e-6)
                ok = tick_idx < ticks.size
                t_start = np.where(ok, ticks[np.minimum(tick_idx, ticks.size - 1)], np.inf)
                back = t_start + dwell + travel[:n_sites, unit.end_location]
                ok &= back <= unit.end_s
                if here < n_sites:
                    ok[here] = False
                if not ok.any():
                    break
                slot = np.minimum(
                    (np.where(ok, t_start, slot0) - slot0) // HOUR, n_slots - 1
                ).astype(int)
                risk = np.where(ok, value[np.arange(n_sites), slot], 0.0)
                if policy == "uniform":
                    j = int(rng.choice(np.flatnonzero(ok)))
                elif policy == "proportional":
                    j = int(rng.choice(n_sites, p=risk / risk.sum()))
                else:  # greedy: highest risk not yet visited in that slot
                    fresh = np.where(hit[np.arange(n_sites), slot], -1.0, risk)
                    j = int(np.argmax(fresh))
                hit[j, slot[j]] = True
                here, free = j, t_start[j] + dwell
    if policy == "greedy":
        out[1:] = out[0]
    return out


def simulate_rota(
    inst: dict[str, Any], policy: str, n_shifts: int, rng: np.random.Generator
) -> np.ndarray:
    """Return the share of shifts visiting each site-slot under a simple rota."""
    hits = rota_hits(inst, policy, n_shifts if policy != "greedy" else 1, rng)
    share: np.ndarray = hits.mean(axis=0)
    return share


def sample_case(
    inst: dict[str, Any], n_shifts: int, *, beats: bool
) -> tuple[dict[str, Any], float]:
    """Solve, draw ``n_shifts`` shifts, return the sampling case and the realised utility."""
    sched = solve(inst, time_limit_s=300.0, beats=beats)
    rng = np.random.default_rng(99)
    strategies = class_strategies(sched)
    t0 = time.perf_counter()
    shifts = [
        sample_shift(
            sched, units=inst["units"], travel_time_s=inst["travel"], rng=rng, strategies=strategies
        )
        for _ in range(n_shifts)
    ]
    sample_s = time.perf_counter() - t0
    bad = sum(
        check_route(r, inst["travel"]["vehicle"]).status != "feasible" for s in shifts for r in s
    )
    emp = empirical_coverage(shifts, n_sites=inst["n_sites"], n_slots=inst["n_slots"])
    err_visits = float(np.abs(emp.mean_visits - sched.coverage).max())
    err_prob = float(np.abs(emp.visited_share - sched.coverage).max())
    inner = (sched.coverage > 0.01) & (sched.coverage < 0.99)
    se = np.sqrt(sched.coverage * (1 - sched.coverage) / n_shifts)
    z = float((np.abs(emp.visited_share - sched.coverage)[inner] / se[inner]).max())
    meet = float((emp.mean_visits - emp.visited_share).max())
    value = inst["value"]
    realised = float((value - DETERRENCE * value * emp.visited_share).max())
    model = "beats (exact)" if beats else "additive (no beats)"
    out = case(
        f"sampling: {n_shifts} shifts, {inst['n_sites']} sites, 10 units, {model}",
        inst["graph"],
        sample_s,
        None,
        None,
        lp_guarantee=sched.guarantee,
        realised_attacker_utility=realised,
        max_err_expected_visits=err_visits,
        max_err_visit_probability=err_prob,
        max_z_visit_probability=z,
        max_meeting_rate=meet,
        infeasible_routes=bad,
        routes=n_shifts * len(inst["units"]),
        lp_s=sched.solve_time_s,
    )
    return out, realised


def mixture_case(inst: dict[str, Any], n_shifts: int) -> tuple[dict[str, Any], float]:
    """Solve the LP, mix it with joint rotas, draw shifts; return the case and realised utility."""
    value = inst["value"]
    t0 = time.perf_counter()
    sched = solve(inst, time_limit_s=300.0)
    mix = mix_with_rotas(
        sched, value, (1 - DETERRENCE) * value, units=inst["units"], travel_time_s=inst["travel"]
    )
    solve_s = time.perf_counter() - t0
    rng = np.random.default_rng(99)
    t0 = time.perf_counter()
    shifts = [
        sample_mixture_shift(mix, units=inst["units"], travel_time_s=inst["travel"], rng=rng)
        for _ in range(n_shifts)
    ]
    sample_s = time.perf_counter() - t0
    bad = sum(
        check_route(r, inst["travel"]["vehicle"]).status != "feasible" for s in shifts for r in s
    )
    emp = empirical_coverage(shifts, n_sites=inst["n_sites"], n_slots=inst["n_slots"])
    cov = mix.coverage
    inner = (cov > 0.01) & (cov < 0.99)
    se = np.sqrt(cov * (1 - cov) / n_shifts)
    z = float((np.abs(emp.visited_share - cov)[inner] / se[inner]).max()) if inner.any() else 0.0
    realised = float((value - DETERRENCE * value * emp.visited_share).max())
    out = case(
        f"sampling: {n_shifts} shifts, {inst['n_sites']} sites, 10 units, mixed (LP + rotas)",
        inst["graph"],
        sample_s,
        None,
        None,
        plan_guarantee=mix.guarantee,
        lp_guarantee=mix.lp_guarantee,
        greedy_rota_guarantee=mix.greedy_guarantee,
        realised_attacker_utility=realised,
        max_err_visit_probability=float(np.abs(emp.visited_share - cov).max()),
        max_z_visit_probability=z,
        max_meeting_rate=float((emp.mean_visits - emp.visited_share).max()),
        infeasible_routes=bad,
        routes=n_shifts * len(inst["units"]),
        lp_weight=mix.lp_weight,
        rotas=len(mix.rotas),
        entropy_bits=mixture_entropy_bits(mix),
        visits_per_unit_hour=visits_per_unit_hour(shifts),
        solve_s=solve_s,
    )
    return out, mix.guarantee


def bench_sampling_and_value(n_shifts: int, quick: bool) -> list[dict[str, Any]]:
    inst = county_instance(120 if quick else 200, 10, 8, 20_000, seed=1)
    exact, beats_u = sample_case(inst, n_shifts, beats=True)
    additive, _ = sample_case(inst, n_shifts, beats=False)
    mixed, ours_u = mixture_case(inst, n_shifts)
    out = [exact, additive, mixed]
    value = inst["value"]
    rng = np.random.default_rng(5)
    for policy in ("uniform", "proportional", "greedy"):
        t0 = time.perf_counter()
        cov = simulate_rota(inst, policy, min(n_shifts, 2000), rng)
        rota_s = time.perf_counter() - t0
        u = float((value - DETERRENCE * value * cov).max())
        out.append(
            case(
                f"value: attacker best response, ours (mixed) vs {policy} rota",
                inst["graph"],
                mixed["ours_s"],
                f"{policy} rota",
                rota_s,
                ours_attacker_utility=ours_u,
                ours_lp_beats_attacker_utility=beats_u,
                peer_attacker_utility=u,
                utility_ratio=u / ours_u,
            )
        )
    return out


def gap_row(
    name: str,
    graph: str,
    value: np.ndarray,
    kw: dict[str, Any],
    before: PatrolMixture,
    before_s: float,
    *,
    time_limit_s: float,
) -> dict[str, Any]:
    """Certify today's plan, then solve the certified plan from it; one row of the gap table."""
    a_c = (1 - DETERRENCE) * value
    game = route_game_from_arrays(value, a_c, **kw)
    old = certify_mixture(before, game, time_limit_s=time_limit_s)
    t0, w0 = time.process_time(), time.perf_counter()
    after = solve_patrol_game(value, a_c, warm_start=before, time_limit_s=time_limit_s, **kw)
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    return case(
        name,
        graph,
        cpu,
        "today's plan (LP + rotas)",
        before_s,
        load=os.getloadavg()[0],
        before_reported_bound=before.lp_schedule.lower_bound,
        before_guarantee=before.guarantee,
        before_coverable=old.coverable_guarantee,
        bound=max(old.lower_bound, after.lower_bound),
        before_gap=old.gap,
        after_guarantee=after.guarantee,
        after_coverable=after.coverable_guarantee,
        after_bound=after.lower_bound,
        after_gap=after.gap,
        status=after.status,
        uncoverable=len(after.uncoverable),
        after_levels=",".join(f"{z:.4g}" for z in after.level_guarantees),
        after_wall_s=wall,
    )


_COUNTY: dict[bool, tuple[dict[str, Any], dict[str, Any], PatrolMixture, float]] = {}


def county_plan(quick: bool) -> tuple[dict[str, Any], dict[str, Any], PatrolMixture, float]:
    """Return the county instance, the solver's arguments, today's plan and its CPU seconds."""
    if quick in _COUNTY:
        return _COUNTY[quick]
    n_sites = 300 if quick else 1500
    inst = county_instance(n_sites, 40, 8, 20_000 if quick else 100_000)
    value = inst["value"]
    kw = {
        "slot_start_s": np.arange(inst["n_slots"]) * HOUR,
        "slot_length_s": HOUR,
        "travel_time_s": inst["travel"],
        "units": inst["units"],
    }
    t0 = time.process_time()
    sched = solve(inst, time_limit_s=300.0)
    before = mix_with_rotas(
        sched, value, (1 - DETERRENCE) * value, units=inst["units"], travel_time_s=inst["travel"]
    )
    _COUNTY[quick] = (inst, kw, before, time.process_time() - t0)
    return _COUNTY[quick]


def bench_gap_county(quick: bool) -> list[dict[str, Any]]:
    inst, kw, before, before_s = county_plan(quick)
    return [
        gap_row(
            f"gap: county {inst['n_sites']} sites 40 units 8 slots",
            inst["graph"],
            inst["value"],
            kw,
            before,
            before_s,
            time_limit_s=10.0,
        )
    ]


EVENT = (
    "kind: vehicle attack\nat: 2026-06-18T22:10:00+01:00\nplace: Oakham town centre\n"
    "targeted_community: none\nthreat_level: severe\nplaybook: vehicle-attack-town-centre\n"
)
SHIFTS = {
    "06-14": "2026-06-19T06:00/14:00",
    "14-22": "2026-06-19T14:00/22:00",
    "22-06": "2026-06-19T22:00/20T06:00",
}
_RUTLAND: dict[str, Any] = {}


def rutland_setup() -> dict[str, Any]:
    """Build the 2022 Rutland region once into a temporary home; the event file beside it."""
    if _RUTLAND:
        return _RUTLAND
    from watchfloor.services.regions import build_region  # noqa: PLC0415 (only the Rutland sections)
    from watchfloor.settings import Settings  # noqa: PLC0415 (only the Rutland sections)

    data_dir = Path(os.environ["WATCHFLOOR_DATA_DIR"])
    home = Path(tempfile.mkdtemp(prefix="bench-patrol-"))
    settings = Settings(home=home, data_dir=data_dir)
    build_region(data_dir / "rutland-2022-07-20.osm.pbf", name="rutland", settings=settings)
    event = home / "event.yaml"
    event.write_text(EVENT, encoding="utf-8")
    _RUTLAND.update(settings=settings, event=event)
    return _RUTLAND


def rutland_plan(n_units: int, shift: str, *, event: bool) -> tuple[Any, dict[str, Any], float]:
    """Return today's plan from the service, the solver's arguments and its CPU seconds."""
    from watchfloor.services.patrol import plan_patrols  # noqa: PLC0415 (only the Rutland sections)

    setup = rutland_setup()
    t0 = time.process_time()
    plan = plan_patrols(
        setup["settings"],
        region="rutland",
        event_path=setup["event"] if event else None,
        n_units=n_units,
        shift=SHIFTS[shift],
        seed=1,
    )
    plan_s = time.process_time() - t0
    nodes = np.concatenate([plan.site_nodes, plan.base_nodes])
    travel = plan.engines["vehicle"].matrix(nodes, nodes)
    np.fill_diagonal(travel, 0.0)
    sched = plan.schedule
    kw = {
        "slot_start_s": sched.slot_start_s,
        "slot_length_s": sched.slot_length_s,
        "travel_time_s": {"vehicle": travel},
        "units": list(plan.units),
        "tick_s": float(np.diff(sched.tick_time_s).min()) if sched.tick_time_s.size > 1 else HOUR,
        "dwell_s": sched.dwell_s,
    }
    return plan, kw, plan_s


def bench_gap_rutland(quick: bool, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Gap rows for Rutland; ``only`` picks cases as ``UNITS:SHIFT:event|routine``."""
    cases = [(n, sh, ev) for ev in (True, False) for sh in SHIFTS for n in (4, 8, 12, 20)]
    if only:
        cases = [(int(n), sh, kind == "event") for n, sh, kind in (c.split(":") for c in only)]
    elif quick:
        cases = [(n, "14-22", True) for n in (4, 8, 12, 20)] + [
            (8, "06-14", True),
            (20, "22-06", True),
            (8, "14-22", False),
            (20, "14-22", False),
        ]
    out = []
    for n, sh, ev in cases:
        plan, kw, plan_s = rutland_plan(n, sh, event=ev)
        if plan.mixture is None:
            continue
        row = gap_row(
            f"gap: Rutland {n} units {sh} {'vehicle attack' if ev else 'routine'}",
            "rutland-2022",
            plan.value,
            kw,
            plan.mixture,
            plan_s,
            time_limit_s=10.0,
        )
        show(row, to_stderr=True)  # progress: the section prints its table at the end
        out.append(row)
    return out


#: Briefing overlap: the incoming shift takes the units over this long before the outgoing ends.
OVERLAP_S = 1800.0


def handover_rows(
    name: str,
    graph: str,
    value: np.ndarray,
    kw: dict[str, Any],
    cold_units: list[PatrolUnit],
    handed: list[PatrolUnit],
) -> list[dict[str, Any]]:
    """Solve the next shift from base and from the handover; first-slot numbers of each."""
    a_c = (1 - DETERRENCE) * value
    rows = []
    for label, units in (("cold start at base", cold_units), ("handover", handed)):
        t0 = time.process_time()
        plan = solve_patrol_game(value, a_c, time_limit_s=10.0, **{**kw, "units": units})
        cpu = time.process_time() - t0
        top = np.argsort(-value[:, 0])[:20]
        rows.append(
            case(
                f"handover: {name}, {label}",
                graph,
                cpu,
                None,
                None,
                load=os.getloadavg()[0],
                first_slot_attacker_utility=float(
                    (value[:, 0] - DETERRENCE * value[:, 0] * plan.coverage[:, 0]).max()
                ),
                first_slot_top20_coverage=float(plan.coverage[top, 0].mean()),
                first_slot_uncoverable=sum(u.slot == 0 for u in plan.uncoverable),
                guarantee=plan.guarantee,
                coverable_guarantee=plan.coverable_guarantee,
                gap=plan.gap,
            )
        )
    return rows


def bench_handover(quick: bool) -> list[dict[str, Any]]:
    """First-slot coverage of the next shift with and without handover (Rutland, county)."""
    first, _, _ = rutland_plan(8, "06-14", event=True)
    second, kw, _ = rutland_plan(8, "14-22", event=True)
    # Routes end back at base at the end of a shift, so the handover is taken half an
    # hour before it (a briefing overlap): the incoming crews start where the units are.
    start_s = float(second.schedule.slot_start_s[0]) - OVERLAP_S
    handed = units_at_handover(
        first.routes,
        handover_s=start_s,
        end_s=second.units[0].end_s,
        end_location=[u.end_location for u in second.units],
    )
    rows = handover_rows(
        "Rutland 8 units 14-22 after 06-14",
        "rutland-2022",
        second.value,
        kw,
        list(second.units),
        list(handed),
    )
    # County: the same 8 hours again right after the plan's shift (same risk, slots 8-15).
    inst, ckw, before, _ = county_plan(quick)
    routes = sample_mixture_shift(
        before, units=inst["units"], travel_time_s=inst["travel"], rng=np.random.default_rng(8)
    )
    shift_s = inst["n_slots"] * HOUR
    cold = [
        PatrolUnit(
            u.unit_id, u.mode, u.start_location, u.end_location, shift_s - 1800.0, 2 * shift_s
        )
        for u in inst["units"]
    ]
    handed_c = units_at_handover(routes, handover_s=shift_s - OVERLAP_S, end_s=2 * shift_s)
    rows += handover_rows(
        f"county {inst['n_sites']} sites 40 units, the next 8 hours",
        inst["graph"],
        inst["value"],
        {**ckw, "slot_start_s": shift_s + np.arange(inst["n_slots"]) * HOUR},
        cold,
        list(handed_c),
    )
    return rows


def attacker_rows(
    name: str, inst: dict[str, Any], plan: PatrolMixture, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """The learning attacker against our plan and three rotas over 60 days per window."""
    n_days = 60 + 28
    value = inst["value"]
    a_c = (1 - DETERRENCE) * value
    n_sites, n_slots = inst["n_sites"], inst["n_slots"]
    shifts = [
        sample_mixture_shift(plan, units=inst["units"], travel_time_s=inst["travel"], rng=rng)
        for _ in range(n_days)
    ]
    ours = np.stack([hits_of_shift(s, n_sites=n_sites, n_slots=n_slots) for s in shifts])
    entropy = visit_time_entropy_bits(shifts, n_sites=n_sites, n_slots=n_slots)
    top = np.argsort(-value.max(axis=1))[:20]
    rows = []
    for policy in ("greedy", "proportional", "uniform"):
        theirs = rota_hits(inst, policy, n_days, rng)
        for k in (7, 14, 28):
            g_ours = learning_attacker_gains(ours, value, a_c, window_days=k)[-60:]
            g_them = learning_attacker_gains(theirs, value, a_c, window_days=k)[-60:]
            rows.append(
                case(
                    f"learning attacker k={k}: {name}, ours vs {policy} rota",
                    inst["graph"],
                    0.0,
                    f"{policy} rota",
                    None,
                    ours_mean_gain=float(g_ours.mean()),
                    ours_p90_gain=float(np.percentile(g_ours, 90)),
                    peer_mean_gain=float(g_them.mean()),
                    peer_p90_gain=float(np.percentile(g_them, 90)),
                    gain_ratio=float(g_them.mean() / g_ours.mean()),
                    ours_top20_entropy_bits=float(np.nanmean(entropy[top])),
                )
            )
    return rows


def bench_attacker(quick: bool) -> list[dict[str, Any]]:
    rng = np.random.default_rng(60)
    out = []
    plan, kw, _ = rutland_plan(8, "14-22", event=True)
    value = plan.value
    a_c = (1 - DETERRENCE) * value
    certified = solve_patrol_game(value, a_c, warm_start=plan.mixture, time_limit_s=10.0, **kw)
    inst = {
        "value": value,
        "travel": kw["travel_time_s"],
        "units": kw["units"],
        "n_sites": value.shape[0],
        "n_slots": value.shape[1],
        "slot0_s": float(kw["slot_start_s"][0]),
        "graph": "rutland-2022",
    }
    out += attacker_rows("Rutland 8 units 14-22 vehicle attack", inst, certified, rng)
    for max_run in (1, 2):
        t0 = time.process_time()
        bounded = solve_patrol_game(
            value,
            a_c,
            warm_start=plan.mixture,
            time_limit_s=10.0,
            max_consecutive_visits=max_run,
            **kw,
        )
        out.append(
            case(
                f"consecutive visits <= {max_run}: Rutland 8 units 14-22 vehicle attack",
                "rutland-2022",
                time.process_time() - t0,
                "no bound",
                certified.solve_time_s,
                guarantee=bounded.guarantee,
                levels=",".join(f"{z:.4g}" for z in bounded.level_guarantees),
                unbounded_levels=",".join(f"{z:.4g}" for z in certified.level_guarantees),
                price_in_guarantee=bounded.guarantee - certified.guarantee,
                gap=bounded.gap,
            )
        )
    county, ckw, before, _ = county_plan(quick)
    cv = county["value"]
    cplan = solve_patrol_game(
        cv, (1 - DETERRENCE) * cv, warm_start=before, time_limit_s=10.0, **ckw
    )
    out += attacker_rows(f"county {county['n_sites']} sites 40 units", county, cplan, rng)
    return out


def show(c: dict[str, Any], *, to_stderr: bool) -> None:
    """Print one case on a line: ours, the peer, the ratio, then its other numbers."""
    extra = {
        k: v
        for k, v in c.items()
        if k not in ("name", "graph", "ours_s", "peer", "peer_s", "ratio")
    }
    ratio = f"{c['ratio']:.1f}x" if c["ratio"] is not None else "-"
    peer_s = f"{c['peer_s']:.4f} s" if c["peer_s"] is not None else "-"
    print(
        f"{c['name']} [{c['graph']}]: ours {c['ours_s']:.4f} s, "
        f"{c['peer'] or 'no peer'} {peer_s}, ratio {ratio}; "
        + ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in extra.items()
        ),
        file=sys.stderr if to_stderr else sys.stdout,
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="sections to run")
    parser.add_argument(
        "--rutland-cases", nargs="*", default=None, help="gap cases as UNITS:SHIFT:event|routine"
    )
    args = parser.parse_args()
    want = set(args.only) if args.only else None

    def run(section: str) -> bool:
        return want is None or section in want

    cases: list[dict[str, Any]] = []
    sections: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "exactness": lambda: bench_exactness(
            100 if args.quick else 1000, 20 if args.quick else 100
        ),
        "compact": lambda: bench_compact(5 if args.quick else 51),
        "schedule": lambda: bench_schedule(args.quick),
        "sampling": lambda: bench_sampling_and_value(1000 if args.quick else 10_000, args.quick),
        "gap-county": lambda: bench_gap_county(args.quick),
        "gap-rutland": lambda: bench_gap_rutland(args.quick, args.rutland_cases),
        "handover": lambda: bench_handover(args.quick),
        "attacker": lambda: bench_attacker(args.quick),
    }
    for section, bench in sections.items():
        if run(section):
            new = bench()
            cases += new
            for c in new:
                show(c, to_stderr=args.json)
    if args.json:
        print(json.dumps({"cases": cases}))


if __name__ == "__main__":
    main()
