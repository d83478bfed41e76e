"""GeoJSON layers for the operations-room map, drawn from a region's own data.

The basemap is the region's road graph, grouped by road class (major, middle,
minor), each direction of a two-way road drawn once, merged into long lines and
simplified (Douglas-Peucker in degrees) so a county draws in well under a
second. Nothing here fetches tiles or fonts: the map is entirely local.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from watchfloor.errors import NotFoundError
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph
from watchfloor.services.operations import PlanBody
from watchfloor.sites.register import SiteRegister

__all__ = [
    "ROAD_GROUPS",
    "arv_bases_geojson",
    "arv_isochrones_geojson",
    "basemap_from_graph",
    "feature_collection",
    "patrols_geojson",
    "plan_layers",
    "site_detail",
    "sites_geojson",
    "tension_geojson",
]

log = logging.getLogger(__name__)

#: Drawing groups of road classes, from the most to the least important.
ROAD_GROUPS: dict[str, tuple[str, ...]] = {
    "major": ("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link"),
    "middle": ("secondary", "secondary_link", "tertiary", "tertiary_link"),
    "minor": ("unclassified", "residential", "living_street", "service", "road"),
}

# Simplification tolerance in degrees (about 5 m, 10 m and 20 m at 52 N): the
# map is read at town scale, where a few metres are invisible.
_TOLERANCE_DEG = {"major": 0.00005, "middle": 0.0001, "minor": 0.0002}


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection holding ``features``."""
    return {"type": "FeatureCollection", "features": features}


def _group_codes() -> dict[str, npt.NDArray[np.uint8]]:
    index = {name: i for i, name in enumerate(ROAD_CLASSES)}
    return {
        group: np.array([index[c] for c in classes if c in index], dtype=np.uint8)
        for group, classes in ROAD_GROUPS.items()
    }


