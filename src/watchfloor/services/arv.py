"""Armed response: demand, candidate bases, plans, their evaluation, and dispatch advice.

Demand atoms are the region's road nodes. Their weight mixes what the region
has: census population by area (boundaries GeoJSON + census CSV) or, without it,
a stated proxy (residential road length at each node); violent, weapons and
robbery incidents from data.police.uk CSVs; and the site register weighted by
kind and hour (crowded places and, at night, the night-time economy weigh more).
Travel is on the blue-light speed profile. Response standards are set per area
type (urban / rural / remote, from the distance to the nearest town or village).
"""

from __future__ import annotations

import csv
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from watchfloor.errors import FieldError, InfeasibleError, InvalidInputError, NotFoundError
from watchfloor.placement import (
    Placement,
    hypercube_approx,
    hypercube_exact,
    rank_units,
    simulate_response,
    solve_backup,
    solve_mclp,
    solve_mexclp,
    solve_pcenter,
    solve_pmedian,
)
from watchfloor.placement.hypercube import AUTO_EXACT_UNITS, hypercube_by_hour
from watchfloor.roads.graph import ROAD_CLASSES
from watchfloor.roads.speeds import blue_light_travel_time_s
from watchfloor.storage.files import atomic_path, atomic_write_text
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine

__all__ = [
    "DEFAULT_STANDARDS_S",
    "HOUR_PROFILES",
    "MIN_REACHABLE_SHARE",
    "MODELS",
    "ArvProblem",
    "DemandOptions",
    "PlanUnits",
    "UnitTimeCache",
    "UnitTimes",
    "bases_from_plan",
    "build_problem",
    "calls_by_hour",
    "dispatch_advice",
    "evaluate_bases",
    "parse_duration_s",
    "plan_bases",
    "plan_to_geojson",
    "read_plan",
    "station_bases",
    "unit_times",
    "write_plan",
    "write_plan_png",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MODELS = ("mexclp", "mclp", "pmedian", "pcenter", "backup")

#: Default response standards by area type (seconds): 8, 15 and 20 minutes.
DEFAULT_STANDARDS_S: dict[str, float] = {"urban": 480.0, "rural": 900.0, "remote": 1200.0}

#: Demand weight of one site by kind, by day and at night (20:00-04:00).
SITE_WEIGHTS: dict[str, tuple[float, float]] = {
    "crowded_place": (5.0, 3.0),
    "town_centre": (3.0, 2.0),
    "nte_zone": (2.0, 8.0),
    "nte_venue": (0.5, 3.0),
    "place_of_worship": (2.0, 1.0),
    "school": (1.5, 0.0),
    "hospital": (1.0, 1.0),
    "police_station": (0.0, 0.0),
}

#: A plan is refused when less than this share of demand is within the standard of
#: any candidate base at all: no placement could meet the standard.
MIN_REACHABLE_SHARE = 0.5

#: Crime types of data.police.uk that count as armed-response demand.
INCIDENT_GROUPS: dict[str, str] = {
    "Violence and sexual offences": "violence",
    "Possession of weapons": "weapons",
    "Robbery": "robbery",
}

#: Named shapes of the day's calls (relative weight of each hour, hour 0 first).
#: ``night`` is an assumed shape, not measured data: violence and weapons calls
#: twice the daytime rate in the late evening and night, a third of it at dawn.
#: A force should give its own command-and-control counts instead.
HOUR_PROFILES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    "night": (
        2.0, 2.0, 1.6, 1.2, 0.8, 0.5, 0.4, 0.5, 0.7, 0.8, 0.9, 1.0,
        1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.5, 1.7, 1.9, 2.0, 2.0,
    ),
}  # fmt: skip

_MAIN_ROADS = {"motorway", "trunk", "primary", "secondary", "tertiary"}
_RESIDENTIAL = {"residential", "living_street"}


def parse_duration_s(text: str) -> float:
    """Return seconds for ``"8m"``, ``"90s"``, ``"1h"`` or a plain number of seconds."""
    t = text.strip().lower()
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        value = float(t[:-1]) * scale[t[-1]] if t and t[-1] in scale else float(t)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        msg = f"cannot read duration {text!r}: write e.g. 8m, 480s or 480"
        raise InvalidInputError(msg)
    return value


@dataclass(frozen=True)
class DemandOptions:
    """Where demand comes from; everything optional (see the module docstring)."""

    areas_path: Path | None = None
    population_path: Path | None = None
    incidents_paths: tuple[Path, ...] = ()
    hour: int | None = None
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"population": 0.5, "incidents": 0.3, "sites": 0.2}
    )


@dataclass(frozen=True, eq=False)
class ArvProblem:
    """Everything a plan needs: demand atoms, standards, candidates and travel times."""

    region: str
    engine: TravelTimeEngine
    atom_node: IntArray
    demand: FloatArray
    demand_sources: tuple[str, ...]
    area_type: tuple[str, ...]
    standard_s: FloatArray
    standards: dict[str, float]
    candidate_node: IntArray
    candidate_name: tuple[str, ...]
    candidate_kind: tuple[str, ...]
    travel_s: FloatArray
    """Blue-light travel time, candidates x atoms."""


