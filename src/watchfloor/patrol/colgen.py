r"""Close the gap: column generation over joint routes, certified by the route bound.

The model
---------
A plan is a distribution over *components*: the schedule LP (its own route
draw, exact coverage with beats) and *joint rotas* (one route per unit, a 0/1
hit vector ``h_k``: a site-slot visited by two units counts once). The master
LP over the components (:func:`~watchfloor.patrol.mixture.mixture_master`)::

    min z   s.t.  z >= A^u_t - D_t sum_k lambda_k h_{kt}   (coverable t),  sum lambda = 1

is exact: a shift draws one component with its weight. New joint rotas come
from two exact oracles over the time-expanded graph
(:func:`~watchfloor.patrol.routes.best_route`):

* *sequential pricing*: units in turn take their best route for the master's
  duals ``y_t D_t`` on the site-slots no earlier unit visits, with a small
  share of the residual risk as a tie-breaker;
* *rounding the relaxation*: the expected-visit relaxation solved by
  :func:`~watchfloor.patrol.certificate.certify` gives, per class of units, a
  distribution over routes; systematic (comb) draws of its routes, ordered so
  that routes through the same site-slot lie together, become joint rotas
  whose units rarely meet.

Every round's duals also give a Lagrangian bound ``sum y A^u - sum_k P_k(y D)``
(see :mod:`~watchfloor.patrol.certificate`); the plan stops when its guarantee
over the coverable site-slots is within ``target_gap`` of the best bound, or
when ``time_limit_s`` CPU seconds are spent. Site-slots no unit can reach in
time are reported on their own and do not flatten the objective: the plan
minimises the best response among the coverable ones (level 1), then among
those not held at level 1 (level 2), and so on (:mod:`~watchfloor.patrol.levels`,
with the sequential oracle pricing each level), and last takes the most risk
away with no component drawn too often, every level kept.

The search starts from today's plan (the schedule LP mixed with greedy joint
rotas) or from a given ``warm_start``, so it is never worse than that plan.

References
----------
Desrosiers & Luebbecke, "A primer in column generation", in Column
Generation, Springer 2005. Jain et al., "A double oracle algorithm for
zero-sum security games on graphs", AAMAS 2011.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.patrol.certificate import (
    OPTIMAL_GAP,
    Certificate,
    CertificateStatus,
    RouteGame,
    certify,
    relative_gap,
    route_game_from_arrays,
)
from watchfloor.patrol.levels import lexicographic_weights, spread_weights
from watchfloor.patrol.mixture import JointRota, PatrolMixture, mix_with_rotas, mixture_master
from watchfloor.patrol.schedule import PatrolSchedule, PatrolUnit, Pin, solve_patrol_schedule
from watchfloor.types import FloatArray, IntArray

__all__ = ["certify_mixture", "solve_patrol_game"]

log = logging.getLogger(__name__)

#: Comb draws from the relaxation per round (golden-ratio offsets: deterministic).
_DRAWS = 24
_GOLDEN = 0.6180339887498949


def _rota_from_routes(
    game: RouteGame, routes: Sequence[tuple[int, IntArray, IntArray]]
) -> JointRota:
    """Return the joint rota of one route per unit: ``(unit index, sites, ticks)``."""
    n_sites, n_slots = game.attacker_uncovered.shape
    hit = np.zeros((n_sites, n_slots), dtype=bool)
    stops: list[tuple[tuple[int, float, int], ...]] = [() for _ in game.units]
    for k, sites, ticks in routes:
        slots = game.tick_slot[ticks]
        hit[sites, slots] = True
        stops[k] = tuple(
            (int(s), float(game.tick_time_s[q]), int(sl))
            for s, q, sl in zip(sites, ticks, slots, strict=True)
        )
    return JointRota(unit_ids=tuple(u.unit_id for u in game.units), stops=tuple(stops), hit=hit)


def _sequential_rota(game: RouteGame, weight: FloatArray) -> JointRota:
    """Return a joint rota: units in turn take their best route on what is left."""
    w = weight.copy()
    routes: list[tuple[int, IntArray, IntArray]] = []
    for g, members in enumerate(game.group_members):
        for k in members:
            r = game.price(g, w)
            if r.site.size == 0:
                continue
            w[r.site, game.tick_slot[r.tick]] = 0.0
            routes.append((k, r.site, r.tick))
    return _rota_from_routes(game, routes)


def _comb_rotas(game: RouteGame, cert: Certificate, n_draws: int, first: int) -> list[JointRota]:
    """Return joint rotas drawn systematically from the relaxation's routes per class."""
    n_slots = game.attacker_uncovered.shape[1]
    ordered: list[tuple[FloatArray, list[tuple[IntArray, IntArray]]]] = []
    for g in range(len(game.group_members)):
        weighted = list(cert.route_weights[g]) if g < len(cert.route_weights) else []
        n_g = len(game.group_members[g])
        keyed = sorted(
            weighted, key=lambda r: tuple(sorted((r[1] * n_slots + game.tick_slot[r[2]]).tolist()))
        )
        w = np.array([r[0] for r in keyed] + [max(0.0, n_g - sum(r[0] for r in keyed))])
        ordered.append((w, [(r[1], r[2]) for r in keyed]))
    out = []
    for m in range(first, first + n_draws):
        routes: list[tuple[int, IntArray, IntArray]] = []
        for g, (w, paths) in enumerate(ordered):
            members = game.group_members[g]
            n_g = len(members)
            u = ((m + 0.5) * _GOLDEN + g * 0.37) % 1.0
            ends = np.cumsum(w)
            teeth = (u + np.arange(n_g)) * (ends[-1] / n_g)
            picks = np.minimum(np.searchsorted(ends, teeth, side="right"), w.size - 1)
            for k, p in zip(members, picks, strict=True):
                if p < len(paths):
                    routes.append((k, paths[int(p)][0], paths[int(p)][1]))
        out.append(_rota_from_routes(game, routes))
    return out


