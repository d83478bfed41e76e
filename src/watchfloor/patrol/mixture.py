r"""A mixed patrol plan over joint rotas and the schedule LP, with exact coverage.

The schedule LP (:func:`watchfloor.patrol.schedule.solve_patrol_schedule`)
with beats is exact but rigid: each site belongs to one unit, and units
whose beat holds nothing above the LP's threshold stay at base. This module
widens the defender's strategy space while keeping the coverage exact.

A *joint rota* is one pure strategy of all units together: a route per unit
on the tick grid, built by a greedy router that sends each unit, in turn,
to the reachable site-slot of highest weight not yet visited by any unit in
that slot, leaving time to be back at base by the end of the shift. Inside a
rota a site-slot is visited at most once, so its hit vector ``h_k`` is 0/1.

The defender mixes the schedule LP (coverage ``c_0``) and the rotas with
weights ``lambda``; each shift draws *one* component (one joint rota, or the
LP's own route draw). The coverage ``c = lambda_0 c_0 + sum_k lambda_k h_k``
is then exactly the visit probability of every site-slot. The weights solve
the master LP (HiGHS)::

    min z   s.t.  z >= A^u_t - D_t c_t  for every site-slot t,  sum lambda = 1,  lambda >= 0

and new rotas come from a double oracle: the master's duals ``y_t`` (the
attacker's equilibrium mix) weight the greedy router, with the attacker's
residual utility as a small tie-breaker so idle time is filled with the
next-best visits. The first rota is plain "highest risk first", so the
mixture is never worse than that rota, nor than the LP alone.

References
----------
McMahan, Gordon, Blum, "Planning in the presence of cost functions
controlled by an adversary", ICML 2003 (double oracle).
Jain, Korzhyk, Vanek, Conitzer, Pechoucek, Tambe, "A double oracle algorithm
for zero-sum security games on graphs", AAMAS 2011.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

from watchfloor.errors import InvalidInputError
from watchfloor.patrol.certificate import Certificate, Uncoverable
from watchfloor.patrol.schedule import PatrolSchedule, PatrolUnit
from watchfloor.types import FloatArray, IntArray

__all__ = ["JointRota", "PatrolMixture", "greedy_rota", "mix_with_rotas"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class JointRota:
    """One pure strategy of all units: per unit, the visits ``(site, start_s, slot)`` in order."""

    unit_ids: tuple[str, ...]
    stops: tuple[tuple[tuple[int, float, int], ...], ...]
    hit: npt.NDArray[np.bool_]

    @property
    def n_visits(self) -> int:
        """Number of visits of all units."""
        return sum(len(s) for s in self.stops)


@dataclass(frozen=True, eq=False)
class PatrolMixture:
    """Return value of :func:`mix_with_rotas`.

    Attributes
    ----------
    status : str
        ``"optimal"`` when the oracle found no improving rota, else ``"iteration_limit"``.
    schedule : PatrolSchedule
        The LP component, with ``coverage``, ``guarantee`` and the attacker's
        best response replaced by the mixture's.
    lp_schedule : PatrolSchedule
        The LP component as solved.
    lp_weight : float
        Probability of drawing the LP component.
    rotas : tuple of JointRota
    rota_weight : float64[k]
        Probability of each rota (with ``lp_weight``, sums to 1).
    guarantee : float
        Attacker's best-response utility against the mixture's coverage.
    lp_guarantee, greedy_guarantee : float
        The same against the LP alone and against the first (greedy) rota alone.
    n_oracle_calls : int
    solve_time_s : float
    lower_bound : float
        Proven lower bound on the best guarantee among *coverable* site-slots
        (``-inf``: not certified; see :mod:`watchfloor.patrol.certificate`).
    gap : float
        ``(coverable_guarantee - lower_bound) / |coverable_guarantee|`` (``inf``: not certified).
    coverable_guarantee : float
        Attacker's best response among coverable site-slots (``nan``: not certified).
    uncoverable : tuple of Uncoverable
        Site-slots no unit can visit in time, with why, most valuable first.
    certificate : Certificate or None
        The relaxation behind ``lower_bound``.
    level_guarantees : tuple of float
        Lexicographic levels among coverable site-slots: the best response, then
        the best among the site-slots not held at it, ... (empty: not computed).
    """

    status: str
    schedule: PatrolSchedule
    lp_schedule: PatrolSchedule
    lp_weight: float
    rotas: tuple[JointRota, ...]
    rota_weight: FloatArray
    guarantee: float
    lp_guarantee: float
    greedy_guarantee: float
    n_oracle_calls: int
    solve_time_s: float
    lower_bound: float = float("-inf")
    gap: float = float("inf")
    coverable_guarantee: float = float("nan")
    uncoverable: tuple[Uncoverable, ...] = ()
    certificate: Certificate | None = field(default=None, repr=False)
    level_guarantees: tuple[float, ...] = ()

    @property
    def coverage(self) -> FloatArray:
        """Visit probability per site-slot under the mixture."""
        cov: FloatArray = self.schedule.coverage
        return cov


def greedy_rota(
    weight: FloatArray,
    *,
    units: Sequence[PatrolUnit],
    travel_time_s: Mapping[str, FloatArray],
    tick_time_s: FloatArray,
    slot_start_s: FloatArray,
    slot_length_s: float,
    dwell_s: float,
    blocked: npt.NDArray[np.bool_] | None = None,
) -> JointRota:
    """Return the joint rota of the greedy router for site-slot weights ``weight``.

    Units move in turn (the one free earliest first); each goes to the
    reachable site-slot of largest positive weight not yet visited in that
    slot by any unit, at the first tick it can reach, and only if it can still
    be back at its end base by the end of its shift. A unit with no such
    site-slot goes home.

    Parameters
    ----------
    weight : float[n_sites, n_slots]
        Value of a visit per site-slot (<= 0: never worth a visit).
    blocked : bool[n_sites, n_slots], optional
        Site-slots no unit may visit.
    """
    n_sites, n_slots = weight.shape
    slot_end = slot_start_s + slot_length_s
    tick_slot = np.searchsorted(slot_start_s, tick_time_s, side="right") - 1
    tick_ok = (tick_slot >= 0) & (tick_time_s + dwell_s <= slot_end[np.maximum(tick_slot, 0)])
    hit = np.zeros((n_sites, n_slots), dtype=bool) if blocked is None else blocked
    taken = np.zeros((n_sites, n_slots), dtype=bool)
    here = np.array([u.start_location for u in units], dtype=np.int64)
    free = np.array([u.start_s for u in units], dtype=np.float64)
    active = np.ones(len(units), dtype=bool)
    stops: list[list[tuple[int, float, int]]] = [[] for _ in units]
    site_idx = np.arange(n_sites)
    while active.any():
        k = int(np.flatnonzero(active)[np.argmin(free[active])])
        unit = units[k]
        travel = travel_time_s[unit.mode]
        arrive = free[k] + travel[here[k], :n_sites]
        q = np.searchsorted(tick_time_s, arrive - 1e-6, side="left")
        # the first usable tick at or after arrival (a tick whose visit ends in its slot)
        ok = q < tick_time_s.size
        qq = np.minimum(q, tick_time_s.size - 1)
        ok &= tick_ok[qq]
        start = np.where(ok, tick_time_s[qq], np.inf)
        ok &= start + dwell_s + travel[:n_sites, unit.end_location] <= unit.end_s + 1e-6
        ok &= np.isfinite(arrive)
        slot = np.where(ok, tick_slot[qq], 0)
        w = np.where(ok, weight[site_idx, slot], -np.inf)
        w = np.where(hit[site_idx, slot] | taken[site_idx, slot], -np.inf, w)
        j = int(np.argmax(w))
        if not np.isfinite(w[j]) or w[j] <= 0:
            # nothing worth a visit at the first reachable ticks: wait for the earliest
            # later tick at which some site-slot is worth one
            later = _after_waiting(
                weight,
                hit | taken,
                arrive=arrive,
                back_s=travel[:n_sites, unit.end_location],
                end_s=unit.end_s,
                tick_time_s=tick_time_s,
                tick_slot=tick_slot,
                tick_ok=tick_ok,
                dwell_s=dwell_s,
            )
            if later is None:
                active[k] = False
                continue
            j, t_j, s_j = later
        else:
            t_j, s_j = float(start[j]), int(slot[j])
        taken[j, s_j] = True
        stops[k].append((j, t_j, s_j))
        here[k], free[k] = j, t_j + dwell_s
    return JointRota(
        unit_ids=tuple(u.unit_id for u in units),
        stops=tuple(tuple(s) for s in stops),
        hit=taken,
    )


def _after_waiting(
    weight: FloatArray,
    done: npt.NDArray[np.bool_],
    *,
    arrive: FloatArray,
    back_s: FloatArray,
    end_s: float,
    tick_time_s: FloatArray,
    tick_slot: IntArray,
    tick_ok: npt.NDArray[np.bool_],
    dwell_s: float,
) -> tuple[int, float, int] | None:
    """Return (site, start, slot) at the earliest tick with a site-slot worth a visit, or None."""
    slots = np.maximum(tick_slot, 0)
    ok = (
        (tick_time_s[None, :] >= arrive[:, None] - 1e-6)
        & tick_ok[None, :]
        & (tick_time_s[None, :] + dwell_s + back_s[:, None] <= end_s + 1e-6)
    )
    w = np.where(ok & ~done[:, slots], weight[:, slots], -np.inf)  # [n_sites, n_ticks]
    good = (w > 0).any(axis=0)
    if not good.any():
        return None
    p = int(np.argmax(good))
    i = int(np.argmax(w[:, p]))
    return i, float(tick_time_s[p]), int(slots[p])


def mixture_master(
    a_u: FloatArray, d: FloatArray, columns: list[FloatArray]
) -> tuple[FloatArray, float, FloatArray]:
    """Return (weights, z, attacker mix y) of the master LP over exact coverage columns.

    ``min z`` s.t. ``z >= a_u[t] - d[t] sum_k lambda_k columns[k][t]``,
    ``sum lambda = 1``, ``lambda >= 0``; ``y`` are the duals of the first rows.
    """
    n_t = a_u.size
    n_k = len(columns)
    cov = np.column_stack(columns)  # [n_t, n_k]
    # variables: lambda_k, z ; rows: -z - D_t sum_k lambda_k cov_tk <= -A^u_t
    a_ub = np.hstack([-(d[:, None] * cov), -np.ones((n_t, 1))])
    b_ub = -a_u
    a_eq = np.hstack([np.ones((1, n_k)), np.zeros((1, 1))])
    cost = np.zeros(n_k + 1)
    cost[-1] = 1.0
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=[1.0],
        bounds=[(0, None)] * n_k + [(None, None)],
        method="highs",
    )
    if res.status != 0:
        msg = f"the mixture LP failed: {res.message}"
        raise InvalidInputError(msg)
    lam = np.maximum(np.asarray(res.x[:n_k], dtype=np.float64), 0.0)
    lam /= lam.sum()
    y = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
    return lam, float(res.x[-1]), y


def second_stage_weights(
    a_u: FloatArray, d: FloatArray, columns: list[FloatArray], *, z_star: float, cap: float
) -> FloatArray | None:
    """Return weights maximising the total risk taken away with guarantee <= z_star (None: none).

    No weight exceeds ``cap``; ``None`` when that is infeasible.
    """
    cov = np.column_stack(columns)
    n_k = cov.shape[1]
    slack = 1e-9 * max(1.0, abs(z_star))
    res = linprog(
        -(d @ cov),
        A_ub=-(d[:, None] * cov),
        b_ub=z_star + slack - a_u,
        A_eq=np.ones((1, n_k)),
        b_eq=[1.0],
        bounds=[(0, cap)] * n_k,
        method="highs",
    )
    if res.status != 0:
        return None
    lam = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0)
    out: FloatArray = lam / lam.sum()
    return out


def mix_with_rotas(
    schedule: PatrolSchedule,
    attacker_uncovered: npt.ArrayLike,
    attacker_covered: npt.ArrayLike,
    *,
    units: Sequence[PatrolUnit],
    travel_time_s: Mapping[str, FloatArray],
    max_rotas: int = 80,
    time_limit_s: float = 10.0,
    tolerance: float = 1e-6,
    max_weight: float = 0.25,
) -> PatrolMixture:
    """Return the best mixture of the schedule LP and greedy joint rotas (double oracle).

    Parameters
    ----------
    schedule
        A solved schedule without pins (its coverage is exact: beats).
    attacker_uncovered, attacker_covered : float[n_sites, n_slots]
        The payoffs the schedule was solved for.
    units, travel_time_s
        As given to the schedule solver.
    max_rotas
        Oracle calls at most.
    time_limit_s
        Stop adding rotas after this long (a safety net: the plan is reproducible
        only when ``max_rotas`` ends the search first).
    tolerance
        Stop when a new rota improves the guarantee by less than this (relative).
    max_weight
        Second stage: no component is drawn with a larger probability when the
        guarantee allows it.

    Raises
    ------
    InvalidInputError
        When the schedule has pins (a rota does not keep them) or shapes differ.
    """
    t0 = time.perf_counter()
    if schedule.pins:
        msg = "joint rotas do not keep operator pins; use the schedule alone"
        raise InvalidInputError(msg)
    a_u = np.asarray(attacker_uncovered, dtype=np.float64)
    a_c = np.asarray(attacker_covered, dtype=np.float64)
    if a_u.shape != schedule.coverage.shape or a_c.shape != a_u.shape:
        msg = "payoffs must have the schedule's shape [n_sites, n_slots]"
        raise InvalidInputError(msg)
    d = a_u - a_c
    kw = {
        "units": units,
        "travel_time_s": travel_time_s,
        "tick_time_s": schedule.tick_time_s,
        "slot_start_s": schedule.slot_start_s,
        "slot_length_s": schedule.slot_length_s,
        "dwell_s": schedule.dwell_s,
    }
    lp_cov = schedule.coverage
    columns = [lp_cov.ravel()]
    # The first rota: plain highest risk first.
    rotas = [greedy_rota(a_u, **kw)]  # type: ignore[arg-type]
    columns.append(rotas[0].hit.ravel().astype(np.float64))
    greedy_u = float((a_u - d * rotas[0].hit).max())
    lp_u = float((a_u - d * lp_cov).max())
    lam, z, y = mixture_master(a_u.ravel(), d.ravel(), columns)
    status = "iteration_limit"
    calls = 1
    rng = np.random.default_rng(0)  # exploration of the oracle: seeded, reproducible
    while calls < max_rotas and time.perf_counter() - t0 < time_limit_s:
        cov = (np.column_stack(columns) @ lam).reshape(a_u.shape)
        residual = np.maximum(a_u - d * cov, 0.0)
        scale = float(residual.max()) or 1.0
        price = y.reshape(a_u.shape) * d
        # candidate rotas: the attacker's mix (residual utility breaks ties and fills
        # idle time), the residual utility itself, site-slots the rotas so far rarely
        # visit, and a noisy version; every new one joins the master LP.
        seen = np.sum([r.hit for r in rotas], axis=0)
        weights = [
            price + 1e-3 * residual / scale * float(d.max()),
            # site-slots the rotas so far rarely visit: ties at the top are spread
            (price + 1e-3 * residual / scale * float(d.max())) / (1.0 + seen),
            residual * d / (1.0 + seen),
            residual * d,
            (residual / scale) ** 4 * d,
            (price + 0.05 * residual / scale * float(d.max())) * rng.uniform(0.7, 1.3, d.shape),
        ]
        added = 0
        for w in weights:
            cand = greedy_rota(w, **kw)  # type: ignore[arg-type]
            calls += 1
            if any(np.array_equal(cand.hit, r.hit) for r in rotas):
                continue
            rotas.append(cand)
            columns.append(cand.hit.ravel().astype(np.float64))
            added += 1
        if not added:
            status = "optimal"
            break
        lam, z_new, y = mixture_master(a_u.ravel(), d.ravel(), columns)
        improved = z - z_new
        z = z_new
        if improved < tolerance * max(1.0, abs(z)) and calls > max_rotas // 2:
            status = "optimal"
            break
    # Second stage (lexicographic): keep the guarantee, then take the most risk
    # away overall (fills idle time) with no component above ``max_weight`` when
    # that is possible (spreads the draw over several rotas: less predictable).
    for cap in (max_weight, 0.5, 1.0):
        second = second_stage_weights(a_u.ravel(), d.ravel(), columns, z_star=z, cap=cap)
        if second is not None:
            lam = second
            break
    cov = (np.column_stack(columns) @ lam).reshape(a_u.shape)
    cov = np.clip(cov, 0.0, 1.0)
    ua = a_u - d * cov
    best = int(np.argmax(ua))
    site_b, slot_b = divmod(best, a_u.shape[1])
    # drop rotas that are never drawn
    keep = np.flatnonzero(lam[1:] > 1e-9)
    mixed = _replace_schedule(schedule, cov, float(ua.max()), site_b, slot_b)
    elapsed = time.perf_counter() - t0
    log.info(
        "patrol mixture: guarantee %.4g (LP alone %.4g, greedy rota %.4g), LP weight %.3f, "
        "%d of %d rotas drawn, %.2f s",
        float(ua.max()),
        lp_u,
        greedy_u,
        float(lam[0]),
        keep.size,
        len(rotas),
        elapsed,
    )
    return PatrolMixture(
        status=status,
        schedule=mixed,
        lp_schedule=schedule,
        lp_weight=float(lam[0]),
        rotas=tuple(rotas[int(k)] for k in keep),
        rota_weight=lam[1:][keep],
        guarantee=float(ua.max()),
        lp_guarantee=lp_u,
        greedy_guarantee=greedy_u,
        n_oracle_calls=calls,
        solve_time_s=elapsed,
    )


def _replace_schedule(
    schedule: PatrolSchedule, coverage: FloatArray, guarantee: float, site: int, slot: int
) -> PatrolSchedule:
    return replace(
        schedule,
        coverage=coverage,
        guarantee=guarantee,
        attacker_site=int(site),
        attacker_slot=int(slot),
    )