def _node_tree(region: Region) -> cKDTree:
    return cKDTree(np.column_stack([region.graph.x_m, region.graph.y_m]))


def _residential_length(region: Region) -> FloatArray:
    g = region.graph
    classes = np.array(ROAD_CLASSES)[g.road_class]
    res = np.isin(classes, list(_RESIDENTIAL))
    tails = g.edge_tails()
    w = np.zeros(g.n_nodes)
    np.add.at(w, tails[res], g.length_m[res] / 2)
    np.add.at(w, g.indices[res], g.length_m[res] / 2)
    return w


def _population(region: Region, options: DemandOptions) -> tuple[FloatArray, str]:
    proxy = _residential_length(region)
    if options.areas_path is None or options.population_path is None:
        if proxy.sum() <= 0:
            proxy = np.ones(region.graph.n_nodes)
        return proxy, "population proxy: residential road length at each node (no census given)"
    from watchfloor.ingest.areas import areas_from_geojson, assign_points  # noqa: PLC0415
    from watchfloor.ingest.demand import read_population_csv  # noqa: PLC0415

    areas = areas_from_geojson(options.areas_path)
    people = read_population_csv(options.population_path)
    area_of_node = assign_points(areas, region.graph.lon, region.graph.lat)
    inside = area_of_node >= 0
    if not inside.any():
        msg = (
            f"no road node of region {region.name} lies in the areas of "
            f"{options.areas_path.name}; give boundaries that cover the region"
        )
        raise InvalidInputError(msg)
    pop = np.zeros(region.graph.n_nodes)
    share_w = np.where(proxy > 0, proxy, 1e-3)
    n_matched = 0
    for a, code in enumerate(areas.codes):
        nodes = np.flatnonzero(area_of_node == a)
        if nodes.size == 0 or code not in people:
            continue
        n_matched += 1
        pop[nodes] += people[code] * share_w[nodes] / share_w[nodes].sum()
    if pop.sum() <= 0:
        msg = (
            f"none of the {len(areas)} areas with road nodes has a population in "
            f"{options.population_path.name}; check the area codes match"
        )
        raise InvalidInputError(msg)
    return pop, (
        f"census population of {n_matched} areas ({options.population_path.name}), "
        "spread over nodes by residential road length"
    )


def _incidents(region: Region, paths: Sequence[Path]) -> tuple[FloatArray, str]:
    from watchfloor.ingest.policeuk import read_street_crime  # noqa: PLC0415

    inc = read_street_crime(list(paths), groups=INCIDENT_GROUPS)
    x, y = _to_bng(inc.lon, inc.lat)
    dist, node = _node_tree(region).query(np.column_stack([x, y]))
    near = dist <= 500.0
    w = np.zeros(region.graph.n_nodes)
    np.add.at(w, node[near], inc.weight[near])
    return w, (
        f"{int(near.sum())} violent, weapons and robbery incidents within 500 m of the roads "
        f"(of {len(inc)} read)"
    )