def _lagrange_bound(game: RouteGame, y: FloatArray, targets: IntArray) -> float:
    """Return ``sum y A - sum_k P_k(y D)`` for an attacker mix ``y`` on ``targets``."""
    n_sites, n_slots = game.attacker_uncovered.shape
    total = float(y.sum())
    if total <= 0:
        return -np.inf
    y_n = y / total
    d = game.deterrence.ravel()[targets]
    weight = np.zeros(n_sites * n_slots)
    weight[targets] = y_n * d
    w2 = weight.reshape(n_sites, n_slots)
    priced = sum(
        len(members) * game.price(g, w2, for_bound=True).value
        for g, members in enumerate(game.group_members)
    )
    return float(y_n @ game.fixed_utility.ravel()[targets] - priced)


def _finish(
    game: RouteGame,
    base: PatrolMixture,
    *,
    lam: FloatArray,
    rotas: Sequence[JointRota],
    columns: Sequence[FloatArray],
    bound: float,
    cert: Certificate | None,
    status: CertificateStatus,
    calls: int,
    elapsed_s: float,
    levels: tuple[float, ...] = (),
    target_gap: float = float("inf"),
) -> PatrolMixture:
    """Return the mixture of ``columns`` weighted by ``lam``, with its certificate.

    ``status`` stays ``"time_limit"`` only when the final gap is above ``target_gap``.
    """
    a_u = game.attacker_uncovered
    d = game.deterrence
    lam = np.asarray(lam, dtype=np.float64).copy()
    if lam.size > 1 and lam[0] > 0 and not columns[0].any():
        # an empty component (the LP left out): its weight goes to the most drawn rota,
        # whose coverage is no smaller, so no site-slot gets worse
        k = 1 + int(np.argmax(lam[1:]))
        lam[k] += lam[0]
        lam[0] = 0.0
    cov = np.clip((np.column_stack(columns) @ lam).reshape(a_u.shape), 0.0, 1.0)
    ua = a_u - d * cov
    best = int(np.argmax(ua))
    site_b, slot_b = divmod(best, a_u.shape[1])
    cover_ok = game.coverable
    z1 = float(ua[cover_ok].max()) if cover_ok.any() else float(game.floor)
    gap = relative_gap(z1, bound) if cover_ok.any() else 0.0
    if status != "time_limit" or gap <= target_gap:
        status = "optimal" if gap < OPTIMAL_GAP else "gap_bounded"
    keep = np.flatnonzero(lam[1:] > 1e-9)
    schedule = replace(
        base.lp_schedule,
        coverage=cov,
        guarantee=float(ua.max()),
        attacker_site=int(site_b),
        attacker_slot=int(slot_b),
        status=status,
        lower_bound=float(bound),
        gap=float(gap),
    )
    return PatrolMixture(
        status=status,
        schedule=schedule,
        lp_schedule=base.lp_schedule,
        lp_weight=float(lam[0]),
        rotas=tuple(rotas[int(k)] for k in keep),
        rota_weight=lam[1:][keep],
        guarantee=float(ua.max()),
        lp_guarantee=base.lp_guarantee,
        greedy_guarantee=base.greedy_guarantee,
        n_oracle_calls=calls,
        solve_time_s=elapsed_s,
        lower_bound=float(bound),
        gap=float(gap),
        coverable_guarantee=z1,
        uncoverable=game.uncoverable,
        certificate=cert,
        level_guarantees=levels,
    )


