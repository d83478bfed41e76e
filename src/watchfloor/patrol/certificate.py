r"""A proven lower bound on the best guarantee any feasible set of routes can reach.

The model
---------
Targets are site-slots ``t`` with attacker payoffs ``A^u_t`` (no visit) and
``A^c_t`` (a visit), ``D_t = A^u_t - A^c_t``. Each unit ``k`` drives one route
of its time-expanded graph (:mod:`watchfloor.patrol.routes`); a plan is any
probability distribution over the units' joint routes, and site-slot ``t`` is
covered with the probability ``c_t`` that some unit visits it. The plan's
guarantee is ``max_t A^u_t - D_t c_t``; the best possible guarantee ``G*`` is
its minimum over all plans.

With ``n_t`` the number of units visiting ``t``, ``c_t = E[min(1, n_t)]``, so for
any attacker mix ``y`` (``y >= 0``, ``sum y = 1``) and any ``0 <= nu_t <= y_t D_t``
(``min(1, n) <= 1 * [n >= 1]`` and ``w min(1, n) <= nu + (w - nu) n`` for ``n >= 1``)::

    G*  >=  sum_t y_t A^u_t - sum_t nu_t - sum_k P_k(y D - nu)        (Lagrangian bound)

where ``P_k(w)`` is the most weight one route of unit ``k`` can collect:
a longest path, computed exactly by :func:`~watchfloor.patrol.routes.best_route`.
The best ``(y, nu)`` are the duals of the *expected-visit* relaxation, the
master LP over single-unit routes ``r`` (units may meet; ``h_{rt}`` = 1 when
route ``r`` visits ``t``)::

    min  z
    s.t. z + D_t c_t >= A^u_t                    (y_t)   for every target
         sum_{g, r} lambda_{gr} h_{rt} - c_t >= 0  (mu_t)  expected visits cover c
         sum_r lambda_{gr} = n_g                 (pi_g)  per class of identical units
         0 <= c_t <= 1,  lambda >= 0

solved by column generation with exact pricing (Desrosiers & Luebbecke,
"A primer in column generation", 2005): each round every class prices its
best route for the weights ``mu``; the round's Lagrangian bound (with
``nu = y D - min(mu, y D)``) is valid whatever the state of the master, and
the best one over the rounds is returned. Site-slots that no unit can visit
keep ``c_t = 0`` in every plan; they are reported on their own and bound the
overall guarantee (:class:`Certificate` keeps both levels). Pinned site-slots
are covered by the pin (``c_t = 1``).

The bound is over the schedule's model: visits start at ticks and last
``dwell_s``; it assumes travel times obey the triangle inequality (road
shortest paths do).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import highspy
import numpy as np

from watchfloor.errors import InvalidInputError
from watchfloor.highs import quiet_highs
from watchfloor.patrol.game import minimal_attacker_utility
from watchfloor.patrol.routes import Anchor, BestRoute, best_route, reachable_site_slots
from watchfloor.patrol.schedule import (
    PatrolUnit,
    Pin,
    hhmm,
    prepare_schedule_input,
    unit_anchors,
)
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = [
    "EXACT_RUN_SITES",
    "OPTIMAL_GAP",
    "Certificate",
    "CertificateStatus",
    "RouteGame",
    "Uncoverable",
    "certify",
    "relative_gap",
    "route_game_from_arrays",
    "travel_free_bound",
]

log = logging.getLogger(__name__)

#: A plan is called optimal only when its relative gap is below this.
OPTIMAL_GAP = 1e-4
#: With a bound on consecutive visits, the route bound prices over every site up to this many.
EXACT_RUN_SITES = 300
CertificateStatus = Literal["optimal", "gap_bounded", "time_limit"]


def relative_gap(guarantee: float, lower_bound: float) -> float:
    """Return ``(guarantee - lower_bound) / max(|guarantee|, 1e-9)``, never negative."""
    if not np.isfinite(lower_bound):
        return float("inf")
    return max(0.0, guarantee - lower_bound) / max(abs(guarantee), 1e-9)


@dataclass(frozen=True)
class Uncoverable:
    """A site-slot that no unit can visit in time, and why."""

    site: int
    slot: int
    attacker_utility: float
    reason: str


@dataclass(frozen=True, eq=False)
class RouteGame:
    """The patrol game over routes: payoffs, pins and every unit's anchors on the tick grid.

    Built by :func:`route_game_from_arrays`; ``groups`` are classes of units
    with the same mode and anchors (they price the same routes).
    """

    attacker_uncovered: FloatArray
    attacker_covered: FloatArray
    pinned: FloatArray
    tick_time_s: FloatArray
    tick_slot: IntArray
    slot_start_s: FloatArray
    slot_length_s: float
    dwell_s: float
    travel_time_s: Mapping[str, FloatArray]
    units: tuple[PatrolUnit, ...]
    group_members: tuple[tuple[int, ...], ...]
    group_anchors: tuple[tuple[Anchor, ...], ...]
    reachable: BoolArray
    uncoverable: tuple[Uncoverable, ...]
    max_run: int | None = None

    @property
    def deterrence(self) -> FloatArray:
        """``A^u - A^c`` per site-slot."""
        d: FloatArray = self.attacker_uncovered - self.attacker_covered
        return d

    @property
    def coverable(self) -> BoolArray:
        """Site-slots whose coverage a plan can change (reachable, not pinned, D > 0)."""
        ok: BoolArray = self.reachable & (self.pinned < 1.0) & (self.deterrence > 0)
        return ok

    @property
    def fixed_utility(self) -> FloatArray:
        """Attacker's utility per site-slot at zero coverage beyond the pins."""
        u: FloatArray = self.attacker_uncovered - self.deterrence * self.pinned
        return u

    @property
    def floor(self) -> float:
        """Attacker's best utility among site-slots no plan can change (-inf: none)."""
        fixed = ~self.coverable
        return float(self.fixed_utility[fixed].max()) if fixed.any() else -np.inf

    def price(
        self,
        group: int,
        weight: FloatArray,
        *,
        sites: IntArray | None = None,
        for_bound: bool = False,
    ) -> BestRoute:
        """Return the best route of one unit of ``group`` for site-slot ``weight``.

        Without a bound on consecutive visits the sites of positive weight are
        enough (exact: see :mod:`~watchfloor.patrol.routes`). With one, a visit to
        a site of no weight can break a run, so: for a bound (``for_bound``) the
        route is priced over every site when there are at most
        ``EXACT_RUN_SITES``, else without the run limit (an over-estimate: the
        bound stays valid); for a plan, over the weighted sites and each one's
        nearest other site (a feasible route, possibly not the best).
        """
        unit = self.units[self.group_members[group][0]]
        travel = self.travel_time_s[unit.mode]
        max_run = self.max_run
        if max_run is not None:
            n_sites = weight.shape[0]
            positive = np.flatnonzero((weight > 0).any(axis=1))
            if for_bound:
                if n_sites <= EXACT_RUN_SITES:
                    sites = np.arange(n_sites, dtype=np.int64)
                else:
                    max_run = None
            elif positive.size:
                near = travel[np.ix_(positive, np.arange(n_sites))].copy()
                near[np.arange(positive.size), positive] = np.inf
                sites = np.union1d(positive, np.argmin(near, axis=1)).astype(np.int64)
        return best_route(
            weight,
            anchors=self.group_anchors[group],
            travel_time_s=travel,
            tick_time_s=self.tick_time_s,
            tick_slot=self.tick_slot,
            dwell_s=self.dwell_s,
            sites=sites,
            max_run=max_run,
        )


