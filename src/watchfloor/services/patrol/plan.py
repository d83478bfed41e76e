"""Patrol plans for a region's shift: the posture's risk in, one feasible route per unit out.

:func:`plan_patrols` turns a region, a declared event and a shift into a
patrol plan: the posture (risk per site and hour) becomes the attacker's
payoff, the travel-time engine gives driving and walking times between sites
and police stations, the schedule-constrained game gives the coverage and
the defender's guarantee, mixed with greedy joint rotas
(:func:`watchfloor.patrol.mix_with_rotas`: never worse than "highest risk
first", every unit patrols its shift, coverage still exact) unless pins are
given, and one concrete route per unit is drawn with a recorded seed (OS
entropy unless a seed is given).

The region, its engines and its travel-time matrices come from the one
region picture (:mod:`watchfloor.services.regions`), so a re-plan of the
same region reads nothing from disk and skips the routing.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InfeasibleError, InvalidInputError, NotFoundError
from watchfloor.patrol import (
    PatrolMixture,
    PatrolSchedule,
    PatrolUnit,
    Pin,
    RouteCheck,
    UnitRoute,
    check_route,
    mix_with_rotas,
    mixture_entropy_bits,
    sample_mixture_shift,
    sample_shift,
    solve_patrol_schedule,
    strategy_entropy_bits,
)
from watchfloor.patrol.sampling import SamplingMethod
from watchfloor.services.patrol.shifts import PinRequest, parse_pin, parse_shift
from watchfloor.services.posture import posture_for_region
from watchfloor.services.regions import RegionCache, graph_engine, region_view, travel_matrix
from watchfloor.settings import Settings
from watchfloor.sites.register import SiteRegister
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine
from watchfloor.types import LONDON, FloatArray, IntArray

__all__ = [
    "DEFAULT_DETERRENCE",
    "MAX_SNAP_M",
    "PatrolPlan",
    "plan_for_region",
    "plan_patrols",
]

log = logging.getLogger(__name__)

#: Share of the attacker's payoff a visit in the slot takes away (covered = (1 - d) * risk).
DEFAULT_DETERRENCE = 0.75
#: A site snapped farther than this from a road has no road access.
MAX_SNAP_M = 1000.0
#: The engine profile of each patrol mode (:func:`watchfloor.services.regions.graph_engine`).
MODE_PROFILES = {"vehicle": "normal", "foot": "foot"}


@dataclass(frozen=True, eq=False)
class PatrolPlan:
    """A patrol plan for one shift: the solved game, one route per unit, and the context.

    Times in ``schedule`` and ``routes`` are seconds from ``origin`` (local
    midnight of the shift's start day).
    """

    region: str
    shift_start: datetime
    shift_end: datetime
    origin: datetime
    seed: int
    method: str
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    site_lonlat: FloatArray
    site_nodes: IntArray
    base_names: tuple[str, ...]
    base_lonlat: FloatArray
    base_nodes: IntArray
    slot_start: tuple[datetime, ...]
    slot_minutes: int
    value: FloatArray
    units: tuple[PatrolUnit, ...]
    schedule: PatrolSchedule
    routes: tuple[UnitRoute, ...]
    checks: tuple[RouteCheck, ...]
    guarantee_without_pins: float | None
    excluded_sites: tuple[dict[str, str], ...]
    entropy_bits: float
    engines: dict[str, TravelTimeEngine] = field(repr=False)
    mixture: PatrolMixture | None = field(default=None, repr=False)

    @property
    def pin_cost(self) -> float | None:
        """Rise of the attacker's best-response utility caused by the pins (None: no pins)."""
        if self.guarantee_without_pins is None:
            return None
        return self.schedule.guarantee - self.guarantee_without_pins

    def time_at(self, seconds: float) -> datetime:
        """Return the (local) date-time of a time in seconds from the origin."""
        return (self.origin + timedelta(seconds=float(seconds))).astimezone(LONDON)

    def location_name(self, loc: int) -> str:
        """Return the name of a location index (sites, then bases)."""
        n = len(self.site_ids)
        if loc < n:
            return self.site_names[loc] or self.site_ids[loc]
        return self.base_names[loc - n]

    def location_id(self, loc: int) -> str:
        """Return the id of a location index: a site id or ``base:NAME``."""
        n = len(self.site_ids)
        return self.site_ids[loc] if loc < n else f"base:{self.base_names[loc - n]}"

    def location_node(self, loc: int) -> int:
        """Return the road-graph node of a location index."""
        n = len(self.site_ids)
        return int(self.site_nodes[loc] if loc < n else self.base_nodes[loc - n])

    def location_lonlat(self, loc: int) -> tuple[float, float]:
        """Return (lon, lat) of a location index."""
        n = len(self.site_ids)
        row = self.site_lonlat[loc] if loc < n else self.base_lonlat[loc - n]
        return float(row[0]), float(row[1])


def _seconds(at: datetime, origin: datetime) -> float:
    return (at - origin).total_seconds()


def _resolve_site(name: str, ids: Sequence[str], names: Sequence[str]) -> int:
    if name in ids:
        return list(ids).index(name)
    low = name.casefold()
    exact = [i for i, n in enumerate(names) if n.casefold() == low]
    if len(exact) == 1:
        return exact[0]
    partial = [i for i, n in enumerate(names) if low in n.casefold()]
    if len(exact) > 1 or len(partial) > 1:
        cands = exact if len(exact) > 1 else partial
        listed = "; ".join(f"{ids[i]} ({names[i]})" for i in cands[:6])
        msg = f"site {name!r} is ambiguous: {listed}; give the site id"
        raise InvalidInputError(msg)
    if len(partial) == 1:
        return partial[0]
    msg = f"no site with id or name {name!r}; see `watchfloor sites list`"
    raise NotFoundError(msg)


#: Engines and travel-time matrices kept per road graph (the operations room


def _check_plan_inputs(
    *,
    n_units: int,
    n_foot: int,
    shift_start: datetime,
    shift_end: datetime,
    deterrence: float,
    method: str,
) -> None:
    """Refuse a plan request that cannot be planned, saying what to change."""
    if isinstance(n_units, bool) or n_units < 1:
        msg = f"--units must be at least 1 (got {n_units}); a plan needs patrol units"
        raise InvalidInputError(msg)
    if not 0 <= n_foot <= n_units:
        msg = f"--foot must be between 0 and the number of units ({n_units}), got {n_foot}"
        raise InvalidInputError(msg)
    if shift_end <= shift_start:
        msg = "the shift ends before it starts"
        raise InvalidInputError(msg)
    if not 0.0 < deterrence <= 1.0:
        msg = f"deterrence must be in (0, 1], got {deterrence}"
        raise InvalidInputError(msg)
    if method not in ("decomposition", "max_entropy"):
        msg = f"method must be 'decomposition' or 'max_entropy', got {method!r}"
        raise InvalidInputError(msg)


@dataclass(frozen=True, eq=False)
class _Locations:
    """The plan's locations: sites with road access (register rows ``kept``), then bases."""

    kept: IntArray
    excluded: tuple[dict[str, str], ...]
    base_nodes: IntArray
    base_names: tuple[str, ...]
    base_lonlat: FloatArray
    travel: dict[str, FloatArray]


def _bases(
    region: Region, engine: TravelTimeEngine
) -> tuple[IntArray, tuple[str, ...], FloatArray]:
    """Return the bases' nodes, names and lon/lat: police stations, else the region's centre."""
    sites = region.sites
    stations = [i for i, k in enumerate(sites.kind) if k == "police_station"]
    if stations:
        base_nodes = np.asarray(sites.node[stations], dtype=np.int64)
        base_names = tuple(sites.name[i] or sites.site_id[i] for i in stations)
        base_lonlat = np.column_stack([sites.lon[stations], sites.lat[stations]])
        return base_nodes, base_names, base_lonlat
    node, _ = engine.nearest_nodes(
        np.array([float(np.mean(sites.lon))]), np.array([float(np.mean(sites.lat))])
    )
    lonlat = np.array([[region.graph.lon[node[0]], region.graph.lat[node[0]]]])
    return node.astype(np.int64), ("region centre",), lonlat


def _road_access(
    sites: SiteRegister, vehicle: FloatArray
) -> tuple[list[int], list[dict[str, str]]]:
    """Return the register rows with road access, and why each other site has none.

    ``vehicle`` is the driving matrix over every site, then every base.
    """
    n_all = len(sites.site_id)
    out_t = vehicle[n_all:, :n_all]
    back_t = vehicle[:n_all, n_all:]
    excluded: list[dict[str, str]] = []
    keep: list[int] = []
    for i in range(n_all):
        reason = ""
        if not np.isfinite(sites.snap_m[i]) or sites.snap_m[i] > MAX_SNAP_M:
            reason = f"nearest road is {sites.snap_m[i]:.0f} m away"
        elif not (np.isfinite(out_t[:, i]).any() and np.isfinite(back_t[i, :]).any()):
            reason = "no road route from or back to any police station"
        if reason:
            excluded.append({"site_id": sites.site_id[i], "name": sites.name[i], "reason": reason})
        else:
            keep.append(i)
    if excluded:
        log.warning("%d sites have no road access and are left out of the plan", len(excluded))
    if not keep:
        msg = "no site of the region has road access from a police station"
        raise InfeasibleError(msg)
    return keep, excluded


def _locations(region: Region, engines: dict[str, TravelTimeEngine]) -> _Locations:
    """Return the sites with road access, the bases and the travel times between them per mode.

    Road access: snapped close to a road, and reachable from and back to a
    base. One matrix per mode over every site and base, cached per graph:
    the access check and the game's travel times are both read from it.
    """
    sites = region.sites
    n_all = len(sites.site_id)
    base_nodes, base_names, base_lonlat = _bases(region, engines["vehicle"])
    all_nodes = np.concatenate([np.asarray(sites.node, dtype=np.int64), base_nodes])
    full = {
        mode: travel_matrix(region.graph, all_nodes, profile=MODE_PROFILES[mode])
        for mode in engines
    }
    keep, excluded = _road_access(sites, full["vehicle"])
    kept = np.asarray(keep, dtype=np.int64)
    rows = np.concatenate([kept, n_all + np.arange(base_nodes.size)])
    travel = {mode: mat[np.ix_(rows, rows)] for mode, mat in full.items()}
    for mat in travel.values():
        np.fill_diagonal(mat, 0.0)
    return _Locations(kept, tuple(excluded), base_nodes, base_names, base_lonlat, travel)


def _patrol_units(
    *, n_units: int, n_foot: int, n_sites: int, n_bases: int, start_s: float, end_s: float
) -> tuple[PatrolUnit, ...]:
    """Return the units ``P01..``: the first ``n_foot`` walk; bases are shared round-robin."""
    return tuple(
        PatrolUnit(
            unit_id=f"P{k + 1:02d}",
            mode="foot" if k < n_foot else "vehicle",
            start_location=n_sites + k % n_bases,
            end_location=n_sites + k % n_bases,
            start_s=start_s,
            end_s=end_s,
        )
        for k in range(n_units)
    )


def _pin_window(
    req: PinRequest, *, unit_id: str, shift_start: datetime, shift_end: datetime, origin: datetime
) -> tuple[float, float]:
    """Return a pin's window in seconds from ``origin`` (a time before the shift is next day's)."""
    day = shift_start.astimezone(LONDON).date()
    times = []
    for hhmm in (req.start_hhmm, req.end_hhmm):
        h, m = map(int, hhmm.split(":"))
        at = datetime(day.year, day.month, day.day, h, m, tzinfo=LONDON)
        if at < shift_start - timedelta(minutes=1) and shift_end.astimezone(LONDON).date() != day:
            at += timedelta(days=1)
        times.append(_seconds(at, origin))
    if times[1] <= times[0]:
        msg = f"pin for {unit_id}: the window ends before it starts"
        raise InvalidInputError(msg)
    return times[0], times[1]


def _pins(
    pins: Sequence[PinRequest],
    units: Sequence[PatrolUnit],
    *,
    site_ids: tuple[str, ...],
    site_names: tuple[str, ...],
    excluded: Sequence[dict[str, str]],
    shift_start: datetime,
    shift_end: datetime,
    origin: datetime,
) -> list[Pin]:
    """Return the operator's pins resolved to units, site indices and times."""
    unit_by_key = {u.unit_id.casefold(): u for u in units}
    pin_list: list[Pin] = []
    for req in pins:
        unit = unit_by_key.get(req.unit_id.casefold())
        if unit is None:
            msg = f"pin names unit {req.unit_id!r}; units are P01..P{len(units):02d}"
            raise InvalidInputError(msg)
        try:
            site = _resolve_site(req.site, site_ids, site_names)
        except NotFoundError:
            if any(req.site in (e["site_id"], e["name"]) for e in excluded):
                msg = f"pin for {unit.unit_id}: site {req.site!r} has no road access"
                raise InfeasibleError(msg) from None
            raise
        start_s, end_s = _pin_window(
            req, unit_id=unit.unit_id, shift_start=shift_start, shift_end=shift_end, origin=origin
        )
        pin_list.append(Pin(unit.unit_id, site, start_s, end_s))
    return pin_list


@dataclass(frozen=True, eq=False)
class _Game:
    """A shift's game on the road network: sites with access, units, pins and times."""

    where: _Locations
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    risk: FloatArray
    slot_start: tuple[datetime, ...]
    origin: datetime
    units: tuple[PatrolUnit, ...]
    pins: list[Pin]
    engines: dict[str, TravelTimeEngine]


def _game(
    region: Region,
    value: npt.ArrayLike,
    slot_start: Sequence[datetime],
    *,
    n_units: int,
    n_foot: int,
    shift_start: datetime,
    shift_end: datetime,
    pins: Sequence[PinRequest],
) -> _Game:
    """Return the game of a shift: road access, bases, units and pins resolved; times in s."""
    sites = region.sites
    risk = np.asarray(value, dtype=np.float64)
    if risk.shape != (len(sites.site_id), len(slot_start)):
        msg = f"risk has shape {risk.shape}, expected ({len(sites.site_id)}, {len(slot_start)})"
        raise InvalidInputError(msg)
    engines = {"vehicle": graph_engine(region.graph, profile="normal")}
    if n_foot:
        engines["foot"] = graph_engine(region.graph, profile="foot")
    where = _locations(region, engines)
    site_ids = tuple(sites.site_id[i] for i in where.kept)
    site_names = tuple(sites.name[i] for i in where.kept)
    origin = shift_start.astimezone(LONDON).replace(hour=0, minute=0, second=0, microsecond=0)
    units = _patrol_units(
        n_units=n_units,
        n_foot=n_foot,
        n_sites=where.kept.size,
        n_bases=where.base_nodes.size,
        start_s=_seconds(shift_start, origin),
        end_s=_seconds(shift_end, origin),
    )
    pin_list = _pins(
        pins,
        units,
        site_ids=site_ids,
        site_names=site_names,
        excluded=where.excluded,
        shift_start=shift_start,
        shift_end=shift_end,
        origin=origin,
    )
    return _Game(
        where, site_ids, site_names, risk[where.kept], tuple(slot_start), origin, units,
        pin_list, engines,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class _Draw:
    """The solved schedule and the routes drawn from it."""

    schedule: PatrolSchedule
    guarantee_without_pins: float | None
    mixture: PatrolMixture | None
    routes: tuple[UnitRoute, ...]
    entropy_bits: float


def _solve_and_draw(
    game: _Game,
    *,
    deterrence: float,
    slot_minutes: int,
    tick_minutes: int,
    time_limit_s: float,
    rng: np.random.Generator,
    mode: SamplingMethod,
) -> _Draw:
    """Return the solved game (priced without its pins) and one route per unit."""
    a_u = game.risk
    a_c = (1.0 - deterrence) * a_u
    units, travel, pins = game.units, game.where.travel, game.pins
    solve_kw: dict[str, Any] = {
        "slot_start_s": np.array([_seconds(t, game.origin) for t in game.slot_start]),
        "slot_length_s": 60.0 * slot_minutes,
        "travel_time_s": travel,
        "units": units,
        "tick_s": 60.0 * max(tick_minutes, 10),
        "time_limit_s": time_limit_s,
        "site_names": [n or i for n, i in zip(game.site_names, game.site_ids, strict=True)],
    }
    schedule = solve_patrol_schedule(a_u, a_c, pins=pins, **solve_kw)
    without = None
    if pins:
        without = solve_patrol_schedule(a_u, a_c, **solve_kw).guarantee
    mixture: PatrolMixture | None = None
    if pins:
        routes = sample_shift(schedule, units=units, travel_time_s=travel, rng=rng, method=mode)
        entropy = strategy_entropy_bits(schedule, method=mode)
    else:
        # Mix the LP with joint rotas (double oracle): exact coverage, never worse
        # than "highest risk first", and every unit busy in the rotas.
        mixture = mix_with_rotas(schedule, a_u, a_c, units=units, travel_time_s=travel)
        schedule = mixture.schedule
        routes = sample_mixture_shift(
            mixture, units=units, travel_time_s=travel, rng=rng, method=mode
        )
        entropy = mixture_entropy_bits(mixture, method=mode)
    return _Draw(schedule, without, mixture, tuple(routes), entropy)


def _assemble(
    region: Region,
    game: _Game,
    draw: _Draw,
    *,
    shift: tuple[datetime, datetime],
    seed: int,
    mode: SamplingMethod,
    slot_minutes: int,
) -> PatrolPlan:
    """Return the plan, with every route checked for feasibility (failures logged)."""
    checks = tuple(check_route(r, game.where.travel[r.mode]) for r in draw.routes)
    bad = sum(c.status != "feasible" for c in checks)
    if bad:
        log.error("%d sampled routes failed the feasibility check", bad)
    kept, sites, where = game.where.kept, region.sites, game.where
    log.info(
        "patrol plan for %s: %d units, %d sites, guarantee %.4g, seed %d",
        region.name,
        len(game.units),
        kept.size,
        draw.schedule.guarantee,
        seed,
    )
    return PatrolPlan(
        region=region.name,
        shift_start=shift[0],
        shift_end=shift[1],
        origin=game.origin,
        seed=int(seed),
        method=mode,
        site_ids=game.site_ids,
        site_names=game.site_names,
        site_lonlat=np.column_stack([sites.lon[kept], sites.lat[kept]]),
        site_nodes=np.asarray(sites.node, dtype=np.int64)[kept],
        base_names=where.base_names,
        base_lonlat=where.base_lonlat,
        base_nodes=where.base_nodes,
        slot_start=game.slot_start,
        slot_minutes=slot_minutes,
        value=game.risk,
        units=game.units,
        schedule=draw.schedule,
        routes=draw.routes,
        checks=checks,
        guarantee_without_pins=draw.guarantee_without_pins,
        excluded_sites=where.excluded,
        entropy_bits=draw.entropy_bits,
        engines=game.engines,
        mixture=draw.mixture,
    )


def plan_for_region(
    region: Region,
    value: npt.ArrayLike,
    slot_start: Sequence[datetime],
    *,
    slot_minutes: int,
    n_units: int,
    shift_start: datetime,
    shift_end: datetime,
    n_foot: int = 0,
    pins: Sequence[PinRequest] = (),
    seed: int | None = None,
    method: str = "decomposition",
    deterrence: float = DEFAULT_DETERRENCE,
    tick_minutes: int = 30,
    time_limit_s: float = 120.0,
) -> PatrolPlan:
    """Return a patrol plan for a region from a risk array (the posture's ``value``).

    Parameters
    ----------
    region
        A built region (road graph and site register).
    value : float[n_sites, n_slots]
        Attacker's payoff per site (register order) and slot.
    slot_start
        Start of each slot (timezone-aware).
    slot_minutes
        Slot length.
    n_units, n_foot
        Patrol units, of which the first ``n_foot`` walk.
    shift_start, shift_end
        The shift (timezone-aware).
    pins
        Operator overrides; the plan is also solved without them to price them.
    seed
        Seed of the route draw; ``None`` draws one from the OS (recorded).
    method
        ``"decomposition"`` or ``"max_entropy"``.
    deterrence
        Share of the payoff a visit takes away (attacker_covered = (1 - d) value).
    tick_minutes
        Spacing of visit starts.
    time_limit_s
        Time limit of each LP.

    Raises
    ------
    InvalidInputError
        Zero units, more foot units than units, a shift that ends before it
        starts, a risk array of the wrong shape, an unknown unit in a pin.
    InfeasibleError
        A pin that cannot be met, or no police station or site with road access.
    """
    _check_plan_inputs(
        n_units=n_units,
        n_foot=n_foot,
        shift_start=shift_start,
        shift_end=shift_end,
        deterrence=deterrence,
        method=method,
    )
    game = _game(
        region,
        value,
        slot_start,
        n_units=n_units,
        n_foot=n_foot,
        shift_start=shift_start,
        shift_end=shift_end,
        pins=pins,
    )
    if seed is None:
        seed = secrets.randbits(63)
    mode: SamplingMethod = "max_entropy" if method == "max_entropy" else "decomposition"
    draw = _solve_and_draw(
        game,
        deterrence=deterrence,
        slot_minutes=slot_minutes,
        tick_minutes=tick_minutes,
        time_limit_s=time_limit_s,
        rng=np.random.default_rng(seed),
        mode=mode,
    )
    shift = (shift_start, shift_end)
    return _assemble(
        region, game, draw, shift=shift, seed=seed, mode=mode, slot_minutes=slot_minutes
    )


def plan_patrols(
    settings: Settings,
    *,
    region: str,
    event_path: Path | None,
    n_units: int,
    shift: str,
    n_foot: int = 0,
    pins: Sequence[str] = (),
    seed: int | None = None,
    method: str = "decomposition",
    time_limit_s: float = 120.0,
    regions: RegionCache | None = None,
) -> PatrolPlan:
    """Return the patrol plan of a region for an event file and a shift interval.

    The posture comes from :func:`watchfloor.services.posture.posture_for_region`
    (hourly slots over the shift); see :func:`plan_for_region` for the rest.
    The region is read once, through ``regions`` (the process's region
    picture unless given), and not again while it is unchanged on disk.

    Raises
    ------
    NotFoundError, InvalidInputError, InfeasibleError
        As the steps they come from (region, event file, shift, pins).
    """
    start, end = parse_shift(shift)
    pin_requests = [parse_pin(p) for p in pins]
    if n_units < 1:
        msg = f"--units must be at least 1 (got {n_units}); a plan needs patrol units"
        raise InvalidInputError(msg)
    hours = (end - start).total_seconds() / 3600.0
    run = posture_for_region(
        region,
        event_path,
        settings=settings,
        at=start,
        hours=hours + 1.0,
        slot_minutes=60,
        regions=regions,
    )
    posture = run.posture
    built = region_view(settings, region, regions=regions).region
    keep = [j for j, t in enumerate(posture.slot_start) if t < end]
    return plan_for_region(
        built,
        posture.value[:, keep],
        [posture.slot_start[j] for j in keep],
        slot_minutes=posture.slot_minutes,
        n_units=n_units,
        shift_start=start,
        shift_end=end,
        n_foot=n_foot,
        pins=pin_requests,
        seed=seed,
        method=method,
        time_limit_s=time_limit_s,
    )
