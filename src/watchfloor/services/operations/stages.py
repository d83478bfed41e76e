"""The stages of a re-plan: posture -> patrols for two shifts -> ARV bases, and the builder.

:func:`default_builder` runs the stages in order on one region, timing each
step:

1. :func:`posture_stage`: risk per site and 30-minute slot over both shifts
   (:func:`watchfloor.posture.compute_posture`), sites ranked, alerts turned
   into tension levels around them; returns a :class:`PostureOutcome`.
2. :func:`patrol_stage`: the patrol game of each shift over the riskiest sites
   and the stations, solved side by side
   (:func:`watchfloor.services.patrol.plan_for_region`), with each unit's
   road path.
3. :func:`arv_stage`: ARV standby bases (MEXCLP,
   :func:`watchfloor.services.arv.plan_bases`) and their reach bands.

Stages pass typed values (the posture, the patrol plan, the ARV problem and
placement) and hand JSON-ready parts to the
:class:`~watchfloor.services.operations.plans.PlanBody` through
:mod:`watchfloor.services.operations.views`. Every process-wide cache here is
a :class:`~watchfloor.services.cache.BoundedCache`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from datetime import datetime

import numpy as np
import shapely

from watchfloor.geo import haversine_m
from watchfloor.placement import Placement
from watchfloor.posture import Posture, TensionLevel, compute_posture, resolve_playbook
from watchfloor.services.arv import ArvProblem, build_problem, plan_bases
from watchfloor.services.cache import BoundedCache
from watchfloor.services.operations.plans import (
    ArvBase,
    ArvCover,
    JsonDict,
    PlanBody,
    RankedSite,
    ShiftPatrols,
    Timer,
    UnitPatrol,
    Visit,
)
from watchfloor.services.operations.situation import (
    Shift,
    Situation,
    iter_shifts,
    validate_event,
)
from watchfloor.services.operations.views import jsonable, posture_frame_json, situation_json
from watchfloor.services.patrol import PatrolPlan, plan_for_region, plan_to_dict
from watchfloor.services.posture import available_playbooks
from watchfloor.services.reach import reach_bands
from watchfloor.services.regions import RegionCache, RegionView, region_view
from watchfloor.settings import Settings
from watchfloor.sites.register import SiteRegister
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "ALERT_RADIUS_M",
    "POSTURE_SLOT_MINUTES",
    "REACH_BAND_FRACTIONS",
    "PostureOutcome",
    "RoomConfig",
    "StageInput",
    "arv_stage",
    "default_builder",
    "game_sites",
    "patrol_stage",
    "posture_stage",
    "ranked_sites",
    "reach_areas",
    "tension_levels",
    "unit_paths",
]

#: Slot length of the posture the room computes (minutes).
POSTURE_SLOT_MINUTES = 30

#: Radius around a located alert inside which sites take its tension level (metres).
ALERT_RADIUS_M = 1500.0

#: Reach bands drawn around each ARV base, as fractions of the response standard.
REACH_BAND_FRACTIONS = (1 / 3, 2 / 3, 1.0)


@dataclass(frozen=True)
class RoomConfig:
    """Resources and limits a re-plan uses (the same for every region of a room)."""

    patrol_units: int = 8
    foot_units: int = 0
    arv_units: int = 3
    arv_standard_s: float = 15 * 60.0
    time_limit_s: float = 20.0
    game_sites: int = 40


@dataclass(frozen=True, eq=False)
class StageInput:
    """What every step of a re-plan reads: the region, the situation, the shifts, the clock."""

    settings: Settings
    view: RegionView
    situation: Situation
    shifts: tuple[Shift, ...]
    now: datetime
    timer: Timer
    config: RoomConfig


@dataclass(frozen=True, eq=False)
class PostureOutcome:
    """The posture stage's result: the posture, its ranked sites and the alert areas."""

    posture: Posture
    sites: tuple[RankedSite, ...]
    tension: JsonDict
    frame: JsonDict