def _to_bng(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    from watchfloor.geo import lonlat_to_bng  # noqa: PLC0415

    x, y = lonlat_to_bng(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _sites(region: Region, hour: int | None) -> tuple[FloatArray, str]:
    night = hour is not None and (hour >= 20 or hour < 4)
    w = np.zeros(region.graph.n_nodes)
    s = region.sites
    for i, kind in enumerate(s.kind):
        day_w, night_w = SITE_WEIGHTS.get(kind, (0.0, 0.0))
        w[int(s.node[i])] += night_w if night else day_w
    when = "night (20:00-04:00)" if night else "day"
    return w, f"{len(s.kind)} register sites weighted by kind for the {when}"


def _area_types(region: Region, urban_m: float = 2000.0, rural_m: float = 3000.0) -> list[str]:
    s = region.sites
    g = region.graph
    towns = [i for i, c in enumerate(s.category) if c in ("city", "town")]
    villages = [i for i, c in enumerate(s.category) if c in ("village", "hamlet", "suburb")]
    xy = np.column_stack([g.x_m, g.y_m])

    def distance_to(idx: list[int]) -> FloatArray:
        if not idx:
            return np.full(g.n_nodes, np.inf)
        d, _ = cKDTree(np.column_stack([s.x_m[idx], s.y_m[idx]])).query(xy)
        return np.asarray(d, dtype=np.float64)

    d_town, d_village = distance_to(towns), distance_to(villages)
    return [
        "urban" if a <= urban_m else "rural" if min(a, b) <= rural_m else "remote"
        for a, b in zip(d_town.tolist(), d_village.tolist(), strict=True)
    ]


def _read_points(path: Path) -> list[tuple[str, float, float]]:
    """Read user candidate points: CSV with lon,lat[,name] or GeoJSON points."""
    if not path.is_file():
        msg = f"candidate file {path} does not exist"
        raise NotFoundError(msg)
    out: list[tuple[str, float, float]] = []
    try:
        if path.suffix.lower() in (".geojson", ".json"):
            doc = json.loads(path.read_text(encoding="utf-8"))
            for k, feat in enumerate(doc.get("features", [])):
                geom = feat.get("geometry") or {}
                if geom.get("type") != "Point":
                    continue
                lon, lat = (float(v) for v in geom["coordinates"][:2])
                name = str((feat.get("properties") or {}).get("name") or f"point {k + 1}")
                out.append((name, lon, lat))
        else:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                for k, row in enumerate(csv.DictReader(fh)):
                    out.append(
                        (row.get("name") or f"point {k + 1}", float(row["lon"]), float(row["lat"]))
                    )
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        msg = (
            f"cannot read candidate points from {path.name} ({exc}); give a CSV with "
            "lon,lat[,name] columns or a GeoJSON FeatureCollection of Points"
        )
        raise InvalidInputError(msg) from None
    if not out:
        msg = f"{path.name} holds no candidate points"
        raise InvalidInputError(msg)
    return out


def _generated_candidates(
    region: Region, demand: FloatArray, *, spacing_m: float, limit: int
) -> IntArray:
    """Main-road junctions, at most one per ``spacing_m`` grid cell, busiest cells first."""
    g = region.graph
    classes = np.array(ROAD_CLASSES)[g.road_class]
    main = np.isin(classes, list(_MAIN_ROADS))
    on_main = np.zeros(g.n_nodes, dtype=bool)
    on_main[g.edge_tails()[main]] = True
    degree = np.diff(g.indptr) + np.bincount(g.indices, minlength=g.n_nodes)
    junction = np.flatnonzero(on_main & (degree >= 5))
    if junction.size == 0:
        junction = np.flatnonzero(degree >= 3)
    cell = np.floor(np.column_stack([g.x_m, g.y_m]) / spacing_m).astype(np.int64)
    key = cell[:, 0] * 1_000_003 + cell[:, 1]
    cell_demand: dict[int, float] = {}
    for k, w in zip(key.tolist(), demand.tolist(), strict=True):
        cell_demand[k] = cell_demand.get(k, 0.0) + w
    best: dict[int, int] = {}
    for n in junction.tolist():
        best.setdefault(int(key[n]), n)
    ranked = sorted(best.items(), key=lambda kv: -cell_demand.get(kv[0], 0.0))
    return np.array([n for _, n in ranked[:limit]], dtype=np.int64)


def build_problem(
    region: Region,
    *,
    demand: DemandOptions | None = None,
    standards_s: Mapping[str, float] | None = None,
    candidates_path: Path | None = None,
    n_generated: int = 150,
    spacing_m: float = 2000.0,
) -> ArvProblem:
    """Return the demand atoms, standards, candidate bases and blue-light travel times.

    Raises
    ------
    InvalidInputError
        Bad standards or unreadable candidate, census or incident files.
    """
    options = demand or DemandOptions()
    stds = dict(DEFAULT_STANDARDS_S)
    for k, v in (standards_s or {}).items():
        if k not in stds:
            msg = f"unknown area type {k!r} in standards; use urban, rural, remote"
            raise InvalidInputError(msg)
        if not (np.isfinite(v) and v > 0):
            msg = f"standard for {k} must be positive seconds, got {v}"
            raise InvalidInputError(msg)
        stds[k] = float(v)
    g = region.graph
    parts: dict[str, tuple[FloatArray, str]] = {"population": _population(region, options)}
    if options.incidents_paths:
        parts["incidents"] = _incidents(region, options.incidents_paths)
    parts["sites"] = _sites(region, options.hour)
    mix = np.zeros(g.n_nodes)
    used = {k: v for k, v in parts.items() if v[0].sum() > 0}
    total_w = sum(float(options.weights.get(k, 0.0)) for k in used)
    if total_w <= 0:
        msg = "demand is empty: no population, incidents or sites give any weight"
        raise InvalidInputError(msg)
    sources = []
    for k, (w, text) in used.items():
        share = float(options.weights.get(k, 0.0)) / total_w
        mix += share * w / w.sum()
        sources.append(f"{share:.0%} {text}")
    atoms = np.flatnonzero(mix > 0).astype(np.int64)
    area = _area_types(region)
    area_type = tuple(area[int(n)] for n in atoms)
    std = np.array([stds[a] for a in area_type])
    engine = TravelTimeEngine(g, weights=blue_light_travel_time_s(g))
    nodes: list[int] = []
    names: list[str] = []
    kinds: list[str] = []
    s = region.sites
    for i, kind in enumerate(s.kind):
        if kind == "police_station":
            nodes.append(int(s.node[i]))
            names.append(s.name[i] or f"police station {s.site_id[i]}")
            kinds.append("police_station")
    if candidates_path is not None:
        pts = _read_points(candidates_path)
        node, _dist = engine.nearest_nodes([p[1] for p in pts], [p[2] for p in pts])
        for (name, _, _), n in zip(pts, node.tolist(), strict=True):
            nodes.append(int(n))
            names.append(name)
            kinds.append("user")
    for n in _generated_candidates(region, mix, spacing_m=spacing_m, limit=n_generated).tolist():
        nodes.append(int(n))
        names.append(f"junction {g.node_osm_id[n]}")
        kinds.append("generated")
    cand = np.array(nodes, dtype=np.int64)
    travel = engine.matrix(cand, atoms)
    log.info(
        "ARV problem for %s: %d demand atoms, %d candidate bases (%d police stations)",
        region.name,
        atoms.size,
        cand.size,
        kinds.count("police_station"),
    )
    return ArvProblem(
        region=region.name,
        engine=engine,
        atom_node=atoms,
        demand=mix[atoms],
        demand_sources=tuple(sources),
        area_type=area_type,
        standard_s=std,
        standards=stds,
        candidate_node=cand,
        candidate_name=tuple(names),
        candidate_kind=tuple(kinds),
        travel_s=travel,
    )


def plan_bases(
    problem: ArvProblem,
    *,
    n_units: int,
    model: str = "mexclp",
    calls_per_day: float = 6.0,
    mean_service_s: float = 2700.0,
    time_limit_s: float = 60.0,
) -> Placement:
    """Return the placement of ``n_units`` bases under ``model`` (see :data:`MODELS`).

    Covering models use each atom's own standard (travel divided by the standard,
    against 1). MEXCLP's busy fraction is ``calls_per_day * mean_service_s / 86400 /
    n_units``.

    Raises
    ------
    InvalidInputError
        Unknown model, more units than candidates, or no demand.
    InfeasibleError
        When less than :data:`MIN_REACHABLE_SHARE` of demand is within its standard of
        any candidate base.
    """
    if model not in MODELS:
        msg = f"unknown model {model!r}; use one of {', '.join(MODELS)}"
        raise InvalidInputError(msg)
    if n_units > problem.candidate_node.size:
        msg = (
            f"{n_units} units but only {problem.candidate_node.size} candidate bases; "
            "lower --units or give more candidates"
        )
        raise InvalidInputError(msg)
    reachable = np.isfinite(problem.travel_s).any(axis=0)
    best = (problem.travel_s <= problem.standard_s[None, :]).any(axis=0)
    reachable_share = float(problem.demand[best].sum() / problem.demand.sum())
    if reachable_share < MIN_REACHABLE_SHARE:
        slowest = ", ".join(f"{k} {v:g} s" for k, v in problem.standards.items())
        msg = (
            f"only {100 * reachable_share:.1f} % of demand can be reached within the standard "
            f"({slowest}) even with a unit at every candidate base; raise the standard or add "
            "candidate bases"
        )
        raise InfeasibleError(msg)
    travel = problem.travel_s[:, reachable]
    demand = problem.demand[reachable]
    ratio = travel / problem.standard_s[reachable][None, :]
    if model == "pmedian":
        return solve_pmedian(travel, demand, n_units=n_units, time_limit_s=time_limit_s)
    if model == "pcenter":
        return solve_pcenter(travel, demand, n_units=n_units, time_limit_s=time_limit_s)
    if model == "mclp":
        return solve_mclp(ratio, demand, n_units=n_units, standard_s=1.0, time_limit_s=time_limit_s)
    if model == "backup":
        return solve_backup(
            ratio, demand, n_units=n_units, standard_s=1.0, time_limit_s=time_limit_s
        )
    q = min(calls_per_day * mean_service_s / 86400.0 / max(n_units, 1), 0.95)
    return solve_mexclp(
        ratio,
        demand,
        n_units=n_units,
        standard_s=1.0,
        busy_fraction=q,
        time_limit_s=time_limit_s,
    )


def station_bases(problem: ArvProblem, n_units: int) -> IntArray:
    """Return the naive choice: every unit at a police station, spread round-robin."""
    stations = [i for i, k in enumerate(problem.candidate_kind) if k == "police_station"]
    if not stations:
        msg = "the region has no police station to base units at"
        raise InvalidInputError(msg)
    return np.array([stations[u % len(stations)] for u in range(n_units)], dtype=np.int64)


def calls_by_hour(profile: str, calls_per_day: float) -> FloatArray:
    """Return calls in each hour of the day: ``calls_per_day`` spread by ``profile``.

    ``profile`` is a name in :data:`HOUR_PROFILES` or 24 comma-separated relative
    weights, hour 0 (00:00-01:00) first.

    Raises
    ------
    InvalidInputError
        Unknown name, not 24 numbers, negative weights or none positive.
    """
    if not (np.isfinite(calls_per_day) and calls_per_day > 0):
        msg = f"calls per day must be positive, got {calls_per_day}"
        raise InvalidInputError(msg)
    text = profile.strip()
    if text in HOUR_PROFILES:
        weights = np.array(HOUR_PROFILES[text])
    else:
        try:
            weights = np.array([float(v) for v in text.split(",")])
        except ValueError:
            weights = np.zeros(0)
        if weights.size != 24:
            msg = (
                f"hour profile {profile!r} is neither {' nor '.join(HOUR_PROFILES)} nor 24 "
                "comma-separated weights (hour 0 first)"
            )
            raise InvalidInputError(msg)
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        msg = "hour profile weights must be non-negative and not all zero"
        raise InvalidInputError(msg)
    return np.asarray(weights / weights.sum() * calls_per_day, dtype=np.float64)


def evaluate_bases(
    problem: ArvProblem,
    bases: IntArray,
    *,
    calls_per_day: float = 6.0,
    mean_service_s: float = 2700.0,
    simulate_days: int = 0,
    seed: int = 0,
    calls_per_hour: FloatArray | None = None,
) -> dict[str, Any]:
    """Return coverage, queueing and (optionally) simulated figures of units at ``bases``.

    ``bases`` are candidate indices. Coverage within standard is per area type and
    overall, with all units free and with each single unit busy; the hypercube
    model (exact up to 12 units) gives workloads, fraction within standard, mean
    and p90 response, at the day's mean rate (``hypercube``) and hour by hour
    (``hypercube_by_hour``: one steady state per hour's rate, day figures weighted
    by calls). ``calls_per_hour`` (24 values) sets the day's shape; without it
    ``calls_per_day`` is spread evenly. The simulation uses the same hourly rates.
    """
    base = np.asarray(bases, dtype=np.int64)
    if base.size == 0:
        msg = "a plan needs at least one base"
        raise InvalidInputError(msg)
    t_all = problem.travel_s[base]
    reachable = np.isfinite(t_all).all(axis=0)
    t = t_all[:, reachable]
    w = problem.demand[reachable]
    std = problem.standard_s[reachable]
    types = np.array(problem.area_type)[reachable]
    cover = t <= std[None, :]
    covered = cover.any(axis=0)
    total = float(w.sum())
    by_type = {
        a: float(w[(types == a) & covered].sum() / max(w[types == a].sum(), 1e-12))
        for a in ("urban", "rural", "remote")
        if (types == a).any()
    }
    one_busy = []
    for u in range(base.size):
        others = np.delete(cover, u, axis=0)
        one_busy.append(float(w[others.any(axis=0)].sum() / total) if others.size else 0.0)
    if calls_per_hour is None:
        hourly = np.full(24, calls_per_day / 24.0)
    else:
        hourly = np.asarray(calls_per_hour, dtype=np.float64)
        calls_per_day = float(hourly.sum())
    rate = calls_per_day / 86400.0
    n = base.size
    queue: dict[str, Any] = {}
    if rate * mean_service_s < n:
        fn = hypercube_exact if n <= AUTO_EXACT_UNITS else hypercube_approx
        hq = fn(t, w, call_rate_per_s=rate, mean_service_s=mean_service_s, standard_s=std)
        queue = {
            "method": hq.method,
            "fraction_within_standard": hq.fraction_within_standard,
            "mean_response_s": hq.mean_response_s,
            "p90_response_s": hq.p90_response_s,
            "prob_all_busy": hq.prob_all_busy,
            "workload": hq.workload.tolist(),
        }
    out: dict[str, Any] = {
        "n_units": int(n),
        "demand_unreachable_share": float(1 - w.sum() / problem.demand.sum()),
        "coverage": float(w[covered].sum() / total),
        "coverage_by_area_type": by_type,
        "coverage_one_unit_busy_min": float(min(one_busy)),
        "coverage_one_unit_busy_mean": float(np.mean(one_busy)),
        "coverage_one_unit_busy": one_busy,
        "nearest_mean_s": float(np.dot(w, t.min(axis=0)) / total),
        "nearest_p90_s": float(_weighted_quantile(t.min(axis=0), w, 0.9)),
        "calls_per_day": calls_per_day,
        "mean_service_s": mean_service_s,
        "hypercube": queue,
        "hypercube_by_hour": _by_hour(t, w, std, hourly, mean_service_s),
    }
    if simulate_days > 0:
        sim = simulate_response(
            t,
            w,
            calls_per_hour=hourly,
            mean_service_s=mean_service_s,
            standard_s=std,
            rng=np.random.default_rng(seed),
            n_days=simulate_days,
        )
        out["simulation"] = {
            "days": simulate_days,
            "seed": seed,
            "n_calls": int(sim.response_s.size),
            "fraction_within_standard": sim.fraction_within_standard,
            "mean_response_s": sim.mean_response_s,
            "p90_response_s": sim.p90_response_s,
        }
    return out


def _by_hour(
    travel: FloatArray,
    demand: FloatArray,
    standard: FloatArray,
    hourly: FloatArray,
    service_s: float,
) -> dict[str, Any]:
    """Hour-by-hour hypercube figures as a JSON-ready dict (a note when an hour overflows)."""
    n = travel.shape[0]
    over = [h for h in range(24) if hourly[h] * service_s / 3600.0 >= n]
    if over:
        return {
            "note": (
                f"no steady state in hour(s) {', '.join(f'{h:02d}:00' for h in over)}: "
                f"the offered load reaches the {n} units; add units or shorten service"
            ),
            "calls_per_hour": hourly.tolist(),
        }
    res = hypercube_by_hour(
        travel, demand, calls_per_hour=hourly, mean_service_s=service_s, standard_s=standard
    )
    busiest = int(np.argmax(hourly))

    def num(v: float) -> float | None:
        return None if not np.isfinite(v) else float(v)

    return {
        "method": res.method,
        "status": res.status,
        "n_solves": res.n_solves,
        "fraction_within_standard": res.fraction_within_standard,
        "mean_response_s": res.mean_response_s,
        "p90_response_s": res.p90_response_s,
        "prob_all_busy": res.prob_all_busy,
        "workload": res.workload.tolist(),
        "busiest_hour": busiest,
        "calls_per_hour": hourly.tolist(),
        "hours": [
            {
                "hour": h,
                "calls": float(hourly[h]),
                "fraction_within_standard": num(res.by_hour_fraction_within_standard[h]),
                "mean_response_s": num(res.by_hour_mean_response_s[h]),
                "p90_response_s": num(res.by_hour_p90_response_s[h]),
                "prob_all_busy": num(res.by_hour_prob_all_busy[h]),
            }
            for h in range(24)
        ],
    }


def _weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q * cum[-1]))
    return float(values[order][min(k, values.size - 1)])