@dataclass
class _Search:
    """What the column search carries between its phases."""

    draws: int
    calls: int
    bound: float = float("-inf")


def _search(
    game: RouteGame,
    targets: IntArray,
    *,
    rotas: list[JointRota],
    columns: list[FloatArray],
    cert: Certificate,
    state: _Search,
    bound: float,
    target_gap: float,
    deadline_s: float,
) -> CertificateStatus:
    """Return how the search for joint rotas stopped; ``rotas`` and ``columns`` grow in place.

    ``"gap_bounded"``: within ``target_gap`` of the bound (or no new rota);
    ``"time_limit"``: ``deadline_s`` (CPU) reached. ``state.bound`` keeps the
    best Lagrangian bound of the master's duals.
    """
    a_u = game.attacker_uncovered
    a_w = a_u.ravel()[targets]
    d_w = game.deterrence.ravel()[targets]
    bound = max(bound, state.bound)
    while True:
        lam, z, y = mixture_master(a_w, d_w, [c[targets] for c in columns])
        if relative_gap(z, bound) <= target_gap:
            return "gap_bounded"
        if time.process_time() >= deadline_s:
            return "time_limit"
        bound = max(bound, _lagrange_bound(game, y, targets))
        state.bound = max(state.bound, bound)
        if relative_gap(z, bound) <= target_gap:
            return "gap_bounded"
        cov = np.column_stack(columns) @ lam
        residual = np.zeros(a_u.size)
        residual[targets] = np.maximum(a_w - d_w * cov[targets] - bound, 0.0) * d_w
        scale = float(residual.max()) or 1.0
        weight = np.zeros(a_u.size)
        weight[targets] = y * d_w
        # the residual breaks ties among the best few site-slots only (a small DP)
        top = np.argsort(-residual)[: 4 * len(game.units) * game.tick_time_s.size]
        tie = np.zeros(a_u.size)
        tie[top] = residual[top] / scale * 1e-3 * float(weight.max() or 1.0)
        new = [_sequential_rota(game, (weight + tie).reshape(a_u.shape))]
        state.calls += len(game.units)
        n_draws = _DRAWS if state.draws == 0 else 4
        new += _comb_rotas(game, cert, n_draws, state.draws)
        state.draws += n_draws
        added = 0
        for rota in new:
            if any(np.array_equal(rota.hit, r.hit) for r in rotas):
                continue
            rotas.append(rota)
            columns.append(rota.hit.ravel().astype(np.float64))
            added += 1
        if not added:
            return "gap_bounded"


