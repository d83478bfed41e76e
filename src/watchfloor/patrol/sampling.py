r"""Concrete shift routes drawn from a patrol schedule's flows.

Two ways to turn the flow ``f^g`` of a class of ``n_g`` identical units into
routes, both exact in their marginals:

* ``"decomposition"`` (default): the flow is decomposed once into at most
  ``n_arcs`` source-sink paths with weights summing to ``n_g`` (greedy
  bottleneck decomposition, Ahuja, Magnanti & Orlin 1993, ch. 3.5): an
  explicit mixed strategy over routes. Each shift, ``n_g`` distinct paths are
  drawn by comb (systematic) sampling along an order that keeps paths through
  the same busy site-slot together (fewer meetings of two units), so
  each path is used with probability equal to its weight (weights are at
  most 1 except the idle path) and every visit node is used with
  probability equal to its flow.
* ``"max_entropy"``: every unit walks the flow as a Markov chain, leaving node
  ``v`` by arc ``a`` with probability ``f_a / out(v)``. Among all route
  distributions with these arc marginals this one has the largest entropy
  (it is the maximum-entropy distribution given the arc flows), so it is the
  least predictable; units are drawn independently.

Each drawn path becomes a route: visits start at their planned tick plus a
random delay (kept inside the slot and the slack before the next stop) and
last a random 600-960 s (Koper), never longer than the slack allows; pinned
visits last the whole pin window. :func:`check_route` verifies a route
against the travel-time matrix and returns a status instead of raising.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from watchfloor.errors import InvalidInputError
from watchfloor.patrol.mixture import PatrolMixture
from watchfloor.patrol.schedule import (
    DWELL_MAX_S,
    DWELL_MIN_S,
    ClassFlow,
    PatrolSchedule,
    PatrolUnit,
)
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "ClassStrategy",
    "Leg",
    "RouteCheck",
    "SamplingMethod",
    "UnitRoute",
    "Visit",
    "check_route",
    "class_strategies",
    "mixture_entropy_bits",
    "sample_mixture_shift",
    "sample_shift",
    "strategy_entropy_bits",
]

log = logging.getLogger(__name__)

SamplingMethod = Literal["decomposition", "max_entropy"]

_EPS = 1e-9


@dataclass(frozen=True)
class Visit:
    """One visit of a route: site index, times in seconds from the plan's origin."""

    site: int
    arrive_s: float
    depart_s: float
    slot: int
    pinned: bool

    @property
    def dwell_s(self) -> float:
        """Time spent at the site."""
        return self.depart_s - self.arrive_s


@dataclass(frozen=True)
class Leg:
    """One move between two locations (sites, then bases, as in the travel matrix)."""

    from_location: int
    to_location: int
    depart_s: float
    travel_time_s: float
    wait_s: float


@dataclass(frozen=True)
class UnitRoute:
    """A unit's route for one shift: visits in order and the legs between stops."""

    unit_id: str
    mode: str
    start_location: int
    end_location: int
    start_s: float
    end_s: float
    visits: tuple[Visit, ...]
    legs: tuple[Leg, ...]

    @property
    def total_travel_s(self) -> float:
        """Total walking or driving time."""
        return float(sum(leg.travel_time_s for leg in self.legs))


@dataclass(frozen=True)
class RouteCheck:
    """Return value of :func:`check_route`: ``status`` is ``"feasible"`` or ``"infeasible"``."""

    status: Literal["feasible", "infeasible"]
    problems: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ClassStrategy:
    """A class's mixed strategy: paths (node ids, source to sink) and their weights.

    Weights sum to the number of units in the class; a unit follows path ``k``
    with probability ``weight[k] / n_units``.
    """

    flow: ClassFlow
    paths: tuple[IntArray, ...]
    weight: FloatArray


def _out_lists(flow: ClassFlow) -> tuple[IntArray, IntArray, FloatArray]:
    n_nodes = flow.sink + 1
    order = np.argsort(flow.arc_tail, kind="stable")
    heads = flow.arc_head[order]
    vals = flow.arc_flow[order]
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.add.at(ptr, flow.arc_tail + 1, 1)
    return np.cumsum(ptr), heads, vals