def _why(
    site: int,
    slot: int,
    *,
    units: Sequence[PatrolUnit],
    travel: Mapping[str, FloatArray],
    tick_time_s: FloatArray,
    tick_slot: IntArray,
) -> str:
    arrive = min(float(u.start_s + travel[u.mode][u.start_location, site]) for u in units)
    if not np.isfinite(arrive):
        return "no unit can reach the site at all"
    last = tick_time_s[tick_slot == slot]
    if last.size and arrive > float(last.max()) + 1e-6:
        return (
            f"unreachable in time: the first unit could arrive at {hhmm(arrive)}, after the "
            f"slot's last visit start {hhmm(float(last.max()))}"
        )
    return (
        "no unit can visit in this slot and still be back at base by the end of its shift "
        "(or keep its pins)"
    )


def route_game_from_arrays(
    attacker_uncovered: FloatArray,
    attacker_covered: FloatArray,
    *,
    slot_start_s: FloatArray,
    slot_length_s: float,
    travel_time_s: Mapping[str, FloatArray],
    units: Sequence[PatrolUnit],
    pins: Sequence[Pin] = (),
    tick_s: float = 1800.0,
    dwell_s: float = 600.0,
    site_names: Sequence[str] | None = None,
    max_consecutive_visits: int | None = None,
) -> RouteGame:
    """Return the validated route game of a schedule problem (the same arguments).

    ``max_consecutive_visits`` bounds how many visits in a row (one per slot)
    one unit may make to one site (``None``: no bound).

    Raises
    ------
    InvalidInputError
        Malformed arrays, zero units, a shift shorter than one visit, a bound on
        consecutive visits under 1.
    InfeasibleError
        Pins that cannot all be honoured (the message says which and why).
    """
    if max_consecutive_visits is not None and (
        isinstance(max_consecutive_visits, bool) or int(max_consecutive_visits) < 1
    ):
        msg = (
            f"max_consecutive_visits must be a whole number of at least 1 or None "
            f"(got {max_consecutive_visits!r})"
        )
        raise InvalidInputError(msg)
    problem = prepare_schedule_input(
        attacker_uncovered,
        attacker_covered,
        slot_start_s=slot_start_s,
        slot_length_s=slot_length_s,
        travel_time_s=travel_time_s,
        units=units,
        pins=pins,
        tick_s=tick_s,
        dwell_s=dwell_s,
    )
    a_u, a_c, starts = problem.attacker_uncovered, problem.attacker_covered, problem.slot_start_s
    travel, pinned = problem.travel_time_s, problem.pinned
    ticks, tick_slot = problem.tick_time_s, problem.tick_slot
    n_sites, n_slots = a_u.shape
    groups: dict[tuple[object, ...], list[int]] = {}
    anchors_of: dict[tuple[object, ...], tuple[Anchor, ...]] = {}
    reach = np.zeros((n_sites, n_slots), dtype=bool)
    for k, u in enumerate(units):
        anchors = tuple(unit_anchors(u, pins, travel[u.mode], site_names))
        key: tuple[object, ...] = (u.mode, anchors)
        groups.setdefault(key, []).append(k)
        anchors_of[key] = anchors
    for key, members in groups.items():
        unit = units[members[0]]
        reach |= reachable_site_slots(
            n_sites=n_sites,
            n_slots=n_slots,
            anchors=anchors_of[key],
            travel_time_s=travel[unit.mode],
            tick_time_s=ticks,
            tick_slot=tick_slot,
            dwell_s=float(dwell_s),
        )
    game_units = tuple(units)
    d = a_u - a_c
    lost = np.argwhere(~reach & (pinned < 1.0) & (d > 0))
    uncoverable = tuple(
        Uncoverable(
            site=int(i),
            slot=int(s),
            attacker_utility=float(a_u[i, s]),
            reason=_why(
                int(i),
                int(s),
                units=game_units,
                travel=travel,
                tick_time_s=ticks,
                tick_slot=tick_slot,
            ),
        )
        for i, s in sorted(lost.tolist(), key=lambda ij: -a_u[ij[0], ij[1]])
    )
    return RouteGame(
        attacker_uncovered=a_u,
        attacker_covered=a_c,
        pinned=pinned,
        tick_time_s=ticks,
        tick_slot=tick_slot,
        slot_start_s=starts,
        slot_length_s=float(slot_length_s),
        dwell_s=float(dwell_s),
        travel_time_s=travel,
        units=game_units,
        group_members=tuple(tuple(m) for m in groups.values()),
        group_anchors=tuple(anchors_of[k] for k in groups),
        reachable=reach,
        uncoverable=uncoverable,
        max_run=None if max_consecutive_visits is None else int(max_consecutive_visits),
    )