def _improve(
    game: RouteGame,
    base: PatrolMixture,
    *,
    target_gap: float,
    time_limit_s: float,
    max_weight: float,
    certificate_share: float,
    n_levels: int,
) -> PatrolMixture:
    """Return ``base`` improved by column generation and certified (CPU-time budget)."""
    t0 = time.process_time()
    cover = game.coverable.ravel()
    targets = np.flatnonzero(cover).astype(np.int64)
    rotas: list[JointRota] = list(base.rotas)
    columns: list[FloatArray] = [base.lp_schedule.coverage.ravel()]
    columns += [r.hit.ravel().astype(np.float64) for r in rotas]
    cert = None
    bound = -np.inf
    calls = 0
    status: CertificateStatus = "gap_bounded"
    if targets.size:
        # The bound first with its share of the budget, then the search with the rest.
        cert = certify(
            game,
            target_gap=target_gap / 4.0,
            time_limit_s=max(0.0, certificate_share * time_limit_s),
        )
        bound = cert.lower_bound
        search = _Search(draws=0, calls=0)
        status = _search(
            game,
            targets,
            rotas=rotas,
            columns=columns,
            cert=cert,
            state=search,
            bound=bound,
            target_gap=target_gap,
            deadline_s=t0 + time_limit_s,
        )
        bound = max(bound, search.bound)
        calls = search.calls
    lam = np.zeros(len(columns))
    lam[0] = 1.0
    levels: tuple[float, ...] = ()
    if targets.size:
        lam, levels = _lexicographic(
            game,
            targets,
            rotas,
            columns,
            n_levels=n_levels,
            max_weight=max_weight,
            deadline_s=t0 + time_limit_s,
        )
    return _finish(
        game,
        base,
        lam=lam,
        rotas=rotas,
        columns=columns,
        bound=bound,
        cert=cert,
        status=status,
        calls=calls,
        elapsed_s=time.process_time() - t0,
        levels=levels,
        target_gap=target_gap,
    )


def _lexicographic(
    game: RouteGame,
    targets: IntArray,
    rotas: list[JointRota],
    columns: list[FloatArray],
    *,
    n_levels: int,
    max_weight: float,
    deadline_s: float,
) -> tuple[FloatArray, tuple[float, ...]]:
    """Return weights over ``columns`` (grown in place with ``rotas``) and the levels."""
    shape = game.attacker_uncovered.shape
    a_w = game.attacker_uncovered.ravel()[targets]
    d_w = game.deterrence.ravel()[targets]

    def price(weight: FloatArray) -> FloatArray | None:
        full = np.zeros(shape[0] * shape[1])
        full[targets] = weight
        rota = _sequential_rota(game, full.reshape(shape))
        if any(np.array_equal(rota.hit, r.hit) for r in rotas):
            return None
        rotas.append(rota)
        columns.append(rota.hit.ravel().astype(np.float64))
        out: FloatArray = columns[-1][targets]
        return out

    plan = lexicographic_weights(
        a_w,
        d_w,
        np.column_stack([c[targets] for c in columns]),
        n_levels=n_levels,
        price=price,
        deadline_s=deadline_s,
    )
    lam = plan.weights
    caps = np.where(np.isfinite(plan.caps), plan.caps, plan.levels[-1] + 1e-9)
    for cap in (max_weight, 0.5, 1.0):
        spread = spread_weights(a_w, d_w, plan.columns, caps, cap=cap)
        if spread is not None:
            lam = spread
            break
    return lam, plan.levels


def certify_mixture(
    mixture: PatrolMixture,
    game: RouteGame,
    *,
    time_limit_s: float = 10.0,
) -> PatrolMixture:
    """Return ``mixture`` (unchanged coverage) with its proven bound, gap and status.

    ``status`` becomes ``"optimal"`` only when the gap is under 1e-4, else
    ``"gap_bounded"`` (``"time_limit"`` when the bound's search ran out of time).
    """
    t0 = time.process_time()
    cert = certify(game, time_limit_s=time_limit_s)
    columns = [mixture.lp_schedule.coverage.ravel()] + [
        r.hit.ravel().astype(np.float64) for r in mixture.rotas
    ]
    lam = np.concatenate([[mixture.lp_weight], mixture.rota_weight])
    return _finish(
        game,
        mixture,
        lam=lam,
        rotas=mixture.rotas,
        columns=columns,
        bound=cert.lower_bound,
        cert=cert,
        status="time_limit" if cert.status == "time_limit" else "gap_bounded",
        calls=mixture.n_oracle_calls,
        elapsed_s=mixture.solve_time_s + time.process_time() - t0,
    )


