r"""Schedule-constrained patrol game: coverage that feasible shift routes can realise.

The model
---------
Targets are *site-slots* ``(i, s)``: the attacker picks a site and a time
slot and gets ``A^u_{is}`` if no patrol visits site ``i`` during slot ``s`` and
``A^c_{is}`` if one does (a visit of at least ``dwell_s``, 10-16 minutes,
covers the site for its slot: Koper 1995's residual-deterrence curve).

Patrol units (foot or vehicle) leave a start base at the start of their
shift window and must be back at their end base by its end. Time is cut into
*ticks* of ``tick_s`` seconds aligned with the slots; a visit starts at a
tick. The **time-expanded transition graph** of a class of identical units
(same mode, bases and window) has a node ``(i, p)`` for "a visit of site
``i`` starts at tick ``p``" and an arc ``(i, p) -> (j, q)`` when
``t_p + dwell_s + T_{ij} <= t_q`` (``T`` the travel-time matrix of the
unit's mode), plus arcs from the start base and to the end base, and an
idle arc base to base. A pure patrol of one unit is a source-sink path; a
mixed strategy of the ``n_g`` units of class ``g`` is, by flow
decomposition, a flow ``f^g`` of value ``n_g`` (TRUSTS, Yin et al. 2012;
transition graphs, Jiang et al. 2013). The LP solved with HiGHS::

    min  z
    s.t. flow conservation at every visit node,  out(source_g) = n_g,  f >= 0
         c_{is} = sum_g sum_{p in s} in_flow^g(i, p) + pinned_{is} <= 1
         z >= A^u_{is} + (A^c_{is} - A^u_{is}) c_{is}      for every target

``z`` is the defender's guarantee: the attacker's best-response expected
utility. ``c_{is}`` counts expected visits. By default every site belongs to
one unit's *beat* (valuable sites dealt out in turn among the units of the
nearest base that can reach them), and every unit is a class of its own: a
route never visits a site twice in a slot and no two units share a site, so
``c_{is}`` is exactly the probability that the drawn shift visits ``(i, s)``
and the guarantee is exact. With ``beats=False`` units of a class may meet
at a site-slot: the LP value is lower but is then only the additive
(expected-visit) model of TRUSTS, optimistic where units meet.

Pruning (exact under the model): a relaxation that ignores travel (each
unit makes at most one visit per tick, so slot ``s`` has at most ``K``
visits per tick) is solved per slot by water-filling; its value ``z_lb``
bounds ``z`` from below, so targets with ``A^u < z_lb`` can never be the
best response and need no node. Each site is linked to its
``n_neighbours`` nearest sites (by travel time) with up to
``max_wait_ticks`` ticks of waiting, and to itself at the first tick of
the next slot (a unit may stay on, but a site-slot is never visited twice
by one unit): a restriction, so routes stay feasible
and the guarantee stays valid (conservative).

Pins (operator overrides) anchor one unit at a site for a window
``[start_s, end_s]``: its path is cut into segments between anchors, so
every route of that unit holds the pinned visit; the pinned site is
covered for every slot the window overlaps.

References
----------
Yin, Jiang, Tambe et al., "TRUSTS: Scheduling randomized patrols for fare
inspection in transit systems using game theory", AI Magazine 2012.
Jiang, Yin, Zhang, Tambe, Kraus, "Game-theoretic randomization for security
patrolling with dynamic execution uncertainty", AAMAS 2013.
Koper, "Just enough police presence: reducing crime and disorderly behavior
by optimizing patrol time in crime hot spots", Justice Quarterly 1995.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.patrol._highs import solve_highs
from watchfloor.patrol.game import minimal_attacker_utility
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "DWELL_MAX_S",
    "DWELL_MIN_S",
    "ClassFlow",
    "PatrolSchedule",
    "PatrolUnit",
    "Pin",
    "ScheduleInput",
    "prepare_schedule_input",
    "solve_patrol_schedule",
]

log = logging.getLogger(__name__)

ScheduleStatus = Literal["optimal", "gap_bounded", "time_limit"]

#: Koper's dosage: a visit lasts between 10 and 16 minutes.
DWELL_MIN_S = 600.0
DWELL_MAX_S = 960.0
MODES = ("foot", "vehicle")


@dataclass(frozen=True)
class PatrolUnit:
    """One patrol unit.

    Attributes
    ----------
    unit_id : str
        Call sign.
    mode : str
        ``"foot"`` or ``"vehicle"``: which travel-time matrix applies.
    start_location, end_location : int
        Index into the travel-time matrices (sites first, then bases).
    start_s, end_s : float
        Shift window in seconds from the plan's time origin.
    """

    unit_id: str
    mode: str
    start_location: int
    end_location: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Pin:
    """An operator override: ``unit_id`` stays at site ``site`` from ``start_s`` to ``end_s``."""

    unit_id: str
    site: int
    start_s: float
    end_s: float


@dataclass(frozen=True, eq=False)
class ClassFlow:
    """The optimal flow of one class of identical units in its transition graph.

    Nodes ``0 .. n_visit_nodes - 1`` are visits (``node_site``, ``node_time_s``,
    ``node_slot``); the remaining nodes are anchors (start base, pins, end
    base) in time order: ``anchor_location``, ``anchor_arrive_s``,
    ``anchor_depart_s``, ``anchor_pin`` (index of the pin or -1). Node
    ``source`` is the first anchor and ``sink`` the last.
    """

    unit_ids: tuple[str, ...]
    mode: str
    node_site: IntArray
    node_time_s: FloatArray
    node_slot: IntArray
    anchor_location: IntArray
    anchor_arrive_s: FloatArray
    anchor_depart_s: FloatArray
    anchor_pin: IntArray
    arc_tail: IntArray
    arc_head: IntArray
    arc_flow: FloatArray

    @property
    def n_units(self) -> int:
        """Number of units in the class (the flow value)."""
        return len(self.unit_ids)

    @property
    def n_visit_nodes(self) -> int:
        """Number of visit nodes."""
        return int(self.node_site.shape[0])

    @property
    def source(self) -> int:
        """Node id of the start base."""
        return self.n_visit_nodes

    @property
    def sink(self) -> int:
        """Node id of the end base."""
        return self.n_visit_nodes + int(self.anchor_location.shape[0]) - 1


@dataclass(frozen=True, eq=False)
class PatrolSchedule:
    """Return value of :func:`solve_patrol_schedule`.

    Attributes
    ----------
    status : str
        ``"optimal"`` or ``"time_limit"`` (the best flow found is returned): the
        status of the LP. A certified plan (:func:`watchfloor.patrol.solve_patrol_game`)
        replaces it with the plan's: ``"optimal"`` only when its gap to the proven
        bound is under 1e-4, else ``"gap_bounded"`` (or ``"time_limit"``).
    guarantee : float
        Attacker's best-response expected utility against ``coverage``,
        over *all* site-slots (lower is better for the defender).
    lower_bound : float
        Value of the travel-free relaxation (no schedule can do better); in a
        certified plan, the proven bound over coverable site-slots.
    gap : float
        Relative gap between the LP objective and its dual bound (0 when optimal);
        in a certified plan, the plan's relative gap to ``lower_bound``.
    coverage : float64[n_sites, n_slots]
        Expected number of visits per site-slot (at most 1).
    attacker_site, attacker_slot : int
        The attacker's best response.
    classes : tuple of ClassFlow
        The flows, one per class of identical units.
    pins : tuple of Pin
    pinned_coverage : float64[n_sites, n_slots]
        The part of ``coverage`` fixed by pins.
    unreachable_sites : int64[k]
        Sites that no unit can visit within its shift (coverage 0).
    tick_time_s : float64[n_ticks]
        Start times of visits.
    n_arcs, n_targets : int
        Size of the LP (columns and modelled site-slots).
    solve_time_s : float
        HiGHS time.
    """

    status: ScheduleStatus
    guarantee: float
    lower_bound: float
    gap: float
    coverage: FloatArray
    attacker_site: int
    attacker_slot: int
    classes: tuple[ClassFlow, ...]
    pins: tuple[Pin, ...]
    pinned_coverage: FloatArray
    unreachable_sites: IntArray
    tick_time_s: FloatArray
    slot_start_s: FloatArray
    slot_length_s: float
    dwell_s: float
    n_arcs: int
    n_targets: int
    solve_time_s: float


@dataclass
class _Graph:
    unit_ids: tuple[str, ...]
    mode: str
    node_site: IntArray
    node_tick: IntArray
    anchors: list[tuple[int, float, float, int]]
    tail: IntArray
    head: IntArray


def hhmm(seconds: float) -> str:
    """Return ``HH:MM`` for seconds from the plan's origin (midnight in the services)."""
    if not np.isfinite(seconds):
        return "--:--"
    minutes = round(seconds / 60.0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def tick_times(slot_start_s: FloatArray, slot_length_s: float, tick_s: float) -> FloatArray:
    """Return the sorted visit start times: every ``tick_s`` from each slot's start."""
    per_slot = max(1, math.ceil(slot_length_s / tick_s - 1e-9))
    ticks = (slot_start_s[:, None] + np.arange(per_slot)[None, :] * tick_s).ravel()
    return np.unique(ticks)


def validate_schedule_input(
    attacker_uncovered: FloatArray,
    attacker_covered: FloatArray,
    *,
    slot_start_s: FloatArray,
    slot_length_s: float,
    travel_time_s: Mapping[str, FloatArray],
    units: Sequence[PatrolUnit],
    pins: Sequence[Pin],
    tick_s: float,
    dwell_s: float,
) -> None:
    """Return None when the schedule's inputs are well formed; raise otherwise.

    Raises
    ------
    InvalidInputError
        With a message naming the argument to change.
    """
    if attacker_uncovered.ndim != 2 or attacker_uncovered.shape != attacker_covered.shape:
        msg = "attacker_uncovered and attacker_covered must both be float[n_sites, n_slots]"
        raise InvalidInputError(msg)
    n_sites, n_slots = attacker_uncovered.shape
    if n_sites == 0 or n_slots == 0:
        msg = "the patrol game needs at least one site and one slot"
        raise InvalidInputError(msg)
    if not (np.isfinite(attacker_uncovered).all() and np.isfinite(attacker_covered).all()):
        msg = "attacker payoffs must be finite"
        raise InvalidInputError(msg)
    if (attacker_covered > attacker_uncovered + 1e-9).any():
        msg = "attacker_covered must be <= attacker_uncovered (a visit never helps the attacker)"
        raise InvalidInputError(msg)
    if slot_start_s.shape != (n_slots,) or (np.diff(slot_start_s) < slot_length_s - 1e-6).any():
        msg = f"slot_start_s must hold {n_slots} increasing, non-overlapping slot starts"
        raise InvalidInputError(msg)
    if not DWELL_MIN_S <= dwell_s <= DWELL_MAX_S:
        msg = f"dwell_s must be between {DWELL_MIN_S:.0f} and {DWELL_MAX_S:.0f} s (10-16 min)"
        raise InvalidInputError(msg)
    if tick_s < dwell_s:
        msg = f"tick_s ({tick_s:.0f} s) must be at least the visit length dwell_s ({dwell_s:.0f} s)"
        raise InvalidInputError(msg)
    if not units:
        msg = "at least one patrol unit is needed (got zero units)"
        raise InvalidInputError(msg)
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        msg = "unit ids must be distinct"
        raise InvalidInputError(msg)
    for u in units:
        if u.mode not in MODES:
            msg = f"unit {u.unit_id}: mode must be one of {', '.join(MODES)} (got {u.mode!r})"
            raise InvalidInputError(msg)
        if u.mode not in travel_time_s:
            msg = f"unit {u.unit_id}: no travel-time matrix for mode {u.mode!r}"
            raise InvalidInputError(msg)
        if u.end_s <= u.start_s:
            msg = f"unit {u.unit_id}: the shift ends ({u.end_s:.0f} s) before it starts"
            raise InvalidInputError(msg)
        if u.end_s - u.start_s < dwell_s:
            msg = (
                f"unit {u.unit_id}: its shift ({(u.end_s - u.start_s) / 60:.0f} min) is shorter "
                f"than one visit ({dwell_s / 60:.0f} min); lengthen the shift or drop the unit"
            )
            raise InvalidInputError(msg)
    for mode, matrix in travel_time_s.items():
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < n_sites:
            msg = f"travel_time_s[{mode!r}] must be square over sites then bases"
            raise InvalidInputError(msg)
        if (matrix < 0).any() or np.isnan(matrix).any():
            msg = f"travel_time_s[{mode!r}] must be non-negative (inf = unreachable)"
            raise InvalidInputError(msg)
    n_loc = min(m.shape[0] for m in travel_time_s.values())
    for u in units:
        for loc in (u.start_location, u.end_location):
            if not 0 <= loc < n_loc:
                msg = f"unit {u.unit_id}: location {loc} is outside the travel-time matrix"
                raise InvalidInputError(msg)
    known = set(ids)
    for pin in pins:
        if pin.unit_id not in known:
            msg = f"pin for unknown unit {pin.unit_id!r} (units: {', '.join(ids)})"
            raise InvalidInputError(msg)
        if not 0 <= pin.site < n_sites:
            msg = f"pin for unit {pin.unit_id}: site index {pin.site} is out of range"
            raise InvalidInputError(msg)
        if pin.end_s - pin.start_s < DWELL_MIN_S:
            msg = (
                f"pin for unit {pin.unit_id}: the window must last at least "
                f"{DWELL_MIN_S / 60:.0f} minutes (a visit)"
            )
            raise InvalidInputError(msg)


@dataclass(frozen=True, eq=False)
class ScheduleInput:
    """A schedule problem's arrays, coerced and validated once.

    ``tick_time_s`` are the visit start times, ``tick_slot`` the slot of each,
    and ``pinned`` the coverage pins force (1 where a pin's window overlaps the
    slot, else 0), sites x slots.
    """

    attacker_uncovered: FloatArray
    attacker_covered: FloatArray
    slot_start_s: FloatArray
    travel_time_s: dict[str, FloatArray]
    tick_time_s: FloatArray
    tick_slot: IntArray
    pinned: FloatArray


def prepare_schedule_input(
    attacker_uncovered: npt.ArrayLike,
    attacker_covered: npt.ArrayLike,
    *,
    slot_start_s: npt.ArrayLike,
    slot_length_s: float,
    travel_time_s: Mapping[str, npt.ArrayLike],
    units: Sequence[PatrolUnit],
    pins: Sequence[Pin],
    tick_s: float,
    dwell_s: float,
) -> ScheduleInput:
    """Return the validated arrays of a schedule problem, its visit ticks and pinned coverage.

    Raises
    ------
    InvalidInputError, InfeasibleError
        As :func:`validate_schedule_input`.
    """
    a_u = np.asarray(attacker_uncovered, dtype=np.float64)
    a_c = np.asarray(attacker_covered, dtype=np.float64)
    starts = np.asarray(slot_start_s, dtype=np.float64).reshape(-1)
    travel = {m: np.asarray(t, dtype=np.float64) for m, t in travel_time_s.items()}
    validate_schedule_input(
        a_u,
        a_c,
        slot_start_s=starts,
        slot_length_s=float(slot_length_s),
        travel_time_s=travel,
        units=units,
        pins=pins,
        tick_s=tick_s,
        dwell_s=dwell_s,
    )
    ticks = tick_times(starts, float(slot_length_s), float(tick_s))
    tick_slot = (np.searchsorted(starts, ticks, side="right") - 1).astype(np.int64)
    # The pinned site is covered in every slot its window overlaps.
    pinned = np.zeros(a_u.shape)
    for pin in pins:
        overlap = (starts < pin.end_s) & (starts + slot_length_s > pin.start_s)
        pinned[pin.site, overlap] = 1.0
    return ScheduleInput(a_u, a_c, starts, travel, ticks, tick_slot, pinned)


def unit_anchors(
    unit: PatrolUnit, pins: Sequence[Pin], travel: FloatArray, site_names: Sequence[str] | None
) -> list[tuple[int, float, float, int]]:
    """Return (location, arrive_s, depart_s, pin index) from start base to end base."""
    mine = sorted(
        ((k, p) for k, p in enumerate(pins) if p.unit_id == unit.unit_id),
        key=lambda kp: kp[1].start_s,
    )
    anchors = [(unit.start_location, unit.start_s, unit.start_s, -1)]
    for k, pin in mine:
        anchors.append((pin.site, pin.start_s, pin.end_s, k))
    anchors.append((unit.end_location, unit.end_s, unit.end_s, -1))

    def label(loc: int, pin_index: int) -> str:
        if pin_index < 0:
            return f"base {loc}"
        name = site_names[loc] if site_names is not None else f"site {loc}"
        return name

    for k, pin in mine:
        if pin.start_s < unit.start_s or pin.end_s > unit.end_s:
            msg = (
                f"pin for unit {unit.unit_id} at {label(pin.site, k)} "
                f"({hhmm(pin.start_s)}-{hhmm(pin.end_s)}) lies outside the unit's shift "
                f"({hhmm(unit.start_s)}-{hhmm(unit.end_s)})"
            )
            raise InfeasibleError(msg)
    for (loc_a, _, dep_a, pin_a), (loc_b, arr_b, _, pin_b) in itertools.pairwise(anchors):
        if arr_b < dep_a:
            msg = f"pins for unit {unit.unit_id} overlap in time; move or drop one"
            raise InfeasibleError(msg)
        need = float(travel[loc_a, loc_b])
        if dep_a + need > arr_b + 1e-6:
            how = "is unreachable" if not np.isfinite(need) else f"takes {need / 60:.0f} min"
            msg = (
                f"pin for unit {unit.unit_id} cannot be met: travel from {label(loc_a, pin_a)} "
                f"(free at {hhmm(dep_a)}) to {label(loc_b, pin_b)} (due {hhmm(arr_b)}) {how}; "
                "widen the window, use another unit or a vehicle"
            )
            raise InfeasibleError(msg)
    return anchors


def _build_graph(
    unit_ids: tuple[str, ...],
    mode: str,
    *,
    anchors: list[tuple[int, float, float, int]],
    travel: FloatArray,
    node_ok: npt.NDArray[np.bool_],
    tick_time_s: FloatArray,
    neighbours: IntArray,
    dwell_s: float,
    max_wait_ticks: int,
    tick_slot: IntArray,
) -> _Graph:
    """Return the transition graph of one class (visit nodes, then anchors)."""
    n_sites, n_ticks = node_ok.shape
    n_anchor = len(anchors)
    n_seg = n_anchor - 1
    lookup = np.full((n_seg, n_sites, n_ticks), -1, dtype=np.int64)
    sites_l: list[IntArray] = []
    ticks_l: list[IntArray] = []
    segs_l: list[IntArray] = []
    count = 0
    site_idx = np.arange(n_sites)
    for k in range(n_seg):
        loc_a, _, dep_a, _ = anchors[k]
        loc_b, arr_b, _, _ = anchors[k + 1]
        earliest = dep_a + travel[loc_a, site_idx]
        latest = arr_b - dwell_s - travel[site_idx, loc_b]
        ok = (
            node_ok
            & (tick_time_s[None, :] >= earliest[:, None] - 1e-6)
            & (tick_time_s[None, :] <= latest[:, None] + 1e-6)
        )
        s_idx, t_idx = np.nonzero(ok)
        ids = count + np.arange(s_idx.size)
        lookup[k, s_idx, t_idx] = ids
        count += s_idx.size
        sites_l.append(s_idx)
        ticks_l.append(t_idx)
        segs_l.append(np.full(s_idx.size, k, dtype=np.int64))
    node_site = np.concatenate(sites_l).astype(np.int64)
    node_tick = np.concatenate(ticks_l).astype(np.int64)
    node_seg = np.concatenate(segs_l)
    n_nodes = count
    tails: list[IntArray] = []
    heads: list[IntArray] = []
    # anchor k -> visits of segment k; visits of segment k -> anchor k + 1
    for k in range(n_seg):
        members = np.flatnonzero(node_seg == k)
        tails.append(np.full(members.size, n_nodes + k, dtype=np.int64))
        heads.append(members)
        tails.append(members)
        heads.append(np.full(members.size, n_nodes + k + 1, dtype=np.int64))
        loc_a, _, dep_a, _ = anchors[k]
        loc_b, arr_b, _, _ = anchors[k + 1]
        if dep_a + travel[loc_a, loc_b] <= arr_b + 1e-6:
            tails.append(np.array([n_nodes + k], dtype=np.int64))
            heads.append(np.array([n_nodes + k + 1], dtype=np.int64))
    # visit -> visit: nearest neighbours, earliest feasible tick plus some waiting
    if n_nodes:
        node_ids = np.arange(n_nodes)
        for r in range(neighbours.shape[1]):
            j = neighbours[node_site, r]
            has = j >= 0
            jj = np.where(has, j, 0)
            ready = tick_time_s[node_tick] + dwell_s + travel[node_site, jj]
            q_min = np.searchsorted(tick_time_s, ready - 1e-6, side="left")
            for w in range(max_wait_ticks + 1):
                q = q_min + w
                valid = has & (q < n_ticks) & np.isfinite(ready)
                qq = np.where(valid, q, 0)
                head = lookup[node_seg, jj, qq]
                valid &= head >= 0
                tails.append(node_ids[valid])
                heads.append(head[valid])
        # stay: the same site again at the first tick of a later slot (never twice in a slot)
        later = np.searchsorted(tick_slot, tick_slot[node_tick], side="right")
        later = np.maximum(
            later, np.searchsorted(tick_time_s, tick_time_s[node_tick] + dwell_s - 1e-6)
        )
        valid = later < n_ticks
        head = lookup[node_seg, node_site, np.where(valid, later, 0)]
        valid &= head >= 0
        tails.append(node_ids[valid])
        heads.append(head[valid])
    return _Graph(
        unit_ids=unit_ids,
        mode=mode,
        node_site=node_site,
        node_tick=node_tick,
        anchors=anchors,
        tail=np.concatenate(tails).astype(np.int64),
        head=np.concatenate(heads).astype(np.int64),
    )


def _neighbours(travel: FloatArray, sites: IntArray, n_sites: int, k: int) -> IntArray:
    """Return, per site, up to ``k`` nearest other working sites by travel time (-1 padded)."""
    out = np.full((n_sites, k), -1, dtype=np.int64)
    if sites.size <= 1:
        return out
    sub = travel[np.ix_(sites, sites)].astype(np.float64, copy=True)
    np.fill_diagonal(sub, np.inf)
    kk = min(k, sites.size - 1)
    part = np.argpartition(sub, kk - 1, axis=1)[:, :kk]
    dist = np.take_along_axis(sub, part, axis=1)
    order = np.argsort(dist, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    dist = np.take_along_axis(dist, order, axis=1)
    chosen = np.where(np.isfinite(dist), sites[part], -1)
    out[sites, :kk] = chosen
    return out


def _site_owners(
    units: Sequence[PatrolUnit],
    travel: Mapping[str, FloatArray],
    *,
    n_sites: int,
    a_u: FloatArray,
    dwell_s: float,
    beats: bool,
    sectors: bool,
) -> IntArray | None:
    """Return who may visit each site: a base location (sectors), a unit index (beats) or None.

    Sectors: the base nearest by road. Beats: among the units that can reach
    the site and come back within half their shift, those of the nearest such
    base take the sites in turn, most valuable first, so valuable sites are
    spread over the units.
    """
    if not (beats or sectors):
        return None
    vehicle = travel.get("vehicle", next(iter(travel.values())))
    bases = np.asarray(sorted({u.start_location for u in units}), dtype=np.int64)
    if not beats:
        owner: IntArray = bases[np.argmin(vehicle[bases][:, :n_sites], axis=0)]
        return owner
    round_trip = np.array(
        [
            travel[u.mode][u.start_location, :n_sites] + travel[u.mode][:n_sites, u.end_location]
            for u in units
        ]
    )
    budget = np.array([(u.end_s - u.start_s) / 2.0 - dwell_s for u in units])
    able = round_trip <= budget[:, None]
    base_time = vehicle[[u.start_location for u in units]][:, :n_sites]
    owners = np.full(n_sites, -1, dtype=np.int64)
    turn: dict[int, int] = {}
    for i in np.argsort(-a_u.max(axis=1), kind="stable"):
        cands = np.flatnonzero(able[:, i])
        if cands.size == 0:
            continue
        near = base_time[cands, i].min()
        cands = cands[base_time[cands, i] <= near + 1e-9]
        base = units[int(cands[0])].start_location
        k = turn.get(base, 0)
        owners[i] = int(cands[k % cands.size])
        turn[base] = k + 1
    return owners


def solve_patrol_schedule(
    attacker_uncovered: npt.ArrayLike,
    attacker_covered: npt.ArrayLike,
    *,
    slot_start_s: npt.ArrayLike,
    slot_length_s: float,
    travel_time_s: Mapping[str, FloatArray],
    units: Sequence[PatrolUnit],
    pins: Sequence[Pin] = (),
    tick_s: float = 1800.0,
    dwell_s: float = DWELL_MIN_S,
    n_neighbours: int = 8,
    max_wait_ticks: int = 1,
    time_limit_s: float = 60.0,
    lp_solver: str = "ipm",
    sectors: bool = False,
    beats: bool = True,
    site_names: Sequence[str] | None = None,
) -> PatrolSchedule:
    """Return the coverage of feasible patrol routes that minimises the attacker's best response.

    Parameters
    ----------
    attacker_uncovered, attacker_covered : float[n_sites, n_slots]
        Attacker's payoff per site-slot without / with a visit in the slot.
    slot_start_s : float[n_slots]
        Slot starts in seconds from the plan's origin (same clock as the units).
    slot_length_s
        Length of a slot.
    travel_time_s
        Per mode (``"foot"``, ``"vehicle"``): float[n_locations, n_locations]
        travel times, rows origins; locations are the sites, then the bases.
    units
        The patrol units.
    pins
        Operator overrides (see :class:`Pin`).
    tick_s
        Spacing of visit starts (at least ``dwell_s``).
    dwell_s
        Visit length used for planning (600-960 s); sampled visits may stay longer.
    n_neighbours, max_wait_ticks
        Sparsity of the transition graph.
    time_limit_s
        HiGHS time limit; the status says whether it was reached.
    lp_solver
        HiGHS LP method (``"ipm"``, ``"simplex"``, ``"choose"``).
    sectors
        Give every site to the units of the base nearest to it by road (police
        sectors): units of different bases never meet at a site-slot, and the
        LP is smaller, but the guarantee is weaker (a restriction). Off by
        default: any unit may visit any site it can reach.
    beats
        Give every site to one unit (its beat: see ``_site_owners``); the
        default. No two units can then meet at a site-slot, so the coverage is
        exactly the probability that a sampled shift visits the site-slot and
        the guarantee is what the attacker really faces. Without beats the
        LP counts expected visits (TRUSTS's additive model): its guarantee is
        lower on paper, but units meet at busy site-slots and the realised
        visit probabilities fall short (see ``benchmarks/bench_patrol.py``).
    site_names
        Optional names used in error messages.

    Raises
    ------
    InvalidInputError
        Malformed arrays, zero units, a shift that ends before it starts.
    InfeasibleError
        A pin that cannot be met (outside the shift, overlapping another pin,
        or out of reach in time); the message says which and why.
    """
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
    tick_time_s, tick_slot = problem.tick_time_s, problem.tick_slot
    n_sites, n_slots = a_u.shape
    n_ticks = tick_time_s.size

    # Lower bound from the travel-free relaxation, per slot.
    n_units = len(units)
    z_lb = -np.inf
    for s in range(n_slots):
        ticks_in = int((tick_slot == s).sum())
        free = pinned[:, s] < 1.0
        if not free.any():
            continue
        u_s, _ = minimal_attacker_utility(
            a_c[free, s], a_u[free, s], float(max(1, n_units * ticks_in))
        )
        z_lb = max(z_lb, u_s)
    if not np.isfinite(z_lb):
        z_lb = float(a_c.max())
    # Row generation on the targets: solve with the targets worth at least theta; the
    # result z is a lower bound on the full problem (fewer targets relax it), so when
    # z >= theta no left-out target can be the best response; otherwise lower theta
    # to z and solve again (at most once more: then every target above z is in).
    free_values = np.sort(a_u[(pinned < 1.0) & (a_u > a_c)])[::-1]
    visits = n_units * n_ticks
    theta = z_lb
    if free_values.size > 2 * visits:
        theta = max(z_lb, float(free_values[2 * visits]))
    total_solve_s = 0.0
    for _round in range(8):
        scale = max(1.0, abs(theta))
        target_ok = (a_u >= theta - 1e-9 * scale) & (pinned < 1.0) & (a_u > a_c)
        node_ok = target_ok[:, tick_slot]
        working = np.flatnonzero(node_ok.any(axis=1))
        log.info(
            "patrol schedule: %d sites x %d slots, %d units; relaxation bound %.4g keeps %d sites, "
            "%d site-slots",
            n_sites,
            n_slots,
            n_units,
            z_lb,
            working.size,
            int(target_ok.sum()),
        )

        # Classes of identical units; a pinned unit (and, with beats, every unit) is a
        # class of its own.
        pinned_units = {p.unit_id for p in pins}
        groups: dict[tuple[object, ...], list[PatrolUnit]] = {}
        for u in units:
            key: tuple[object, ...] = (
                (u.unit_id,)
                if beats or u.unit_id in pinned_units
                else (u.mode, u.start_location, u.end_location, u.start_s, u.end_s)
            )
            groups.setdefault(key, []).append(u)
        site_owner = _site_owners(
            units,
            travel,
            n_sites=n_sites,
            a_u=a_u,
            dwell_s=float(dwell_s),
            beats=beats,
            sectors=sectors,
        )
        graphs: list[_Graph] = []
        for members in groups.values():
            first = members[0]
            mode_travel = travel[first.mode]
            mask = (
                np.ones(n_sites, dtype=bool)
                if site_owner is None
                else np.isin(
                    site_owner,
                    [first.start_location]
                    if sectors and not beats
                    else [units.index(m) for m in members],
                )
            )
            mine = working[mask[working]]
            anchors = unit_anchors(first, pins, mode_travel, site_names)
            graphs.append(
                _build_graph(
                    tuple(u.unit_id for u in members),
                    first.mode,
                    anchors=anchors,
                    travel=mode_travel,
                    node_ok=node_ok & mask[:, None],
                    tick_time_s=tick_time_s,
                    neighbours=_neighbours(mode_travel, mine, n_sites, n_neighbours),
                    dwell_s=float(dwell_s),
                    max_wait_ticks=int(max_wait_ticks),
                    tick_slot=tick_slot,
                )
            )

        # Targets that have at least one visit node become rows.
        target_row = np.full((n_sites, n_slots), -1, dtype=np.int64)
        reach = np.zeros((n_sites, n_slots), dtype=bool)
        for g in graphs:
            reach[g.node_site, tick_slot[g.node_tick]] = True
        t_sites, t_slots = np.nonzero(reach)
        n_targets = t_sites.size
        target_row[t_sites, t_slots] = np.arange(n_targets)

        # Assemble the LP: columns = arcs of every class, then z.
        rows_l: list[IntArray] = []
        cols_l: list[IntArray] = []
        vals_l: list[FloatArray] = []
        row_lo: list[FloatArray] = []
        row_hi: list[FloatArray] = []
        n_rows = 2 * n_targets  # coverage rows, then guarantee rows
        d_t = a_u[t_sites, t_slots] - a_c[t_sites, t_slots]
        col0 = 0
        col_ranges: list[tuple[int, int]] = []
        for g in graphs:
            n_vis = g.node_site.size
            n_nodes = n_vis + len(g.anchors)
            n_arcs = g.tail.size
            cols = col0 + np.arange(n_arcs)
            # conservation rows for every node but the sink; source row fixes the supply
            node_row = np.full(n_nodes, -1, dtype=np.int64)
            keep = np.arange(n_nodes - 1)
            node_row[keep] = n_rows + np.arange(keep.size)
            n_rows += keep.size
            lo = np.zeros(keep.size)
            hi = np.zeros(keep.size)
            source = n_vis
            lo[node_row[source] - (n_rows - keep.size)] = float(len(g.unit_ids))
            hi[node_row[source] - (n_rows - keep.size)] = float(len(g.unit_ids))
            row_lo.append(lo)
            row_hi.append(hi)
            # into-node +1 (except at the source), out-of-node: -1 for ordinary nodes,
            # +1 at the source whose row is "out-flow = n_g"
            into = node_row[g.head] >= 0
            rows_l.append(node_row[g.head[into]])
            cols_l.append(cols[into])
            vals_l.append(np.ones(int(into.sum())))
            out = node_row[g.tail] >= 0
            sign = np.where(g.tail[out] == source, 1.0, -1.0)
            rows_l.append(node_row[g.tail[out]])
            cols_l.append(cols[out])
            vals_l.append(sign)
            # arcs into visit nodes add to their target's coverage
            to_visit = g.head < n_vis
            hv = g.head[to_visit]
            tr = target_row[g.node_site[hv], tick_slot[g.node_tick[hv]]]
            good = tr >= 0
            rows_l.append(tr[good])
            cols_l.append(cols[to_visit][good])
            vals_l.append(np.ones(int(good.sum())))
            col_ranges.append((col0, col0 + n_arcs))
            col0 += n_arcs
        # c_t columns (coverage of each modelled target) and z: the coverage rows read
        # sum(in-flow) - c_t = 0 and the guarantee rows z + d_t c_t >= A^u_t - d_t pinned_t.
        c_cols = col0 + np.arange(n_targets)
        z_col = col0 + n_targets
        n_cols = z_col + 1
        t_idx = np.arange(n_targets)
        rows_l.extend([t_idx, n_targets + t_idx, n_targets + t_idx])
        cols_l.extend([c_cols, c_cols, np.full(n_targets, z_col, dtype=np.int64)])
        vals_l.extend([-np.ones(n_targets), d_t, np.ones(n_targets)])
        pin_t = pinned[t_sites, t_slots]
        lo_all = np.concatenate([np.zeros(n_targets), a_u[t_sites, t_slots] - d_t * pin_t, *row_lo])
        hi_all = np.concatenate([np.zeros(n_targets), np.full(n_targets, np.inf), *row_hi])
        matrix = sparse.csc_array(
            (np.concatenate(vals_l), (np.concatenate(rows_l), np.concatenate(cols_l))),
            shape=(n_rows, n_cols),
        )
        cost = np.zeros(n_cols)
        cost[z_col] = 1.0
        col_lower = np.zeros(n_cols)
        col_upper = np.full(n_cols, np.inf)
        col_upper[c_cols] = 1.0 - pin_t
        # Targets without a visit node keep their (pinned) coverage: z is at least their
        # utility, which also keeps z bounded when nothing can be visited.
        fixed = ~reach
        fixed_u = a_u + (a_c - a_u) * pinned
        col_lower[z_col] = float(fixed_u[fixed].max()) if fixed.any() else -np.inf
        log.info(
            "patrol LP: %d classes, %d arcs, %d rows, %d site-slots",
            len(graphs),
            col0,
            n_rows,
            n_targets,
        )
        outcome = solve_highs(
            cost,
            matrix,
            lo_all,
            hi_all,
            col_lower=col_lower,
            col_upper=col_upper,
            time_limit_s=time_limit_s,
            lp_solver=lp_solver,
        )
        if outcome.status == "infeasible":
            msg = "the patrol units cannot meet their shift windows and pins together"
            raise InfeasibleError(msg)
        if not np.isfinite(outcome.x).all():
            msg = f"the patrol LP found no solution in {time_limit_s:.0f} s; raise time_limit_s"
            raise InfeasibleError(msg)
        x = np.where(outcome.x > 1e-10, outcome.x, 0.0)
        total_solve_s += outcome.solve_time_s
        z_r = float(outcome.x[-1])
        if z_r >= theta - 1e-9 * max(1.0, abs(theta)) or theta <= z_lb:
            break
        log.info("patrol LP round %d: z %.6g < threshold %.6g, adding targets", _round, z_r, theta)
        theta = max(z_lb, z_r)

    coverage = pinned.copy()
    classes: list[ClassFlow] = []
    for g, (c0, c1) in zip(graphs, col_ranges, strict=True):
        flow = x[c0:c1]
        n_vis = g.node_site.size
        to_visit = g.head < n_vis
        hv = g.head[to_visit]
        np.add.at(coverage, (g.node_site[hv], tick_slot[g.node_tick[hv]]), flow[to_visit])
        used = flow > 0
        classes.append(
            ClassFlow(
                unit_ids=g.unit_ids,
                mode=g.mode,
                node_site=g.node_site,
                node_time_s=tick_time_s[g.node_tick],
                node_slot=tick_slot[g.node_tick].astype(np.int64),
                anchor_location=np.array([a[0] for a in g.anchors], dtype=np.int64),
                anchor_arrive_s=np.array([a[1] for a in g.anchors], dtype=np.float64),
                anchor_depart_s=np.array([a[2] for a in g.anchors], dtype=np.float64),
                anchor_pin=np.array([a[3] for a in g.anchors], dtype=np.int64),
                arc_tail=g.tail[used],
                arc_head=g.head[used],
                arc_flow=flow[used],
            )
        )
    coverage = np.clip(coverage, 0.0, 1.0)
    ua = a_u + (a_c - a_u) * coverage
    flat_best = int(np.argmax(ua))
    site_b, slot_b = divmod(flat_best, n_slots)
    unreachable = np.flatnonzero(node_ok.any(axis=1) & ~reach.any(axis=1))
    status: ScheduleStatus = "optimal" if outcome.status == "optimal" else "time_limit"
    result = PatrolSchedule(
        status=status,
        guarantee=float(ua.max()),
        lower_bound=float(z_lb),
        gap=float(outcome.gap),
        coverage=coverage,
        attacker_site=int(site_b),
        attacker_slot=int(slot_b),
        classes=tuple(classes),
        pins=tuple(pins),
        pinned_coverage=pinned,
        unreachable_sites=unreachable.astype(np.int64),
        tick_time_s=tick_time_s,
        slot_start_s=starts,
        slot_length_s=float(slot_length_s),
        dwell_s=float(dwell_s),
        n_arcs=int(col0),
        n_targets=int(n_targets),
        solve_time_s=total_solve_s,
    )
    log.info(
        "patrol schedule %s: guarantee %.4g (bound %.4g), %d arcs, %.2f s",
        status,
        result.guarantee,
        z_lb,
        col0,
        total_solve_s,
    )
    return result