@dataclass(frozen=True, eq=False)
class Certificate:
    """Return value of :func:`certify`: a proven lower bound and the relaxation behind it.

    Attributes
    ----------
    status : str
        ``"optimal"`` when the relaxation was solved to ``target_gap``,
        ``"time_limit"`` when the time limit stopped it (the bound is still valid).
    lower_bound : float
        No plan can hold the attacker's best response among the *coverable*
        site-slots below this (the level the plan optimises).
    overall_lower_bound : float
        The same over all site-slots: ``max(lower_bound, floor)``.
    floor : float
        Attacker's best utility among site-slots no plan can change (uncoverable,
        pinned or undeterred); ``-inf`` when there are none.
    relaxation : float
        Value of the expected-visit relaxation's master LP when it stopped.
    route_weights : tuple of (group, tuple of (weight, sites, ticks))
        The relaxation's routes per class with their expected number of units.
    routes : tuple of (group, BestRoute)
        Every route the master holds: pass them as ``seed_routes`` to resume.
    n_rounds, n_routes : int
    solve_time_s : float
        CPU seconds.
    """

    status: Literal["optimal", "time_limit"]
    lower_bound: float
    overall_lower_bound: float
    floor: float
    relaxation: float
    route_weights: tuple[tuple[tuple[float, IntArray, IntArray], ...], ...] = field(repr=False)
    n_rounds: int
    n_routes: int
    solve_time_s: float
    routes: tuple[tuple[int, BestRoute], ...] = field(default=(), repr=False)