def solve_patrol_game(
    attacker_uncovered: npt.ArrayLike,
    attacker_covered: npt.ArrayLike,
    *,
    slot_start_s: npt.ArrayLike,
    slot_length_s: float,
    travel_time_s: Mapping[str, FloatArray],
    units: Sequence[PatrolUnit],
    pins: Sequence[Pin] = (),
    tick_s: float = 1800.0,
    dwell_s: float = 600.0,
    target_gap: float = 0.01,
    time_limit_s: float = 10.0,
    warm_start: PatrolMixture | PatrolSchedule | None = None,
    max_weight: float = 0.25,
    n_levels: int = 4,
    max_consecutive_visits: int | None = None,
    site_names: Sequence[str] | None = None,
) -> PatrolMixture:
    """Return a certified patrol plan: a mixture within ``target_gap`` of the best possible.

    Parameters
    ----------
    attacker_uncovered, attacker_covered, slot_start_s, slot_length_s, travel_time_s, units, pins,
    tick_s, dwell_s, site_names
        As for :func:`~watchfloor.patrol.schedule.solve_patrol_schedule`. A unit's
        ``start_location`` and ``start_s`` say where and when it is free: for a
        handover, where the previous shift left it
        (:func:`~watchfloor.patrol.handover.units_at_handover`).
    target_gap
        Stop when the guarantee over coverable site-slots is within this
        (relative) of the proven bound.
    time_limit_s
        CPU seconds for the whole solve (the schedule LP, the warm start, the
        bound and the search); the plan found by then is returned with
        ``status="time_limit"`` and its gap.
    warm_start
        Today's plan to start from (a mixture, or a schedule LP to mix);
        solved here when ``None``.
    max_weight
        No component drawn with a larger probability when the levels allow it.
    n_levels
        Lexicographic levels to optimise (:mod:`~watchfloor.patrol.levels`):
        the best response among coverable site-slots, then among those not
        held at it, ...
    max_consecutive_visits
        At most this many visits in a row by one unit to one site (one per
        slot); ``None``: as the game's value wants. With a bound the schedule
        LP's component and any warm-start rota that breaks it are not drawn; the
        price in guarantee is the difference with a solve without the bound.

    Returns
    -------
    PatrolMixture
        With ``lower_bound``, ``gap``, ``coverable_guarantee``, ``uncoverable``
        and ``status`` (``"optimal"`` only when the gap is under 1e-4, else
        ``"gap_bounded"``, or ``"time_limit"``); ``schedule`` carries the same.
        With pins the plan is the schedule LP alone (rotas do not keep pins),
        certified.

    Raises
    ------
    InvalidInputError
        Malformed arrays, zero units, a shift shorter than one visit, a
        non-positive time limit or target gap.
    InfeasibleError
        Pins that cannot all be honoured; no plan found within the time limit.
    """
    t0 = time.process_time()
    if not time_limit_s > 0:
        msg = f"time_limit_s must be positive (got {time_limit_s}); give the solver some time"
        raise InvalidInputError(msg)
    if not target_gap >= 0:
        msg = f"target_gap must be >= 0 (got {target_gap})"
        raise InvalidInputError(msg)
    a_u = np.asarray(attacker_uncovered, dtype=np.float64)
    a_c = np.asarray(attacker_covered, dtype=np.float64)
    starts = np.asarray(slot_start_s, dtype=np.float64).reshape(-1)
    game = route_game_from_arrays(
        a_u,
        a_c,
        slot_start_s=starts,
        slot_length_s=slot_length_s,
        travel_time_s=travel_time_s,
        units=units,
        pins=pins,
        tick_s=tick_s,
        dwell_s=dwell_s,
        site_names=site_names,
        max_consecutive_visits=max_consecutive_visits,
    )
    schedule: PatrolSchedule
    if isinstance(warm_start, PatrolMixture):
        base = warm_start
    else:
        if warm_start is None:
            schedule = solve_patrol_schedule(
                a_u,
                a_c,
                slot_start_s=starts,
                slot_length_s=slot_length_s,
                travel_time_s=travel_time_s,
                units=units,
                pins=pins,
                tick_s=tick_s,
                dwell_s=dwell_s,
                time_limit_s=max(0.1, 0.5 * time_limit_s),
                site_names=site_names,
            )
        else:
            schedule = warm_start
        if pins:
            base = _lp_only(schedule, a_u, a_c)
        else:
            left = time_limit_s - (time.process_time() - t0)
            base = mix_with_rotas(
                schedule,
                a_u,
                a_c,
                units=units,
                travel_time_s=travel_time_s,
                time_limit_s=max(0.05, 0.2 * left),
                max_weight=max_weight,
            )
    left = time_limit_s - (time.process_time() - t0)
    if pins:
        return certify_mixture(base, game, time_limit_s=max(0.05, left))
    if game.max_run is not None:
        base = _within_runs(base, game.max_run)
    plan = _improve(
        game,
        base,
        target_gap=target_gap,
        time_limit_s=max(0.05, left),
        max_weight=max_weight,
        certificate_share=0.5,
        n_levels=n_levels,
    )
    if not np.isfinite(plan.guarantee):
        msg = f"no patrol plan found in {time_limit_s:.1f} s; raise time_limit_s"
        raise InfeasibleError(msg)
    plan = replace(plan, solve_time_s=time.process_time() - t0)
    log.info(
        "patrol game %s: guarantee %.6g over coverable site-slots (bound %.6g, gap %.3g %%), "
        "%d uncoverable, %d rotas, %.2f s CPU",
        plan.status,
        plan.coverable_guarantee,
        plan.lower_bound,
        100.0 * plan.gap,
        len(plan.uncoverable),
        len(plan.rotas),
        plan.solve_time_s,
    )
    return plan


