"""ARV demand, response standards and candidate bases: the problem every plan solves.

Demand atoms are the region's road nodes. Their weight mixes what the region
has: census population by area (boundaries GeoJSON + census CSV) or, without it,
a stated proxy (residential road length at each node); violent, weapons and
robbery incidents from data.police.uk CSVs; and the site register weighted by
kind and hour (crowded places and, at night, the night-time economy weigh more).
Travel is on the blue-light speed profile (the region's one blue-light engine,
:func:`watchfloor.services.regions.graph_engine`). Response standards are set
per area type (urban / rural / remote, from the distance to the nearest town or
village).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.geo import lonlat_to_bng
from watchfloor.ingest.areas import areas_from_geojson, assign_points
from watchfloor.ingest.demand import read_population_csv
from watchfloor.ingest.policeuk import read_street_crime
from watchfloor.roads.graph import ROAD_CLASSES
from watchfloor.services.regions import graph_engine
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "DEFAULT_STANDARDS_S",
    "INCIDENT_GROUPS",
    "SITE_WEIGHTS",
    "ArvProblem",
    "DemandOptions",
    "build_problem",
    "parse_duration_s",
]

log = logging.getLogger(__name__)

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


#: Crime types of data.police.uk that count as armed-response demand.
INCIDENT_GROUPS: dict[str, str] = {
    "Violence and sexual offences": "violence",
    "Possession of weapons": "weapons",
    "Robbery": "robbery",
}


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


def _check_standards(standards_s: Mapping[str, float] | None) -> dict[str, float]:
    """Return the response standards by area type: the defaults with the given ones over them."""
    stds = dict(DEFAULT_STANDARDS_S)
    for k, v in (standards_s or {}).items():
        if k not in stds:
            msg = f"unknown area type {k!r} in standards; use urban, rural, remote"
            raise InvalidInputError(msg)
        if not (np.isfinite(v) and v > 0):
            msg = f"standard for {k} must be positive seconds, got {v}"
            raise InvalidInputError(msg)
        stds[k] = float(v)
    return stds


def _demand_mix(region: Region, options: DemandOptions) -> tuple[FloatArray, list[str]]:
    """Return the demand weight of every road node (summing to 1) and what it is made of."""
    parts: dict[str, tuple[FloatArray, str]] = {"population": _population(region, options)}
    if options.incidents_paths:
        parts["incidents"] = _incidents(region, options.incidents_paths)
    parts["sites"] = _sites(region, options.hour)
    mix = np.zeros(region.graph.n_nodes)
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
    return mix, sources


def _candidates(
    region: Region,
    engine: TravelTimeEngine,
    mix: FloatArray,
    *,
    candidates_path: Path | None,
    n_generated: int,
    spacing_m: float,
) -> tuple[IntArray, list[str], list[str]]:
    """Return candidate base nodes, names and kinds: police stations, the user's, junctions."""
    g = region.graph
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
    return np.array(nodes, dtype=np.int64), names, kinds


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
    stds = _check_standards(standards_s)
    mix, sources = _demand_mix(region, options)
    atoms = np.flatnonzero(mix > 0).astype(np.int64)
    area = _area_types(region)
    area_type = tuple(area[int(n)] for n in atoms)
    std = np.array([stds[a] for a in area_type])
    engine = graph_engine(region.graph, profile="blue_light")
    cand, names, kinds = _candidates(
        region,
        engine,
        mix,
        candidates_path=candidates_path,
        n_generated=n_generated,
        spacing_m=spacing_m,
    )
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