class _Master:
    """The expected-visit master LP, kept in one HiGHS instance and grown by columns."""

    def __init__(self, game: RouteGame, targets: IntArray) -> None:
        n_w = targets.size
        n_g = len(game.group_members)
        a = game.fixed_utility.ravel()[targets]
        d = game.deterrence.ravel()[targets]
        self.targets = targets
        self.n_w = n_w
        self.n_g = n_g
        self.cell_row = {int(t): k for k, t in enumerate(targets)}
        h = quiet_highs()
        h.setOptionValue("threads", 1)
        h.setOptionValue("solver", "simplex")
        inf = highspy.kHighsInf
        # rows: G (n_w), C (n_w), K (n_g)
        lo = np.concatenate([a, np.zeros(n_w), [float(len(m)) for m in game.group_members]])
        hi = np.concatenate([np.full(2 * n_w, inf), [float(len(m)) for m in game.group_members]])
        h.addRows(lo.size, lo, hi, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
        # z: free, cost 1, in every G row
        h.addCol(1.0, -inf, inf, n_w, np.arange(n_w, dtype=np.int32), np.ones(n_w))
        # c_t: in G row (d_t) and C row (-1)
        for k in range(n_w):
            h.addCol(
                0.0, 0.0, 1.0, 2, np.array([k, n_w + k], dtype=np.int32), np.array([d[k], -1.0])
            )
        self.h = h
        self.columns: list[tuple[int, IntArray, IntArray]] = []

    def add(self, group: int, route: BestRoute, cells: IntArray) -> None:
        rows = sorted({self.cell_row[int(c)] for c in cells if int(c) in self.cell_row})
        idx = np.array([self.n_w + r for r in rows] + [2 * self.n_w + group], dtype=np.int32)
        self.h.addCol(0.0, 0.0, highspy.kHighsInf, idx.size, idx, np.ones(idx.size))
        self.columns.append((group, route.site, route.tick))

    def solve(self, time_limit_s: float) -> tuple[float, FloatArray, FloatArray, FloatArray]:
        """Return (z, y, mu, pi) after re-optimising (``y`` all zero: not solved).

        HiGHS limits wall-clock time; the budget here is CPU time, which a loaded
        machine stretches, so HiGHS gets a generous multiple of it (one re-solve
        of the master takes milliseconds).
        """
        self.h.setOptionValue("time_limit", max(30.0, 10.0 * float(time_limit_s)))
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            zeros = np.zeros(self.n_w)
            return np.inf, zeros, zeros, np.zeros(self.n_g)
        sol = self.h.getSolution()
        dual = np.asarray(sol.row_dual, dtype=np.float64)
        z = float(self.h.getInfo().objective_function_value)
        y = np.maximum(dual[: self.n_w], 0.0)
        mu = np.maximum(dual[self.n_w : 2 * self.n_w], 0.0)
        pi = dual[2 * self.n_w :]
        return z, y, mu, pi

    def lambdas(self) -> FloatArray:
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value, dtype=np.float64)
        return x[1 + self.n_w :]