def _runs_ok(rota: JointRota, max_run: int) -> bool:
    """Return whether no unit of ``rota`` visits one site more than ``max_run`` times in a row."""
    for stops in rota.stops:
        run = 0
        last = -1
        for site, _, _ in stops:
            run = run + 1 if site == last else 1
            last = site
            if run > max_run:
                return False
    return True


def _within_runs(base: PatrolMixture, max_run: int) -> PatrolMixture:
    """Return ``base`` without the components that break the bound on consecutive visits.

    The schedule LP's own routes may stay at a site: its component keeps a zero
    column and is never drawn (see :func:`_finish`).
    """
    keep = [k for k, r in enumerate(base.rotas) if _runs_ok(r, max_run)]
    return replace(
        base,
        lp_schedule=replace(base.lp_schedule, coverage=np.zeros_like(base.lp_schedule.coverage)),
        lp_weight=0.0,
        rotas=tuple(base.rotas[k] for k in keep),
        rota_weight=base.rota_weight[keep],
    )


def _lp_only(schedule: PatrolSchedule, a_u: FloatArray, a_c: FloatArray) -> PatrolMixture:
    """Return the schedule LP alone as a mixture (weight 1)."""
    u = float((a_u - (a_u - a_c) * schedule.coverage).max())
    return PatrolMixture(
        status="optimal",
        schedule=schedule,
        lp_schedule=schedule,
        lp_weight=1.0,
        rotas=(),
        rota_weight=np.zeros(0),
        guarantee=u,
        lp_guarantee=u,
        greedy_guarantee=float("nan"),
        n_oracle_calls=0,
        solve_time_s=schedule.solve_time_s,
    )