def decompose_flow(flow: ClassFlow) -> ClassStrategy:
    """Return the class's flow decomposed into weighted source-sink paths.

    Greedy: follow the largest remaining out-flow from the source to the sink,
    remove the bottleneck along the path, repeat until the source is empty.
    """
    ptr, heads, rest = _out_lists(flow)
    rest = rest.copy()
    total = float(rest[ptr[flow.source] : ptr[flow.source + 1]].sum())
    paths: list[IntArray] = []
    weights: list[float] = []
    tol = 1e-7 * max(1.0, total)
    guard = heads.size + 10
    while rest[ptr[flow.source] : ptr[flow.source + 1]].sum() > tol and guard > 0:
        guard -= 1
        node = flow.source
        nodes = [node]
        arcs = []
        while node != flow.sink:
            lo, hi = ptr[node], ptr[node + 1]
            if hi <= lo or rest[lo:hi].max() <= 0:
                break
            k = lo + int(np.argmax(rest[lo:hi]))
            arcs.append(k)
            node = int(heads[k])
            nodes.append(node)
        if node != flow.sink:  # a dead end left by round-off: drop its remainder
            for k in arcs:
                rest[k] = 0.0
            continue
        w = float(rest[arcs].min())
        rest[arcs] -= w
        paths.append(np.asarray(nodes, dtype=np.int64))
        weights.append(w)
    weight = np.asarray(weights, dtype=np.float64)
    if weight.size:
        weight *= flow.n_units / weight.sum()
    log.debug("decomposed class flow into %d paths", weight.size)
    return ClassStrategy(flow=flow, paths=tuple(paths), weight=weight)


def class_strategies(schedule: PatrolSchedule) -> tuple[ClassStrategy, ...]:
    """Return the mixed strategy (weighted paths) of every class of the schedule.

    Paths are put in comb order: sorted by the site-slots they visit, most
    covered first, so paths through the same busy site-slot lie side by side.
    A block of paths of total weight <= 1 holds at most one comb tooth, so two
    units of a class rarely (for the busiest site-slot of each path, never)
    meet at the same site-slot.
    """
    n_slots = schedule.coverage.shape[1]
    rank_of = np.empty(schedule.coverage.size, dtype=np.int64)
    rank_of[np.argsort(-schedule.coverage, axis=None, kind="stable")] = np.arange(
        schedule.coverage.size
    )
    out = []
    for c in schedule.classes:
        strat = decompose_flow(c)
        keys = []
        for path in strat.paths:
            vis = path[path < c.n_visit_nodes]
            cells = c.node_site[vis] * n_slots + c.node_slot[vis]
            keys.append(tuple(sorted(rank_of[cells].tolist())))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        out.append(
            ClassStrategy(
                flow=c,
                paths=tuple(strat.paths[k] for k in order),
                weight=strat.weight[order],
            )
        )
    return tuple(out)


def strategy_entropy_bits(
    schedule: PatrolSchedule, *, method: SamplingMethod = "decomposition"
) -> float:
    """Return the mean over units of the entropy (bits) of a unit's route distribution.

    For ``"decomposition"`` it is ``-sum_k w_k log2 w_k`` over the path
    weights normalised per unit; for ``"max_entropy"`` the Markov chain's
    path entropy ``sum_v (x_v / n_g) H(out-arcs of v)``.
    """
    total = 0.0
    units = 0
    for c in schedule.classes:
        if method == "decomposition":
            p = decompose_flow(c).weight / c.n_units
            p = p[p > 0]
            h = float(-(p * np.log2(p)).sum())
        else:
            ptr, _, vals = _out_lists(c)
            h = 0.0
            for v in range(c.sink):
                out = vals[ptr[v] : ptr[v + 1]]
                x = float(out.sum())
                if x <= _EPS or out.size < 2:
                    continue
                q = out[out > 0] / x
                h += x / c.n_units * float(-(q * np.log2(q)).sum())
        total += h * c.n_units
        units += c.n_units
    return total / max(units, 1)