def default_builder(
    settings: Settings,
    situation: Situation,
    now: datetime,
    timer: Timer,
    config: RoomConfig | None = None,
    *,
    regions: RegionCache | None = None,
) -> PlanBody:
    """Return a plan body: posture, patrols for this and the next shift, ARV bases.

    The region is read through ``regions`` (the process's region cache unless
    given), once per region and rebuild. A step that fails raises, and the
    room keeps the last good plan.
    """
    with timer.step("load_region"):
        view = region_view(settings, situation.region, regions=regions)
    shifts = tuple(iter_shifts(now, 2))
    stage = StageInput(settings, view, situation, shifts, now, timer, config or RoomConfig())
    posture = posture_stage(stage)
    patrols = patrol_stage(stage, posture)
    arv = arv_stage(stage)
    return PlanBody(
        region=situation.region,
        situation=situation_json(situation),
        sites=posture.sites,
        shifts=patrols,
        arv=arv,
        tension=posture.tension,
        posture=posture.frame,
    )


# -- 1. posture ---------------------------------------------------------------------------


def posture_stage(stage: StageInput) -> PostureOutcome:
    """Return the posture over the two shifts, its ranked sites and the alert areas."""
    situation, sites = stage.situation, stage.view.region.sites
    event = None
    playbook = None
    if situation.event is not None:
        event = validate_event(situation.event, situation.threat_level)
        if situation.event.playbook:
            playbook = resolve_playbook(
                situation.event.playbook, available_playbooks(stage.settings)
            )
    start, end = stage.shifts[0].start, stage.shifts[-1].end
    n_slots = int((end - start).total_seconds() // (60 * POSTURE_SLOT_MINUTES))
    tension, areas = tension_levels(situation, sites)
    with stage.timer.step("posture"):
        posture = compute_posture(
            sites,
            event,
            start=start,
            n_slots=n_slots,
            slot_minutes=POSTURE_SLOT_MINUTES,
            playbook=playbook,
            tension=tension,
            threat_level=situation.threat_level,
        )
    return PostureOutcome(
        posture=posture,
        sites=tuple(ranked_sites(posture, sites, stage.shifts[0])),
        tension={"type": "FeatureCollection", "features": areas},
        frame=posture_frame_json(posture, start=start, n_slots=n_slots),
    )


def ranked_sites(posture: Posture, sites: SiteRegister, shift: Shift) -> list[RankedSite]:
    """Return sites ranked by their highest value in ``shift``, with that slot's reasons."""
    value = np.asarray(posture.value)
    if value.size == 0:
        return []
    n_shift = int((shift.end - shift.start).total_seconds() // (60 * posture.slot_minutes))
    first = max(0, posture.slot_index(shift.start))
    window = value[:, first : first + n_shift]
    best_slot = first + np.argmax(window, axis=1)
    best = value[np.arange(value.shape[0]), best_slot]
    order = np.lexsort((np.asarray(posture.site_id, dtype=object).astype(str), -best))
    out = []
    for rank, i in enumerate(order.tolist(), start=1):
        j = int(best_slot[i])
        reasons = [str(r) for r in posture.reasons(i, j)[1:]][:6] or [str(posture.reasons(i, j)[0])]
        out.append(
            RankedSite(
                site_id=posture.site_id[i],
                name=sites.name[i] or sites.category[i],
                kind=sites.kind[i],
                category=sites.category[i],
                lon=round(float(sites.lon[i]), 6),
                lat=round(float(sites.lat[i]), 6),
                node=int(sites.node[i]),
                risk=round(float(best[i]), 5),
                rank=rank,
                peak_slot=posture.slot_start[j],
                reasons=tuple(reasons),
            )
        )
    return out


def tension_levels(
    situation: Situation, sites: SiteRegister
) -> tuple[dict[str, TensionLevel], list[JsonDict]]:
    """Return tension per site id from located alerts, and the alert areas as GeoJSON features.

    An alert with a GeoJSON ``geometry`` (its areas) raises every site inside
    it to its ``level`` (1-5); one with only ``lon``/``lat`` raises the sites
    within ``radius_m``. The highest level wins.
    """
    levels: dict[str, TensionLevel] = {}
    features: list[JsonDict] = []
    for alert in situation.alerts:
        if alert.get("lon") is None or alert.get("lat") is None:
            continue
        lon, lat = float(alert["lon"]), float(alert["lat"])
        level = int(min(5, max(1, int(alert.get("level", 3)))))
        radius_m = float(alert.get("radius_m", ALERT_RADIUS_M))
        reason = str(alert.get("summary", "community tension"))
        if isinstance(alert.get("geometry"), dict):
            geometry = alert["geometry"]
            inside = shapely.contains_xy(shapely.geometry.shape(geometry), sites.lon, sites.lat)
        else:
            geometry = _circle(lon, lat, radius_m)
            inside = haversine_m(sites.lon, sites.lat, lon, lat) <= radius_m
        for i in np.flatnonzero(inside).tolist() if len(sites) else []:
            sid = sites.site_id[i]
            if sid not in levels or levels[sid].level < level:
                levels[sid] = TensionLevel(level=level, reason=reason)
        features.append(
            {
                "type": "Feature",
                "properties": {"level": level, "summary": reason, "area": alert.get("area", "")},
                "geometry": geometry,
            }
        )
    return levels, features


def _circle(lon: float, lat: float, radius_m: float, n: int = 48) -> JsonDict:
    angle = np.linspace(0.0, 2 * np.pi, n + 1)
    dlat = radius_m / 111_320.0
    dlon = dlat / max(np.cos(np.radians(lat)), 1e-6)
    ring = np.column_stack([lon + dlon * np.cos(angle), lat + dlat * np.sin(angle)])
    ring[-1] = ring[0]
    return {"type": "Polygon", "coordinates": [np.round(ring, 6).tolist()]}


# -- 2. patrols ---------------------------------------------------------------------------


def patrol_stage(stage: StageInput, posture: PostureOutcome) -> tuple[ShiftPatrols, ...]:
    """Return the patrols of each shift (``current``, ``next``), solved side by side."""
    keys = ("current", "next")
    # The two shifts are independent games: solve them side by side (HiGHS and
    # the numba kernels release the interpreter lock).
    with stage.timer.step("patrols"), ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(_shift_patrols, stage, posture, key, shift)
            for key, shift in zip(keys, stage.shifts, strict=False)
        ]
        shifts = tuple(f.result() for f in futures)
    for patrols in shifts:
        # patrol_<shift> includes routes_<shift>: the road geometry of the units' legs.
        stage.timer.timings_s[f"patrol_{patrols.key}"] = patrols.solve_s
        stage.timer.timings_s[f"routes_{patrols.key}"] = patrols.paths_s
    return shifts


def _shift_patrols(
    stage: StageInput, posture: PostureOutcome, key: str, shift: Shift
) -> ShiftPatrols:
    """Return one shift's patrols: the game over its riskiest sites, routes and road paths."""
    value = np.asarray(posture.posture.value)
    slot_start = posture.posture.slot_start
    cols = [j for j, t in enumerate(slot_start) if shift.start <= t < shift.end]
    region, keep, cutoff = game_sites(stage.view.region, value[:, cols], stage.config.game_sites)
    t0 = time.perf_counter()
    plan = plan_for_region(
        region,
        value[np.ix_(keep, np.asarray(cols, dtype=np.int64))],
        [slot_start[j] for j in cols],
        slot_minutes=posture.posture.slot_minutes,
        n_units=stage.config.patrol_units,
        n_foot=stage.config.foot_units,
        shift_start=shift.start,
        shift_end=shift.end,
        time_limit_s=stage.config.time_limit_s,
    )
    data = plan_to_dict(plan)
    t_paths = time.perf_counter()
    paths = unit_paths(plan)
    paths_s = time.perf_counter() - t_paths
    where = {s.site_id: (s.lon, s.lat) for s in posture.sites}
    units = tuple(_unit_patrol(k, unit, paths, where) for k, unit in enumerate(data["units"]))
    return ShiftPatrols(
        key=key,
        label=shift.label,
        start=shift.start,
        end=shift.end,
        seed=int(data["seed"]),
        status=str(data["status"]),
        guarantee=float(data["guarantee"]),
        entropy_bits=float(data["entropy_bits"]),
        attacker_best_response=dict(data["attacker_best_response"]),
        excluded_sites=len(data["excluded_sites"]),
        units=units,
        n_game_sites=int(keep.size),
        # Sites left out of the game never exceed this risk; when it is below
        # the guarantee no attacker would choose them and the reduction is exact.
        max_risk_left_out=cutoff,
        exact=cutoff <= float(data["guarantee"]),
        solve_s=time.perf_counter() - t0,
        paths_s=paths_s,
    )


def _unit_patrol(
    k: int,
    unit: JsonDict,
    paths: dict[str, list[list[float]]],
    where: dict[str, tuple[float, float]],
) -> UnitPatrol:
    """Return unit ``k`` of the patrol service's plan (its JSON form) with its road path."""
    visits = tuple(
        Visit(
            site_id=v["site_id"],
            name=v["name"],
            arrive=datetime.fromisoformat(v["arrive"]),
            depart=datetime.fromisoformat(v["depart"]),
            dwell_s=float(v["dwell_s"]),
            pinned=bool(v["pinned"]),
            lon=where[v["site_id"]][0],
            lat=where[v["site_id"]][1],
        )
        for v in unit["route"]["visits"]
    )
    return UnitPatrol(
        unit=unit["unit_id"],
        unit_index=k,
        mode=unit["mode"],
        base=unit["base"],
        visits=visits,
        travel_s=float(unit["route"]["total_travel_s"]),
        status=unit["route"]["status"],
        path=paths.get(unit["unit_id"], []),
    )


def game_sites(region: Region, value: FloatArray, n_sites: int) -> tuple[Region, IntArray, float]:
    """Return the region cut to the game's sites, their indices and the largest risk left out.

    The game is played over the ``n_sites`` riskiest sites of the shift plus
    every police station (the units' bases). The rest are left out of the
    solve to keep a re-plan within seconds; ``max_risk_left_out`` tells
    whether that could change the answer.
    """
    peak = value.max(axis=1) if value.size else np.zeros(len(region.sites))
    order = np.argsort(-peak, kind="stable")
    top = order[:n_sites]
    stations = np.flatnonzero(np.asarray(region.sites.kind) == "police_station")
    keep = np.union1d(top, stations).astype(np.int64)
    rest = np.setdiff1d(np.arange(peak.size), keep)
    cutoff = float(peak[rest].max()) if rest.size else 0.0
    if keep.size == len(region.sites):
        return region, keep, cutoff
    return dc_replace(region, sites=region.sites.take(keep)), keep, cutoff


#: Road geometry of patrol legs, by (engine id, from node, to node), with the engine
#: kept in the entry so that its id cannot be reused while cached: consecutive plans
#: over the same riskiest sites drive many of the same legs.
_LEGS: BoundedCache[tuple[int, int, int], tuple[TravelTimeEngine, FloatArray]] = BoundedCache(
    6000, name="patrol legs"
)


def _leg_lonlat(engine: TravelTimeEngine, a: int, b: int) -> FloatArray:
    """Return the road polyline (lon, lat rows, 6 decimals) of the fastest drive from a to b."""

    def build() -> tuple[TravelTimeEngine, FloatArray]:
        lonlat = np.asarray(engine.route(a, b).lonlat, dtype=np.float64)
        line: FloatArray = np.empty_like(lonlat)
        np.round(lonlat, 6, out=line)
        return engine, line

    return _LEGS.get_or_build((id(engine), a, b), build)[1]


def unit_paths(plan: PatrolPlan) -> dict[str, list[list[float]]]:
    """Return each unit's whole route along the roads, legs joined (lon, lat pairs).

    The same geometry as the patrol service's GeoJSON legs, with each leg's
    road search cached across plans.
    """
    paths: dict[str, list[list[float]]] = {}
    for route in plan.routes:
        engine = plan.engines.get(route.mode, plan.engines["vehicle"])
        line = paths.setdefault(route.unit_id, [])
        for leg in route.legs:
            a, b = plan.location_node(leg.from_location), plan.location_node(leg.to_location)
            coords: list[list[float]] = []
            if a != b:
                coords = _leg_lonlat(engine, a, b).tolist()
            if len(coords) < 2:
                coords = [
                    [round(v, 6) for v in plan.location_lonlat(leg.from_location)],
                    [round(v, 6) for v in plan.location_lonlat(leg.to_location)],
                ]
            line.extend(coords[1:] if line and line[-1] == coords[0] else coords)
    return paths


# -- 3. armed response --------------------------------------------------------------------

#: ARV problems (demand, candidates, blue-light engine) by (region path, mtime).
_ARV_PROBLEMS: BoundedCache[tuple[str, int], ArvProblem] = BoundedCache(4, name="ARV problems")
#: Placements by (region path, mtime, units, time limit): they do not depend on the situation.
_ARV_PLACEMENTS: BoundedCache[tuple[str, int, int, float], Placement] = BoundedCache(
    16, name="ARV placements"
)
#: Reach bands by (engine id, node, budget), with the engine kept in the entry.
_REACH: BoundedCache[tuple[int, int, float], tuple[TravelTimeEngine, list[JsonDict]]] = (
    BoundedCache(256, name="reach bands")
)


def arv_stage(stage: StageInput) -> ArvCover:
    """Return the ARV bases (MEXCLP) with their reach bands and the demand they cover.

    The demand, candidates and blue-light travel times of a region are built
    once and kept; so is the placement, which depends on the region and the
    number of units only.
    """
    view, cfg, timer = stage.view, stage.config, stage.timer
    key = (str(view.region.path), view.mtime_ns)

    def build_arv_problem() -> ArvProblem:
        with timer.step("arv_problem"):
            return build_problem(view.region)

    def place() -> Placement:
        with timer.step("arv"):
            return plan_bases(
                problem, n_units=cfg.arv_units, model="mexclp", time_limit_s=cfg.time_limit_s
            )

    problem = _ARV_PROBLEMS.get_or_build(key, build_arv_problem)
    placement = _ARV_PLACEMENTS.get_or_build((*key, cfg.arv_units, cfg.time_limit_s), place)
    nodes = np.asarray(problem.candidate_node)[np.asarray(placement.sites)]
    with timer.step("isochrones"):
        iso = reach_areas(problem.engine, nodes, budget_s=cfg.arv_standard_s)
        reach = problem.engine.nearest_source(nodes, cutoff_s=cfg.arv_standard_s)[0]
    atoms = np.asarray(problem.atom_node)
    covered = np.isfinite(reach[atoms]) & (reach[atoms] <= np.asarray(problem.standard_s))
    demand = np.asarray(problem.demand, dtype=np.float64)
    graph = problem.engine.graph
    bases = tuple(
        ArvBase(
            unit=f"ARV{u + 1}",
            name=problem.candidate_name[int(c)],
            kind=problem.candidate_kind[int(c)],
            node=int(n),
            lon=round(float(graph.lon[n]), 6),
            lat=round(float(graph.lat[n]), 6),
        )
        for u, (c, n) in enumerate(zip(placement.sites.tolist(), nodes.tolist(), strict=True))
    )
    return ArvCover(
        model=placement.model,
        status=placement.status,
        gap=float(placement.gap),
        objective=float(placement.objective),
        bases=bases,
        standard_s=cfg.arv_standard_s,
        covered_share=float(demand[covered].sum() / demand.sum()) if demand.sum() else 0.0,
        demand_sources=tuple(problem.demand_sources),
        isochrones=jsonable(iso),
    )


def reach_areas(engine: TravelTimeEngine, nodes: IntArray, *, budget_s: float) -> JsonDict:
    """Return, per base, the isochrone bands its unit reaches (GeoJSON polygons).

    Bands at a third, two thirds and all of ``budget_s`` (5, 10 and 15 minutes
    for a 15-minute standard), from one travel-time search per base
    (:func:`watchfloor.services.reach.reach_bands`). Bases are cached per
    engine, node and budget: a re-plan that keeps a base reuses its bands.
    """
    budgets = tuple(round(budget_s * f, 1) for f in REACH_BAND_FRACTIONS)
    features = []
    for u, node in enumerate(np.asarray(nodes).tolist()):

        def build(node: int = int(node)) -> tuple[TravelTimeEngine, list[JsonDict]]:
            return engine, reach_bands(engine, node, budgets_s=budgets)

        bands = _REACH.get_or_build((id(engine), int(node), float(budget_s)), build)[1]
        for band in bands:
            props = {**band["properties"], "unit": f"ARV{u + 1}", "node": int(node)}
            features.append({**band, "properties": props})
    return {"type": "FeatureCollection", "features": features}