def plan_to_geojson(
    problem: ArvProblem,
    bases: IntArray,
    *,
    model: str,
    evaluation: Mapping[str, Any],
    placement: Placement | None = None,
    isochrones: bool = True,
) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection of the bases (units), isochrones and figures."""
    g = problem.engine.graph
    feats: list[dict[str, Any]] = []
    work = evaluation.get("hypercube", {}).get("workload") or [None] * len(bases)
    for u, c in enumerate(np.asarray(bases).tolist()):
        node = int(problem.candidate_node[c])
        feats.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(g.lon[node]), float(g.lat[node])],
                },
                "properties": {
                    "role": "base",
                    "unit": f"ARV{u + 1}",
                    "candidate": int(c),
                    "name": problem.candidate_name[c],
                    "kind": problem.candidate_kind[c],
                    "node": node,
                    "workload": work[u],
                },
            }
        )
    if isochrones:
        feats.extend(_isochrones(problem, np.asarray(bases, dtype=np.int64)))
    meta: dict[str, Any] = {
        "region": problem.region,
        "model": model,
        "standards_s": problem.standards,
        "demand_sources": list(problem.demand_sources),
        "evaluation": dict(evaluation),
    }
    if placement is not None:
        meta["solver"] = {
            "status": placement.status,
            "objective": placement.objective,
            "bound": placement.bound,
            "gap": placement.gap,
            "solve_time_s": placement.solve_time_s,
        }
    return {"type": "FeatureCollection", "watchfloor_arv_plan": meta, "features": feats}


def _isochrones(problem: ArvProblem, bases: IntArray) -> list[dict[str, Any]]:
    """Area reachable from any base within each standard: a concave hull of road nodes.

    Cheaper than buffering every reachable road edge and good enough for a map layer.
    """
    import shapely  # noqa: PLC0415
    from shapely.geometry import mapping  # noqa: PLC0415

    g = problem.engine.graph
    budgets = sorted(set(problem.standards.values()))
    time_s, _ = problem.engine.nearest_source(problem.candidate_node[bases], cutoff_s=budgets[-1])
    out: list[dict[str, Any]] = []
    for budget in budgets:
        inside = np.flatnonzero(time_s <= budget)
        if inside.size < 3:
            continue
        hull = shapely.concave_hull(
            shapely.multipoints(np.column_stack([g.lon[inside], g.lat[inside]])), ratio=0.2
        )
        out.append(
            {
                "type": "Feature",
                "geometry": mapping(hull),
                "properties": {
                    "role": "isochrone",
                    "budget_s": budget,
                    "n_nodes": int(inside.size),
                },
            }
        )
    return out


def write_plan(doc: Mapping[str, Any], path: Path) -> None:
    """Write a plan GeoJSON atomically (temp file, then rename)."""
    atomic_write_text(path, json.dumps(doc))


@dataclass(frozen=True)
class PlanUnits:
    """Units of a stored plan: id, base position and node."""

    unit: tuple[str, ...]
    lon: FloatArray
    lat: FloatArray
    region: str


def read_plan(path: Path) -> PlanUnits:
    """Return the units of a plan GeoJSON written by :func:`write_plan`.

    Raises
    ------
    NotFoundError, InvalidInputError
        Missing file, or a file without base points.
    """
    if not path.is_file():
        msg = f"plan file {path} does not exist; create one with `watchfloor arv plan --out`"
        raise NotFoundError(msg)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        bases = [
            f for f in doc.get("features", []) if (f.get("properties") or {}).get("role") == "base"
        ]
        units = tuple(str(f["properties"]["unit"]) for f in bases)
        lon = np.array([float(f["geometry"]["coordinates"][0]) for f in bases])
        lat = np.array([float(f["geometry"]["coordinates"][1]) for f in bases])
        region = str((doc.get("watchfloor_arv_plan") or {}).get("region", ""))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        msg = f"{path.name} is not an ARV plan GeoJSON ({exc}); write one with `arv plan --out`"
        raise InvalidInputError(msg) from None
    if not units:
        msg = f"{path.name} holds no ARV bases; write one with `arv plan --out`"
        raise InvalidInputError(msg)
    return PlanUnits(unit=units, lon=lon, lat=lat, region=region)


def bases_from_plan(problem: ArvProblem, plan: PlanUnits) -> IntArray:
    """Return candidate indices for a plan's bases (bases not among them are added)."""
    node, _ = problem.engine.nearest_nodes(plan.lon, plan.lat)
    index = {int(n): i for i, n in enumerate(problem.candidate_node.tolist())}
    missing = [int(n) for n in node.tolist() if int(n) not in index]
    if missing:
        msg = "plan bases must be candidate bases of the region; re-plan with `arv plan`"
        raise InvalidInputError(msg)
    return np.array([index[int(n)] for n in node.tolist()], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class UnitTimes:
    """Blue-light times from each unit's position to every node (one Dijkstra per unit).

    Built once when units take position (a unit that moves costs one search to
    refresh); a dispatch query is then a column lookup, exact by construction.
    """

    node: IntArray
    time_s: FloatArray


def unit_times(engine: TravelTimeEngine, unit_node: IntArray) -> UnitTimes:
    """Return the per-unit travel-time table used by :func:`dispatch_advice`."""
    nodes = np.asarray(unit_node, dtype=np.int64)
    return UnitTimes(node=nodes, time_s=engine.many_to_all(nodes))


class UnitTimeCache:
    """Blue-light times from unit positions to every node, kept per road node (LRU).

    For a long-running service whose units are given as positions with every
    request (``POST /api/arv/dispatch``): :meth:`etas` answers from the kept rows
    when every unit's node has one, and :meth:`add` computes the missing rows (one
    Dijkstra each; run it after answering). Rows are exact travel times, so a
    ranking from them equals one from a fresh search. At most ``max_bytes`` of
    rows are kept (``n_nodes * 8`` bytes each), least recently used dropped first.
    Thread-safe.
    """

    def __init__(self, engine: TravelTimeEngine, *, max_bytes: int = 256 * 2**20) -> None:
        self.engine = engine
        self.max_rows = max(1, max_bytes // max(8 * engine.n_nodes, 1))
        self._rows: OrderedDict[int, FloatArray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def etas(self, unit_node: IntArray, target: int) -> FloatArray | None:
        """Return times from ``unit_node`` to ``target``, or None when a row is missing."""
        with self._lock:
            rows = [self._rows.get(int(n)) for n in np.asarray(unit_node).tolist()]
            if any(r is None for r in rows):
                return None
            for n in np.asarray(unit_node).tolist():
                self._rows.move_to_end(int(n))
            return np.array([r[target] for r in rows if r is not None], dtype=np.float64)

    def add(self, unit_node: IntArray) -> int:
        """Compute and keep the rows of nodes not kept yet; returns how many were added."""
        with self._lock:
            missing = sorted({int(n) for n in np.asarray(unit_node).tolist()} - set(self._rows))
        missing = missing[: self.max_rows]
        if not missing:
            return 0
        times = self.engine.many_to_all(np.array(missing, dtype=np.int64))
        with self._lock:
            for n, row in zip(missing, times, strict=True):
                self._rows[n] = row
                self._rows.move_to_end(n)
            while len(self._rows) > self.max_rows:
                self._rows.popitem(last=False)
        return len(missing)


def dispatch_advice(
    engine: TravelTimeEngine,
    plan: PlanUnits,
    *,
    lon: float,
    lat: float,
    busy: Sequence[str] = (),
    max_snap_m: float = 1000.0,
    table: UnitTimes | None = None,
    cache: UnitTimeCache | None = None,
) -> list[dict[str, Any]]:
    """Return the available units ranked by blue-light ETA to an incident (CLI and API).

    Without ``table`` or ``cache`` the ETAs come from one reverse search from the
    incident (right for a one-off command); a long-running service passes a
    :class:`UnitTimes` table built with :func:`unit_times` for the plan's units,
    or a :class:`UnitTimeCache` that answers when it holds every unit's node.

    Raises
    ------
    FieldError
        (an :class:`InvalidInputError`) Unknown or repeated unit, or an incident or
        unit position farther than ``max_snap_m`` from a road of the region.
    InfeasibleError
        Every unit busy, or none can reach the incident.
    """
    if not plan.unit:
        msg = "no units: give at least one unit with its position"
        raise FieldError(msg, field="units")
    seen: set[str] = set()
    for i, u in enumerate(plan.unit):
        if u in seen:
            msg = f"unit {u} is listed twice; give each unit once"
            raise FieldError(msg, field=f"units[{i}]")
        seen.add(u)
    unknown = sorted(set(busy) - seen)
    if unknown:
        msg = f"unknown unit(s) {', '.join(unknown)}; the units are {', '.join(plan.unit)}"
        raise FieldError(msg, field="busy")
    node = _snap(engine, [lon], [lat], max_snap_m=max_snap_m, what=["incident"])
    if table is not None:
        eta = table.time_s[:, int(node[0])]
    else:
        unit_node = _snap(
            engine,
            plan.lon,
            plan.lat,
            max_snap_m=max_snap_m,
            what=[f"units[{i}]" for i in range(len(plan.unit))],
            names=list(plan.unit),
        )
        kept = cache.etas(unit_node, int(node[0])) if cache is not None else None
        eta = kept if kept is not None else engine.matrix(unit_node, node)[:, 0]
    busy_set = set(busy)
    free = np.array([u not in busy_set for u in plan.unit])
    advice = rank_units(eta, available=free)
    return [
        {"rank": r + 1, "unit": plan.unit[int(u)], "eta_s": float(e)}
        for r, (u, e) in enumerate(zip(advice.order.tolist(), advice.eta_s.tolist(), strict=True))
    ]


def _snap(
    engine: TravelTimeEngine,
    lon: Sequence[float] | FloatArray,
    lat: Sequence[float] | FloatArray,
    *,
    max_snap_m: float,
    what: list[str],
    names: list[str] | None = None,
) -> IntArray:
    """Nearest road nodes of points; a point off the region names its field."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"{what[i]}: coordinates must be finite numbers"
        raise FieldError(msg, field=what[i])
    x, y = _to_bng(lon_a, lat_a)
    dist = np.full(lon_a.size, np.inf)
    node = np.zeros(lon_a.size, dtype=np.int64)
    try:
        node, dist = engine.nearest_nodes_xy(x, y)
    except InvalidInputError:
        # the engine refuses points beyond its own snap limit: find which one
        for i in range(lon_a.size):
            try:
                n_i, d_i = engine.nearest_nodes_xy(x[i : i + 1], y[i : i + 1])
            except InvalidInputError:
                continue
            node[i], dist[i] = n_i[0], d_i[0]
    far = dist > max_snap_m
    if far.any():
        i = int(np.flatnonzero(far)[0])
        who = "incident" if names is None else f"unit {names[i]}"
        how_far = "more than the snap limit" if np.isinf(dist[i]) else f"{dist[i]:.0f} m"
        msg = (
            f"{who} at {lon_a[i]:.5f},{lat_a[i]:.5f} is {how_far} from the nearest road of "
            f"the region ({engine.bbox_text()}); give a location inside the region"
        )
        raise FieldError(msg, field=what[i])
    return np.asarray(node, dtype=np.int64)


def write_plan_png(problem: ArvProblem, bases: IntArray, path: Path) -> None:
    """Draw roads, demand (covered / not) and bases to a PNG map."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.collections import LineCollection  # noqa: PLC0415

    g = problem.engine.graph
    tails = g.edge_tails()
    segs = np.stack(
        [
            np.column_stack([g.lon[tails], g.lat[tails]]),
            np.column_stack([g.lon[g.indices], g.lat[g.indices]]),
        ],
        axis=1,
    )
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.add_collection(LineCollection(list(segs), colors="#bbbbbb", linewidths=0.4))
    b = np.asarray(bases, dtype=np.int64)
    covered = (problem.travel_s[b] <= problem.standard_s[None, :]).any(axis=0)
    a = problem.atom_node
    size = 2 + 60 * problem.demand / problem.demand.max()
    ax.scatter(g.lon[a][covered], g.lat[a][covered], s=size[covered], c="#2a9d8f", alpha=0.5, lw=0)
    ax.scatter(
        g.lon[a][~covered], g.lat[a][~covered], s=size[~covered], c="#e76f51", alpha=0.7, lw=0
    )
    bn = problem.candidate_node[b]
    ax.scatter(g.lon[bn], g.lat[bn], marker="*", s=250, c="#1d3557", edgecolors="white")
    for u, n in enumerate(bn.tolist()):
        ax.annotate(f"ARV{u + 1}", (g.lon[n], g.lat[n]), xytext=(5, 5), textcoords="offset points")
    ax.set_title(f"{problem.region}: ARV bases (green = demand within standard)")
    ax.set_aspect(1 / np.cos(np.deg2rad(float(np.mean(g.lat)))))
    ax.autoscale()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)