def _comb(weight: FloatArray, n: int, rng: np.random.Generator) -> IntArray:
    """Return ``n`` indices drawn so index ``k`` appears ``weight[k]`` times in expectation.

    Systematic sampling along the given order: teeth ``U, U + 1, ...``.
    """
    order = np.arange(weight.size)
    ends = np.cumsum(weight[order])
    teeth = rng.random() * (ends[-1] / n) + np.arange(n) * (ends[-1] / n)
    pos = np.minimum(np.searchsorted(ends, teeth, side="right"), weight.size - 1)
    picked: IntArray = order[pos]
    return picked


def _walk(
    flow: ClassFlow, out: tuple[IntArray, IntArray, FloatArray], rng: np.random.Generator
) -> IntArray:
    ptr, heads, vals = out
    node = flow.source
    nodes = [node]
    while node != flow.sink:
        lo, hi = ptr[node], ptr[node + 1]
        w = vals[lo:hi]
        k = lo + int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right"))
        node = int(heads[min(k, hi - 1)])
        nodes.append(node)
    return np.asarray(nodes, dtype=np.int64)


def _realise(
    path: IntArray,
    flow: ClassFlow,
    *,
    unit: PatrolUnit,
    schedule: PatrolSchedule,
    travel: FloatArray,
    rng: np.random.Generator,
) -> UnitRoute:
    """Return the route of one unit along a node path, with randomised arrivals and dwells."""
    n_vis = flow.n_visit_nodes
    # stops after the source: (location, planned start, pinned end or nan, slot)
    stops: list[tuple[int, float, float, int]] = []
    for node in path[1:]:
        if node < n_vis:
            stops.append(
                (
                    int(flow.node_site[node]),
                    float(flow.node_time_s[node]),
                    float("nan"),
                    int(flow.node_slot[node]),
                )
            )
        else:
            k = int(node) - n_vis
            if node == flow.sink:
                stops.append((int(flow.anchor_location[k]), unit.end_s, float("nan"), -1))
            else:
                stops.append(
                    (
                        int(flow.anchor_location[k]),
                        float(flow.anchor_arrive_s[k]),
                        float(flow.anchor_depart_s[k]),
                        -1,
                    )
                )
    return _route_from_stops(
        stops,
        unit=unit,
        slot_start_s=schedule.slot_start_s,
        slot_length_s=schedule.slot_length_s,
        travel=travel,
        rng=rng,
    )


def _route_from_stops(
    stops: Sequence[tuple[int, float, float, int]],
    *,
    unit: PatrolUnit,
    slot_start_s: FloatArray,
    slot_length_s: float,
    travel: FloatArray,
    rng: np.random.Generator,
) -> UnitRoute:
    """Return the route through ``stops`` (location, planned start, pin end or nan, slot).

    The last stop is the end base. Unpinned visits start at their planned
    time plus a random delay kept inside the slot and the slack before the
    next stop, and last a random 600-960 s that the slack allows.
    """
    starts = slot_start_s
    visits: list[Visit] = []
    legs: list[Leg] = []
    here = unit.start_location
    free_at = unit.start_s
    for idx, (loc, planned, pin_end, slot) in enumerate(stops):
        tt = float(travel[here, loc])
        is_last = idx == len(stops) - 1
        if is_last:
            arrive = free_at + tt
            legs.append(Leg(here, loc, free_at, tt, 0.0))
            break
        nxt_loc, nxt_planned = stops[idx + 1][0], stops[idx + 1][1]
        tt_next = float(travel[loc, nxt_loc])
        if not np.isnan(pin_end):
            arrive, depart = planned, pin_end
            slot_here = int(np.searchsorted(starts, planned, side="right") - 1)
            pinned = True
        else:
            latest_depart = nxt_planned - tt_next
            slot_end = float(starts[slot]) + slot_length_s
            jitter_max = min(latest_depart - DWELL_MIN_S - planned, slot_end - planned - 1.0)
            arrive = planned + (rng.random() * jitter_max if jitter_max > 0 else 0.0)
            room = min(DWELL_MAX_S, latest_depart - arrive)
            dwell = DWELL_MIN_S + rng.random() * max(0.0, room - DWELL_MIN_S)
            depart = arrive + dwell
            slot_here = slot
            pinned = False
        legs.append(Leg(here, loc, free_at, tt, max(0.0, arrive - free_at - tt)))
        visits.append(Visit(loc, arrive, depart, slot_here, pinned))
        here, free_at = loc, depart
    return UnitRoute(
        unit_id=unit.unit_id,
        mode=unit.mode,
        start_location=unit.start_location,
        end_location=unit.end_location,
        start_s=unit.start_s,
        end_s=unit.end_s,
        visits=tuple(visits),
        legs=tuple(legs),
    )