def basemap_from_graph(
    graph: RoadGraph,
    *,
    groups: tuple[str, ...] = tuple(ROAD_GROUPS),
    max_minor_edges: int = 150_000,
    bbox: tuple[float, float, float, float] | None = None,
) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection of the road network, one feature per road group.

    Parameters
    ----------
    graph
        The region's road graph; its edge geometry is used when present,
        otherwise straight segments between the end nodes.
    groups
        The road groups (keys of :data:`ROAD_GROUPS`) to draw.
    max_minor_edges
        When the graph has more minor-road edges than this, minor roads are
        left out (the overview map of a large county stays fast; main roads
        still show the shape of the place, and the dashboard asks for the
        minor roads of the area in view when the user zooms in).
    bbox
        ``(west, south, east, north)``: only roads with an end inside it.

    Returns
    -------
    dict
        FeatureCollection; each feature has ``properties.group`` in
        :data:`ROAD_GROUPS` and a MultiLineString geometry with coordinates
        rounded to 5 decimals (about 1 m).
    """
    tails = graph.edge_tails().astype(np.int64)
    heads = graph.indices.astype(np.int64)
    # Draw each undirected road once: keep u < v, plus one-way edges whose
    # reverse does not exist.
    key_fwd = tails * graph.n_nodes + heads
    key_rev = heads * graph.n_nodes + tails
    has_reverse = np.isin(key_fwd, key_rev)
    keep = (tails < heads) | ~has_reverse
    if bbox is not None:
        west, south, east, north = bbox
        inside = (
            (graph.lon >= west) & (graph.lon <= east) & (graph.lat >= south) & (graph.lat <= north)
        )
        keep &= inside[tails] | inside[heads]
    features: list[dict[str, Any]] = []
    for group, codes in _group_codes().items():
        if group not in groups:
            continue
        edges = np.flatnonzero(keep & np.isin(graph.road_class, codes))
        if group == "minor" and edges.size > max_minor_edges:
            log.info(
                "basemap: %d minor-road edges left out (limit %d)", edges.size, max_minor_edges
            )
            continue
        if edges.size == 0:
            continue
        lines = _edge_lines(graph, edges, tails, heads)
        merged = shapely.line_merge(shapely.multilinestrings(lines))
        simple = shapely.simplify(merged, _TOLERANCE_DEG[group], preserve_topology=False)
        geometry = shapely.geometry.mapping(shapely.set_precision(simple, 1e-5))
        if geometry["type"] == "LineString":
            geometry = {"type": "MultiLineString", "coordinates": [geometry["coordinates"]]}
        features.append({"type": "Feature", "properties": {"group": group}, "geometry": geometry})
        log.info("basemap: %s roads from %d edges", group, edges.size)
    return feature_collection(features)


def _edge_lines(
    graph: RoadGraph,
    edges: npt.NDArray[np.intp],
    tails: npt.NDArray[np.int64],
    heads: npt.NDArray[np.int64],
) -> list[Any]:
    offsets, coords = graph.geometry_offsets, graph.geometry_lonlat
    if offsets is not None and coords is not None:
        starts, ends = offsets[edges], offsets[edges + 1]
        usable = ends - starts >= 2
    else:
        usable = np.zeros(edges.size, dtype=bool)
    lines: list[Any] = []
    straight = edges[~usable]
    if straight.size:
        pts = np.stack(
            [
                np.column_stack([graph.lon[tails[straight]], graph.lat[tails[straight]]]),
                np.column_stack([graph.lon[heads[straight]], graph.lat[heads[straight]]]),
            ],
            axis=1,
        )
        lines.extend(shapely.linestrings(pts))
    if usable.any() and offsets is not None and coords is not None:
        lines.extend(
            shapely.linestrings(coords[int(s) : int(e)])
            for s, e in zip(starts[usable], ends[usable], strict=True)
        )
    return lines


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(float(lon), 5), round(float(lat), 5)]}


def sites_geojson(
    sites: SiteRegister, plan_body: PlanBody | None, *, n_reasons: int = 6
) -> dict[str, Any]:
    """Return every site as a GeoJSON point with its rank, risk (0-1 scaled) and reasons.

    Before the first plan every site has risk 0 and no rank. ``n_reasons``
    caps the reasons kept per site; with 0 the category, religion and reasons
    are left out (the map layer: a county has thousands of sites, and a click
    asks for one site's details with :func:`site_detail`).
    """
    ranked = {s.site_id: s for s in (plan_body.sites if plan_body else ())}
    top = max((s.risk for s in ranked.values()), default=0.0) or 1.0
    features: list[dict[str, Any]] = []
    for i, site_id in enumerate(sites.site_id):
        info = ranked.get(site_id)
        risk = info.risk if info is not None else 0.0
        props: dict[str, Any] = {
            "site_id": site_id,
            "name": sites.name[i] or sites.category[i],
            "kind": sites.kind[i],
            "rank": info.rank if info is not None else None,
            "risk": round(risk, 4),
            "risk_norm": round(risk / top, 3),
        }
        if n_reasons > 0:
            props["category"] = sites.category[i]
            props["religion"] = sites.religion[i]
            props["reasons"] = list(info.reasons if info is not None else ())[:n_reasons]
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": _point(sites.lon[i], sites.lat[i]),
            }
        )
    # Draw the riskiest last, on top.
    features.sort(key=lambda f: float(f["properties"]["risk"]))
    return feature_collection(features)


def site_detail(sites: SiteRegister, plan_body: PlanBody | None, site_id: str) -> dict[str, Any]:
    """Return one site's rank, risk, peak slot and reasons in the plan (None fields before one).

    Raises
    ------
    NotFoundError
        When the region has no site ``site_id``.
    """
    index = {s: i for i, s in enumerate(sites.site_id)}
    if site_id not in index:
        msg = f"no site {site_id!r} in this region; click a site on the map"
        raise NotFoundError(msg)
    i = index[site_id]
    info = next((s for s in (plan_body.sites if plan_body else ()) if s.site_id == site_id), None)
    return {
        "site_id": site_id,
        "name": sites.name[i] or sites.category[i],
        "kind": sites.kind[i],
        "category": sites.category[i],
        "religion": sites.religion[i],
        "lon": round(float(sites.lon[i]), 6),
        "lat": round(float(sites.lat[i]), 6),
        "rank": info.rank if info is not None else None,
        "risk": info.risk if info is not None else None,
        "peak_slot": info.peak_slot.isoformat() if info is not None else None,
        "reasons": list(info.reasons) if info is not None else [],
    }


def patrols_geojson(
    plan_body: PlanBody | None, *, shift: str, tolerance_deg: float = 0.0
) -> dict[str, Any]:
    """Return a shift's patrol routes (``type=route`` lines) and visits (``type=visit`` points).

    With ``tolerance_deg`` above 0 each route is simplified (Douglas-Peucker)
    and rounded to 5 decimals for drawing; the plan keeps the full path.
    """
    features: list[dict[str, Any]] = []
    body = plan_body.shift(shift) if plan_body else None
    if body is not None:
        for unit in body.units:
            props = {"unit": unit.unit, "unit_index": unit.unit_index}
            path = unit.path
            if len(path) >= 2:
                features.append(
                    {
                        "type": "Feature",
                        "properties": {**props, "type": "route", "mode": unit.mode},
                        "geometry": {
                            "type": "LineString",
                            "coordinates": _simplified(path, tolerance_deg),
                        },
                    }
                )
            for k, visit in enumerate(unit.visits):
                features.append(
                    {
                        "type": "Feature",
                        "properties": {
                            **props,
                            "type": "visit",
                            "order": k + 1,
                            "site_id": visit.site_id,
                            "name": visit.name,
                            "arrive": visit.arrive.isoformat(),
                            "depart": visit.depart.isoformat(),
                        },
                        "geometry": _point(visit.lon, visit.lat),
                    }
                )
    return feature_collection(features)


def _simplified(path: list[list[float]], tolerance_deg: float) -> list[list[float]]:
    if tolerance_deg <= 0:
        return path
    line = shapely.simplify(shapely.linestrings(path), tolerance_deg, preserve_topology=False)
    coords = np.round(shapely.get_coordinates(line), 5)
    out: list[list[float]] = coords.tolist()
    return out if len(out) >= 2 else [path[0], path[-1]]


def arv_bases_geojson(plan_body: PlanBody | None) -> dict[str, Any]:
    """Return the ARV standby bases of the plan as GeoJSON points."""
    features = [
        {
            "type": "Feature",
            "properties": {
                "unit": base.unit,
                "name": base.name,
                "kind": base.kind,
                "node": base.node,
            },
            "geometry": _point(base.lon, base.lat),
        }
        for base in (plan_body.arv_bases if plan_body else ())
    ]
    return feature_collection(features)


def arv_isochrones_geojson(plan_body: PlanBody | None) -> dict[str, Any]:
    """Return the isochrones of the ARV bases (their response-standard reach)."""
    arv = plan_body.arv if plan_body else None
    iso = arv.isochrones if arv is not None else {}
    return feature_collection(list(iso.get("features", [])))


def tension_geojson(plan_body: PlanBody | None) -> dict[str, Any]:
    """Return the tension areas of the plan with their ``level`` (1-5)."""
    tension = plan_body.tension if plan_body else {}
    return feature_collection(list(tension.get("features", [])))


#: Simplification of patrol routes drawn on the map (degrees, about 10 m at 52 N).
ROUTE_TOLERANCE_DEG = 0.0001


def plan_layers(sites: SiteRegister, plan_body: PlanBody | None, *, shift: str) -> dict[str, Any]:
    """Return every plan layer of the map in one object, for one request per plan.

    Keys: ``sites`` (without reasons), ``patrols`` (routes simplified for
    drawing), ``arv``, ``isochrones`` and ``tension``, each a FeatureCollection.
    """
    return {
        "sites": sites_geojson(sites, plan_body, n_reasons=0),
        "patrols": patrols_geojson(plan_body, shift=shift, tolerance_deg=ROUTE_TOLERANCE_DEG),
        "arv": arv_bases_geojson(plan_body),
        "isochrones": arv_isochrones_geojson(plan_body),
        "tension": tension_geojson(plan_body),
    }