def _working_targets(game: RouteGame, theta: float) -> IntArray:
    a = game.fixed_utility.ravel()
    ok = game.coverable.ravel() & (a >= theta - 1e-9 * max(1.0, abs(theta)))
    out: IntArray = np.flatnonzero(ok).astype(np.int64)
    return out


#: Wentges smoothing weight of the best-bound duals.
_SMOOTH = 0.7
#: Routes priced per class and round (each on the weights the earlier ones leave).
_ROUTES_PER_ROUND = 3


def _lagrange_round(
    game: RouteGame,
    targets: IntArray,
    *,
    a_w: FloatArray,
    d_w: FloatArray,
    y_n: FloatArray,
    mu_n: FloatArray,
) -> tuple[float, list[tuple[int, BestRoute]]]:
    """Return the Lagrangian bound at ``(y, mu)`` and a few good routes per class."""
    n_sites, n_slots = game.attacker_uncovered.shape
    weight = np.zeros(n_sites * n_slots)
    weight[targets] = mu_n
    w2 = weight.reshape(n_sites, n_slots)
    sites = np.unique(targets[mu_n > 0] // n_slots)
    priced = 0.0
    found: list[tuple[int, BestRoute]] = []
    for g, members in enumerate(game.group_members):
        w = w2.copy()
        for k in range(_ROUTES_PER_ROUND):
            route = game.price(g, w, sites=sites, for_bound=True)
            if k == 0:
                priced += len(members) * route.value
            if route.site.size == 0:
                break
            found.append((g, route))
            w[route.site, game.tick_slot[route.tick]] = 0.0
    return float(y_n @ a_w - (y_n * d_w - mu_n).sum() - priced), found


def travel_free_bound(game: RouteGame) -> float:
    """Return the bound of the travel-free relaxation over coverable site-slots (-inf: none).

    In slot ``s`` each unit makes at most one visit per tick, so at most ``K``
    times the slot's ticks visits; the best coverage of one slot with that many
    visits is found by water-filling (:func:`~watchfloor.patrol.game.minimal_attacker_utility`).
    """
    bound = -np.inf
    n_units = len(game.units)
    cov = game.coverable
    for s in range(game.attacker_uncovered.shape[1]):
        free = cov[:, s]
        if not free.any():
            continue
        ticks_in = int((game.tick_slot == s).sum())
        a = game.fixed_utility[free, s]
        c = a - game.deterrence[free, s]
        u_s, _ = minimal_attacker_utility(c, a, float(max(1, n_units * ticks_in)))
        bound = max(bound, u_s)
    return float(bound)


def _column_generation(
    game: RouteGame,
    master: _Master,
    targets: IntArray,
    *,
    bound: float,
    centre: tuple[FloatArray, FloatArray] | None,
    seeds: list[tuple[int, BestRoute]],
    target_gap: float,
    deadline_s: float,
) -> tuple[
    Literal["optimal", "time_limit"], float, float, tuple[FloatArray, FloatArray] | None, int
]:
    """Return (status, master value, bound, smoothing centre, rounds) of the master's rounds."""
    n_slots = game.attacker_uncovered.shape[1]
    a_w = game.fixed_utility.ravel()[targets]
    d_w = game.deterrence.ravel()[targets]
    z = np.inf
    rounds = 0
    while True:
        rounds += 1
        left = deadline_s - time.process_time()
        if left <= 0:
            return "time_limit", z, bound, centre, rounds
        z, y, mu, pi = master.solve(left)
        total = float(y.sum())
        if total <= 0:
            return "time_limit", z, bound, centre, rounds
        y_n = y / total
        mu_n = np.minimum(mu / total, y_n * d_w)
        # Wentges smoothing: price at a point between the best-bound duals and the
        # master's; fall back to the master's duals when that finds no column.
        if centre is None or centre[0].size != y_n.size:
            centre = (y_n, mu_n)
        points = [
            (
                _SMOOTH * centre[0] + (1 - _SMOOTH) * y_n,
                _SMOOTH * centre[1] + (1 - _SMOOTH) * mu_n,
            ),
            (y_n, mu_n),
        ]
        added = 0
        for y_p, mu_p in points:
            lagrange, found = _lagrange_round(game, targets, a_w=a_w, d_w=d_w, y_n=y_p, mu_n=mu_p)
            if lagrange > bound:
                bound = lagrange
                centre = (y_p, mu_p)
            for g, route in found:
                cells = route.site * n_slots + game.tick_slot[route.tick]
                inside = np.isin(cells, targets)
                reduced = float(mu[np.searchsorted(targets, cells[inside])].sum())
                if reduced + pi[g] > 1e-9 * max(1.0, abs(z)):
                    master.add(g, route, cells)
                    seeds.append((g, route))
                    added += 1
            if added:
                break
        if not added or z - bound <= target_gap * max(abs(z), 1e-9):
            return "optimal", z, bound, centre, rounds


def certify(
    game: RouteGame,
    *,
    target_gap: float = OPTIMAL_GAP,
    time_limit_s: float = 10.0,
    seed_routes: Sequence[tuple[int, BestRoute]] = (),
) -> Certificate:
    """Return a proven lower bound on the best guarantee over coverable site-slots.

    Parameters
    ----------
    game
        The route game (:func:`route_game_from_arrays`).
    target_gap
        Stop when the master's value is within this (relative) of the bound.
    time_limit_s
        CPU seconds; the bound found so far is returned when they run out.
    seed_routes
        ``(group, route)`` pairs to start the master with (a warm start).
    """
    t0 = time.process_time()
    n_slots = game.attacker_uncovered.shape[1]
    floor = game.floor
    coverable = game.coverable
    if not coverable.any():
        return Certificate("optimal", floor, floor, floor, floor, (), 0, 0, 0.0)
    a_all = game.fixed_utility.ravel()
    bound = travel_free_bound(game)
    # Row generation: a master over the targets worth at least theta is a relaxation;
    # when its value falls below theta, lower theta (at most a few times).
    values = np.sort(a_all[coverable.ravel()])[::-1]
    visits = len(game.units) * game.tick_time_s.size
    theta = bound
    if values.size > 2 * visits:
        theta = max(bound, float(values[2 * visits]))
    seeds = list(seed_routes)
    centre: tuple[FloatArray, FloatArray] | None = None
    z = np.inf
    rounds = 0
    status: Literal["optimal", "time_limit"] = "time_limit"
    master: _Master | None = None
    while True:
        targets = _working_targets(game, theta)
        master = _Master(game, targets)
        for g in range(len(game.group_members)):
            master.add(g, BestRoute(0.0, np.zeros(0, np.int64), np.zeros(0, np.int64)), targets[:0])
        for g, route in seeds:
            master.add(g, route, route.site * n_slots + game.tick_slot[route.tick])
        status, z, bound, centre, n = _column_generation(
            game,
            master,
            targets,
            bound=bound,
            centre=centre,
            seeds=seeds,
            target_gap=target_gap,
            deadline_s=t0 + time_limit_s,
        )
        rounds += n
        if status == "optimal" and z < theta - 1e-9 * max(1.0, abs(theta)) and theta > bound:
            theta = max(bound, z)
            status = "time_limit"
            log.info("certificate: master value %.6g below threshold, adding targets", z)
            continue
        break
    lam = master.lambdas()
    by_group: list[list[tuple[float, IntArray, IntArray]]] = [[] for _ in game.group_members]
    for (g, sites_r, ticks_r), w in zip(master.columns, lam, strict=True):
        if w > 1e-9 and sites_r.size:
            by_group[g].append((float(w), sites_r, ticks_r))
    elapsed = time.process_time() - t0
    log.info(
        "certificate %s: bound %.6g (relaxation %.6g, floor %.6g), %d rounds, %d routes, %.2f s",
        status,
        bound,
        z,
        floor,
        rounds,
        len(master.columns),
        elapsed,
    )
    return Certificate(
        status=status,
        lower_bound=float(bound),
        overall_lower_bound=float(max(bound, floor)),
        floor=float(floor),
        relaxation=float(z),
        route_weights=tuple(tuple(r) for r in by_group),
        n_rounds=rounds,
        n_routes=len(master.columns),
        solve_time_s=elapsed,
        routes=tuple(seeds),
    )