def sample_shift(
    schedule: PatrolSchedule,
    *,
    units: Sequence[PatrolUnit],
    travel_time_s: Mapping[str, FloatArray],
    rng: np.random.Generator,
    method: SamplingMethod = "decomposition",
    strategies: Sequence[ClassStrategy] | None = None,
) -> tuple[UnitRoute, ...]:
    """Return one route per unit for one shift, drawn from the schedule's mixed strategy.

    Parameters
    ----------
    schedule
        A solved schedule.
    units
        The units the schedule was solved for.
    travel_time_s
        The travel-time matrices per mode used to solve it.
    rng
        Randomness (production: seeded from OS entropy, the seed recorded).
    method
        ``"decomposition"`` or ``"max_entropy"`` (see the module docstring).
    strategies
        Pre-computed :func:`class_strategies` (saves the decomposition when
        drawing many shifts).
    """
    by_id = {u.unit_id: u for u in units}
    missing = [uid for c in schedule.classes for uid in c.unit_ids if uid not in by_id]
    if missing:
        msg = f"units {', '.join(missing)} of the schedule were not given"
        raise InvalidInputError(msg)
    if method not in ("decomposition", "max_entropy"):
        msg = f"method must be 'decomposition' or 'max_entropy' (got {method!r})"
        raise InvalidInputError(msg)
    strats: Sequence[ClassStrategy] = ()
    if method == "decomposition":
        strats = strategies if strategies is not None else class_strategies(schedule)
    routes: list[UnitRoute] = []
    for g, flow in enumerate(schedule.classes):
        ids = list(flow.unit_ids)
        order = rng.permutation(len(ids))
        if method == "decomposition":
            strat = strats[g]
            picks = _comb(strat.weight, len(ids), rng)
            paths = [strat.paths[int(k)] for k in picks]
        else:
            out = _out_lists(flow)
            paths = [_walk(flow, out, rng) for _ in ids]
        for k, path in zip(order, paths, strict=True):
            unit = by_id[ids[int(k)]]
            routes.append(
                _realise(
                    path,
                    flow,
                    unit=unit,
                    schedule=schedule,
                    travel=travel_time_s[unit.mode],
                    rng=rng,
                )
            )
    rank = {u.unit_id: i for i, u in enumerate(units)}
    routes.sort(key=lambda r: rank[r.unit_id])
    return tuple(routes)


def check_route(
    route: UnitRoute, travel_time_s: FloatArray, *, tolerance_s: float = 1e-6
) -> RouteCheck:
    """Return whether ``route`` can be driven or walked as timed, with the problems found.

    Checks: the route starts at its start base no earlier than the shift and
    ends at its end base by the end of the shift; every leg takes at least the
    matrix travel time and arrives before the next visit starts; every
    unpinned visit lasts 600-960 s; times never go backwards.
    """
    problems: list[str] = []
    here, free_at = route.start_location, route.start_s
    if len(route.legs) != len(route.visits) + 1:
        problems.append("a route needs one leg more than it has visits")
        return RouteCheck("infeasible", tuple(problems))
    for k, leg in enumerate(route.legs):
        target = route.visits[k].site if k < len(route.visits) else route.end_location
        if leg.from_location != here or leg.to_location != target:
            problems.append(
                f"leg {k} goes {leg.from_location}->{leg.to_location}, not {here}->{target}"
            )
        need = float(travel_time_s[here, target])
        if not np.isfinite(need):
            problems.append(f"leg {k}: location {target} is unreachable from {here}")
            continue
        if leg.travel_time_s < need - tolerance_s:
            problems.append(f"leg {k}: {leg.travel_time_s:.0f} s is shorter than {need:.0f} s")
        if leg.depart_s < free_at - tolerance_s:
            problems.append(f"leg {k} leaves before the previous stop ends")
        arrive = leg.depart_s + max(need, leg.travel_time_s)
        if k < len(route.visits):
            v = route.visits[k]
            if v.arrive_s < arrive - tolerance_s:
                problems.append(f"visit {k} starts before the unit can arrive")
            if v.depart_s < v.arrive_s:
                problems.append(f"visit {k} ends before it starts")
            if not v.pinned and not (
                DWELL_MIN_S - tolerance_s <= v.dwell_s <= DWELL_MAX_S + tolerance_s
            ):
                problems.append(f"visit {k} lasts {v.dwell_s:.0f} s, outside 600-960 s")
            here, free_at = v.site, v.depart_s
        elif arrive > route.end_s + tolerance_s:
            problems.append(
                f"the unit is back at base {arrive - route.end_s:.0f} s after the shift"
            )
    status: Literal["feasible", "infeasible"] = "infeasible" if problems else "feasible"
    return RouteCheck(status, tuple(problems))


def sample_mixture_shift(
    mixture: PatrolMixture,
    *,
    units: Sequence[PatrolUnit],
    travel_time_s: Mapping[str, FloatArray],
    rng: np.random.Generator,
    method: SamplingMethod = "decomposition",
    strategies: Sequence[ClassStrategy] | None = None,
) -> tuple[UnitRoute, ...]:
    """Return one route per unit for one shift drawn from a mixed plan.

    One component is drawn with its weight: the schedule LP (whose routes are
    then drawn by :func:`sample_shift` with ``method``) or one joint rota, so
    each site-slot is visited with exactly the mixture's coverage.
    """
    by_id = {u.unit_id: u for u in units}
    weights = np.concatenate([[mixture.lp_weight], mixture.rota_weight])
    k = int(np.searchsorted(np.cumsum(weights), rng.random() * weights.sum(), side="right"))
    k = min(k, weights.size - 1)
    if k == 0:
        return sample_shift(
            mixture.lp_schedule,
            units=units,
            travel_time_s=travel_time_s,
            rng=rng,
            method=method,
            strategies=strategies,
        )
    rota = mixture.rotas[k - 1]
    sched = mixture.lp_schedule
    routes = []
    for uid, stops in zip(rota.unit_ids, rota.stops, strict=True):
        unit = by_id[uid]
        planned = [(site, start, float("nan"), slot) for site, start, slot in stops]
        planned.append((unit.end_location, unit.end_s, float("nan"), -1))
        routes.append(
            _route_from_stops(
                planned,
                unit=unit,
                slot_start_s=sched.slot_start_s,
                slot_length_s=sched.slot_length_s,
                travel=travel_time_s[unit.mode],
                rng=rng,
            )
        )
    rank = {u.unit_id: i for i, u in enumerate(units)}
    routes.sort(key=lambda r: rank[r.unit_id])
    return tuple(routes)


def mixture_entropy_bits(
    mixture: PatrolMixture, *, method: SamplingMethod = "decomposition"
) -> float:
    """Return the entropy (bits) of the plan's draw: which component, then the LP's route.

    ``H(weights) + lp_weight * H(LP)``, where ``H(LP)`` is
    :func:`strategy_entropy_bits` of the LP component (mean per unit).
    """
    w = np.concatenate([[mixture.lp_weight], mixture.rota_weight])
    w = w[w > 0] / w.sum()
    h = float(-(w * np.log2(w)).sum())
    return h + mixture.lp_weight * strategy_entropy_bits(mixture.lp_schedule, method=method)
