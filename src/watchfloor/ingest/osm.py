"""OpenStreetMap extracts (``.osm.pbf``, or ``.osm`` XML) to a road graph and site register.

This is the only module that imports :mod:`osmium`. One pass over the file
(with node locations and area assembly) collects drivable ways and candidate
sites; the rest is numpy.

Drivable ways
    ``highway`` in :data:`~watchfloor.roads.graph.ROAD_CLASSES` (motorway to
    service, living_street, road). Excluded: ``access`` private, no,
    agricultural or forestry (unless ``motor_vehicle``/``motorcar`` allows
    cars), ``motor_vehicle``/``motorcar`` no or private, ``area=yes``
    (pedestrian squares), ``oneway`` reversible/alternating. Not drivable by
    class: footway, path, cycleway, bridleway, steps, pedestrian, and
    ``track`` (field and forest tracks: unsurfaced, mostly gated, not a
    route a response car is sent down). ``service=parking_aisle`` and
    ``drive-through`` are dropped: car-park circulation adds dead ends that
    attract site snapping without changing who reaches what; driveways
    stay, as they lead to the buildings sites are in.
Oneway
    ``oneway`` yes/true/1 forward, -1/reverse backward, no/false/0 both;
    ``junction=roundabout``/``circular`` and ``highway=motorway``/
    ``motorway_link`` are oneway unless tagged ``oneway=no``.
Graph
    Ways are split at nodes shared with other ways (and at their ends);
    the chain of geometry nodes in between becomes one edge keeping its
    full polyline. Lengths are great-circle metres along the polyline;
    speeds come from :mod:`watchfloor.roads.speeds`. Only the largest
    strongly connected component is kept (its share is logged).
Sites
    Nodes, closed ways and multipolygons tagged as in :data:`SITE_RULES`;
    each OSM object gives at most one site (keys are tried in the order
    they first appear there, amenity first; the first match wins). A node
    site lying inside or on an area site of the same kind and category is
    the same feature mapped twice (a ``place_of_worship`` node inside the
    church outline) and counts once: the area is kept and inherits the
    node's name, religion and denomination where it has none.
    Night-time-economy venues within 150 m of each other (single linkage)
    form a zone when there are at least 3 of them.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import osmium
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from watchfloor.errors import IngestError
from watchfloor.geo import bng_to_lonlat, haversine_m, lonlat_to_bng
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph
from watchfloor.roads.speeds import effective_speed_kph
from watchfloor.sites.register import SiteRegister

__all__ = [
    "NTE_ZONE_MIN_VENUES",
    "NTE_ZONE_RADIUS_M",
    "SITE_RULES",
    "OsmExtract",
    "classify_site",
    "extract_from_osm",
    "oneway_direction",
    "read_header",
]

log = logging.getLogger(__name__)

NTE_ZONE_RADIUS_M = 150.0
NTE_ZONE_MIN_VENUES = 3

#: (tag key, tag value, kind, category), tried in order; the first match wins.
SITE_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("amenity", "police", "police_station", "police_station"),
    ("amenity", "hospital", "hospital", "hospital"),
    ("amenity", "place_of_worship", "place_of_worship", "place_of_worship"),
    ("amenity", "school", "school", "school"),
    ("amenity", "college", "school", "college"),
    ("leisure", "stadium", "crowded_place", "stadium"),
    ("shop", "mall", "crowded_place", "mall"),
    ("shop", "shopping_centre", "crowded_place", "mall"),
    ("railway", "station", "crowded_place", "station"),
    ("amenity", "bus_station", "crowded_place", "bus_station"),
    ("amenity", "theatre", "crowded_place", "theatre"),
    ("amenity", "cinema", "crowded_place", "cinema"),
    ("amenity", "arts_centre", "crowded_place", "arts_centre"),
    ("amenity", "events_venue", "crowded_place", "events_venue"),
    ("amenity", "conference_centre", "crowded_place", "events_venue"),
    ("amenity", "marketplace", "crowded_place", "marketplace"),
    ("tourism", "theme_park", "crowded_place", "attraction"),
    ("tourism", "zoo", "crowded_place", "attraction"),
    ("tourism", "attraction", "crowded_place", "attraction"),
    ("amenity", "nightclub", "nte_venue", "nightclub"),
    ("amenity", "bar", "nte_venue", "bar"),
    ("amenity", "pub", "nte_venue", "pub"),
    ("amenity", "biergarten", "nte_venue", "biergarten"),
    ("place", "city", "town_centre", "city"),
    ("place", "town", "town_centre", "town"),
    ("place", "village", "town_centre", "village"),
)
_SITE_KEYS = (*dict.fromkeys(rule[0] for rule in SITE_RULES), "public_transport")
_RULES_BY_KEY: dict[str, dict[str, tuple[str, str]]] = {}
for _key, _value, _kind, _category in SITE_RULES:
    _RULES_BY_KEY.setdefault(_key, {})[_value] = (_kind, _category)

_CLASS_CODE = {name: code for code, name in enumerate(ROAD_CLASSES)}
_NO_ACCESS = frozenset({"private", "no", "agricultural", "forestry"})
_CAR_ALLOWED = frozenset({"yes", "designated", "permissive", "destination"})
_EXCLUDED_SERVICE = frozenset({"parking_aisle", "drive-through"})
_FORWARD = frozenset({"yes", "true", "1"})
_BACKWARD = frozenset({"-1", "reverse"})
_BOTH = frozenset({"no", "false", "0"})
_IMPLIED_ONEWAY = frozenset({"motorway", "motorway_link"})


@dataclass(frozen=True, eq=False)
class OsmExtract:
    """What one OSM file yields.

    Attributes
    ----------
    graph : RoadGraph
        Drivable graph, largest strongly connected component only.
    sites : SiteRegister
        Sites (not yet snapped to the graph).
    stats : dict
        Counts and timings for the region metadata: ways read, nodes and
        edges before and after the SCC step, ``scc_share``, ``seconds``.
    header : dict
        ``replication_timestamp`` and ``bbox`` from the file header.
    """

    graph: RoadGraph
    sites: SiteRegister
    stats: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)


def oneway_direction(tags: Any, highway: str) -> int | None:
    """Return 1 (forward only), -1 (backward only), 0 (both ways) or None (not routable).

    ``tags`` is any mapping-like with ``.get`` (an osmium TagList or a dict).
    """
    value = (tags.get("oneway") or "").strip().lower()
    if value in _FORWARD:
        return 1
    if value in _BACKWARD:
        return -1
    if value in _BOTH:
        return 0
    if value in {"reversible", "alternating"}:
        return None
    if tags.get("junction") in {"roundabout", "circular"} or highway in _IMPLIED_ONEWAY:
        return 1
    return 0


def _drivable(tags: Any) -> str | None:
    highway = tags.get("highway")
    if highway not in _CLASS_CODE:
        return None
    if tags.get("area") == "yes":
        return None
    if tags.get("service") in _EXCLUDED_SERVICE:
        return None
    car = tags.get("motorcar") or tags.get("motor_vehicle")
    if car in _CAR_ALLOWED:
        return str(highway)
    if car in _NO_ACCESS:
        return None
    if tags.get("access") in _NO_ACCESS:
        return None
    return str(highway)


def classify_site(tags: Any) -> tuple[str, str] | None:
    """Return ``(kind, category)`` for an OSM object's tags, or None when it is no site."""
    for key, rules in _RULES_BY_KEY.items():
        value = tags.get(key)
        if value is not None and value in rules:
            return rules[value]
        if (
            key == "railway"
            and tags.get("public_transport") == "station"
            and tags.get("train") == "yes"
        ):
            return ("crowded_place", "station")
    return None


def read_header(path: Path) -> dict[str, Any]:
    """Return the file header: ``replication_timestamp`` (ISO text or "") and ``bbox``."""
    reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    try:
        header = reader.header()
        stamp = header.get("osmosis_replication_timestamp") or header.get("timestamp") or ""
        box = header.box()
        bbox: list[float] | None = None
        if box.valid():
            bbox = [
                float(box.bottom_left.lon),
                float(box.bottom_left.lat),
                float(box.top_right.lon),
                float(box.top_right.lat),
            ]
    finally:
        reader.close()
    return {"replication_timestamp": str(stamp), "bbox": bbox}


def _check_file(path: Path) -> None:
    if not path.exists():
        msg = f"{path} does not exist; check the path or download it with `watchfloor region fetch`"
        raise IngestError(msg)
    if not path.is_file():
        msg = f"{path} is not a file; give the path of an .osm.pbf extract"
        raise IngestError(msg)
    name = path.name.lower()
    if name.endswith((".osm", ".osm.gz", ".osm.bz2")):
        head = _head(path)
        if not head.strip():
            msg = f"{path} is empty; download the extract again"
            raise IngestError(msg)
        return
    with path.open("rb") as fh:
        head = fh.read(64)
    if len(head) < 16 or b"OSMHeader" not in head:
        msg = (
            f"{path} is not an OpenStreetMap PBF file (no OSMHeader block); "
            "give an .osm.pbf extract such as Geofabrik's"
        )
        raise IngestError(msg)


def _head(path: Path) -> bytes:
    name = path.name.lower()
    opener: Callable[..., Any] = (
        gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    )
    with opener(path, "rb") as fh:
        data: bytes = fh.read(256)
    return data


@dataclass
class _Collected:
    way_ids: list[int] = field(default_factory=list)
    way_class: list[int] = field(default_factory=list)
    way_speed: list[float] = field(default_factory=list)
    way_dir: list[int] = field(default_factory=list)
    way_len: list[int] = field(default_factory=list)
    refs: list[int] = field(default_factory=list)
    lons: list[float] = field(default_factory=list)
    lats: list[float] = field(default_factory=list)
    site_rows: list[dict[str, Any]] = field(default_factory=list)
    n_highway_ways: int = 0


def _site_row(tags: Any, osm_type: str, osm_id: int, kind: str, category: str) -> dict[str, Any]:
    return {
        "site_id": osm_type[0] + str(osm_id),
        "kind": kind,
        "category": category,
        "name": tags.get("name") or "",
        "religion": tags.get("religion") or "",
        "denomination": tags.get("denomination") or "",
        "osm_type": osm_type,
        "osm_id": osm_id,
    }


def _collect(path: Path) -> _Collected:
    out = _Collected()
    wkb = osmium.geom.WKBFactory()
    area_filter = osmium.filter.KeyFilter(*_SITE_KEYS)
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas(area_filter)
        .with_filter(osmium.filter.EmptyTagFilter())
    )
    for obj in processor:
        tags = obj.tags
        if isinstance(obj, osmium.osm.Way):
            highway = tags.get("highway")
            if highway is None:
                continue
            out.n_highway_ways += 1
            road_class = _drivable(tags)
            if road_class is None:
                continue
            direction = oneway_direction(tags, road_class)
            if direction is None:
                continue
            nodes = obj.nodes
            if len(nodes) < 2:
                continue
            try:
                coords = [(n.ref, n.lon, n.lat) for n in nodes]
            except osmium.InvalidLocationError:
                log.debug("way %d has nodes outside the extract; skipped", obj.id)
                continue
            maxspeed = tags.get("maxspeed")
            if maxspeed is None:
                fwd, bwd = tags.get("maxspeed:forward"), tags.get("maxspeed:backward")
                maxspeed = ";".join(v for v in (fwd, bwd) if v) or None
            out.way_ids.append(obj.id)
            out.way_class.append(_CLASS_CODE[road_class])
            out.way_speed.append(effective_speed_kph(maxspeed, road_class))
            out.way_dir.append(direction)
            out.way_len.append(len(coords))
            for ref, lon, lat in coords:
                out.refs.append(ref)
                out.lons.append(lon)
                out.lats.append(lat)
        elif isinstance(obj, osmium.osm.Node):
            found = classify_site(tags)
            if found is None:
                continue
            loc = obj.location
            if not loc.valid():
                continue
            row = _site_row(tags, "node", obj.id, *found)
            row["lon"], row["lat"], row["geom"] = loc.lon, loc.lat, None
            out.site_rows.append(row)
        elif isinstance(obj, osmium.osm.Area):
            found = classify_site(tags)
            if found is None:
                continue
            try:
                geom = shapely.from_wkb(wkb.create_multipolygon(obj))
            except (RuntimeError, shapely.errors.GEOSException):
                log.debug("area %d has broken geometry; skipped", obj.orig_id())
                continue
            if geom.is_empty:
                continue
            point = geom.centroid
            if not geom.contains(point):
                point = geom.point_on_surface()
            osm_type = "way" if obj.from_way() else "relation"
            row = _site_row(tags, osm_type, obj.orig_id(), *found)
            row["lon"], row["lat"], row["geom"] = point.x, point.y, geom
            out.site_rows.append(row)
    return out


def _segments(
    is_node: npt.NDArray[np.bool_], way_of: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    cut = np.flatnonzero(is_node)
    a, b = cut[:-1], cut[1:]
    same_way = way_of[a] == way_of[b]
    return a[same_way], b[same_way]


def _split_parallel(
    refs: npt.NDArray[np.int64],
    way_of: npt.NDArray[np.int64],
    cum: npt.NDArray[np.float64],
    is_node: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return segment ends (positions) of a simple graph: no loops, no parallel edges.

    A closed loop is cut at two interior vertices and the longer of two roads
    joining the same junctions at its middle vertex, so every road keeps its
    geometry while the CSR has at most one edge per ordered node pair (which
    some graph routines require). Parallel straight segments with no vertex
    to cut at are the same road mapped twice: the shorter is kept.
    ``is_node`` is updated in place.
    """
    a, b = _segments(is_node, way_of)
    loop = (refs[a] == refs[b]) & (b - a >= 3)
    span = (b - a)[loop]
    is_node[a[loop] + span // 3] = True
    is_node[a[loop] + 2 * span // 3] = True
    a, b = _segments(is_node, way_of)

    def duplicates(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        lo, hi = np.minimum(refs[a], refs[b]), np.maximum(refs[a], refs[b])
        order = np.lexsort((cum[b] - cum[a], hi, lo))
        dup = np.zeros(a.shape[0], dtype=bool)
        dup[order[1:]] = (lo[order][1:] == lo[order][:-1]) & (hi[order][1:] == hi[order][:-1])
        return dup

    dup = duplicates(a, b)
    split = dup & (b - a >= 2)
    is_node[(a[split] + b[split]) // 2] = True
    a, b = _segments(is_node, way_of)
    drop = duplicates(a, b) | (refs[a] == refs[b])
    if drop.any():
        log.debug("dropped %d segments duplicating another or looping", int(drop.sum()))
    log.debug("cut %d loops and %d parallel roads", int(loop.sum()), int(split.sum()))
    return a[~drop], b[~drop]


def _build_graph(col: _Collected, *, boundary: Any | None) -> tuple[RoadGraph, dict[str, Any]]:
    refs = np.asarray(col.refs, dtype=np.int64)
    lons = np.asarray(col.lons, dtype=np.float64)
    lats = np.asarray(col.lats, dtype=np.float64)
    way_len = np.asarray(col.way_len, dtype=np.int64)
    n_ways = way_len.shape[0]
    way_of = np.repeat(np.arange(n_ways), way_len)
    starts = np.concatenate([[0], np.cumsum(way_len)[:-1]]).astype(np.int64)
    ends = starts + way_len - 1

    # A position is a graph node when its OSM node is used more than once
    # (shared with another way, or a way's loop) or it ends its way.
    _, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    is_node = counts[inverse] >= 2
    is_node[starts] = True
    is_node[ends] = True

    # Cumulative length along each way.
    seg = haversine_m(lons[:-1], lats[:-1], lons[1:], lats[1:])
    seg[way_of[:-1] != way_of[1:]] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(seg)])

    a, b = _split_parallel(refs, way_of, cum, is_node)
    cut = np.flatnonzero(is_node)
    way = way_of[a]
    length = cum[b] - cum[a]

    # Graph node numbering over OSM node ids that are graph nodes.
    node_ids, node_index = np.unique(refs[cut], return_inverse=True)
    node_of_pos = np.full(refs.shape[0], -1, dtype=np.int64)
    node_of_pos[cut] = node_index
    first_pos = np.full(node_ids.shape[0], 0, dtype=np.int64)
    first_pos[node_index[::-1]] = cut[::-1]
    node_lon, node_lat = lons[first_pos], lats[first_pos]
    u, v = node_of_pos[a], node_of_pos[b]

    direction = np.asarray(col.way_dir, dtype=np.int64)[way]
    fwd = direction >= 0
    bwd = direction <= 0
    tail = np.concatenate([u[fwd], v[bwd]])
    head = np.concatenate([v[fwd], u[bwd]])
    geo_from = np.concatenate([a[fwd], b[bwd]])
    geo_to = np.concatenate([b[fwd], a[bwd]])
    e_way = np.concatenate([way[fwd], way[bwd]])
    e_len = np.concatenate([length[fwd], length[bwd]])
    keep = tail != head  # self-loops never shorten a route
    tail, head, geo_from, geo_to, e_way, e_len = (
        x[keep] for x in (tail, head, geo_from, geo_to, e_way, e_len)
    )
    n_nodes_all, n_edges_all = int(node_ids.shape[0]), int(tail.shape[0])

    if boundary is not None:
        inside = shapely.contains_xy(boundary, node_lon, node_lat)
        keep = inside[tail] & inside[head]
        if not keep.any():
            msg = (
                "the boundary does not contain any of the extract's roads; check that it "
                "is in WGS84 lon/lat and covers the extract's area"
            )
            raise IngestError(msg)
        tail, head, geo_from, geo_to, e_way, e_len = (
            x[keep] for x in (tail, head, geo_from, geo_to, e_way, e_len)
        )

    # Largest strongly connected component.
    n = node_ids.shape[0]
    adj = coo_matrix((np.ones(tail.shape[0]), (tail, head)), shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=True, connection="strong")
    touched = np.zeros(n, dtype=bool)
    touched[tail] = True
    touched[head] = True
    sizes = np.bincount(labels[touched], minlength=int(labels.max()) + 1)
    biggest = int(np.argmax(sizes))
    in_scc = labels == biggest
    n_candidates = int(touched.sum())
    scc_share = float(in_scc.sum()) / n_candidates if n_candidates else 0.0

    keep = in_scc[tail] & in_scc[head]
    tail, head, geo_from, geo_to, e_way, e_len = (
        x[keep] for x in (tail, head, geo_from, geo_to, e_way, e_len)
    )
    new_index = np.cumsum(in_scc) - 1
    tail, head = new_index[tail], new_index[head]
    node_ids, node_lon, node_lat = node_ids[in_scc], node_lon[in_scc], node_lat[in_scc]

    order = np.lexsort((head, tail))
    tail, head, geo_from, geo_to, e_way, e_len = (
        x[order] for x in (tail, head, geo_from, geo_to, e_way, e_len)
    )
    n = int(node_ids.shape[0])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])

    # Polylines: positions geo_from .. geo_to (either direction), inclusive.
    n_pts = np.abs(geo_to - geo_from) + 1
    offsets = np.zeros(n_pts.shape[0] + 1, dtype=np.int64)
    np.cumsum(n_pts, out=offsets[1:])
    step = np.sign(geo_to - geo_from)
    local = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1], n_pts)
    pos = np.repeat(geo_from, n_pts) + np.repeat(step, n_pts) * local
    geometry = np.column_stack([lons[pos], lats[pos]])

    way_speed = np.asarray(col.way_speed, dtype=np.float64)
    way_class = np.asarray(col.way_class, dtype=np.uint8)
    speed_kph = way_speed[e_way]
    x_m, y_m = lonlat_to_bng(node_lon, node_lat)
    graph = RoadGraph(
        indptr=indptr,
        indices=head.astype(np.int32),
        travel_time_s=e_len / (speed_kph / 3.6),
        length_m=e_len,
        speed_kph=speed_kph,
        road_class=way_class[e_way],
        lon=node_lon,
        lat=node_lat,
        x_m=x_m,
        y_m=y_m,
        node_osm_id=node_ids,
        edge_way_id=np.asarray(col.way_ids, dtype=np.int64)[e_way],
        geometry_offsets=offsets,
        geometry_lonlat=geometry,
    )
    stats = {
        "drivable_ways": n_ways,
        "nodes_before_scc": n_candidates,
        "edges_before_scc": int(keep.shape[0]),
        "nodes_all_components": n_nodes_all,
        "edges_all_components": n_edges_all,
        "nodes": graph.n_nodes,
        "edges": graph.n_edges,
        "scc_share": scc_share,
    }
    return graph, stats


def _dedupe_sites(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop node sites lying in or on an area site of the same kind and category."""
    areas = [r for r in rows if r["geom"] is not None]
    if not areas:
        return rows
    tree = shapely.STRtree([r["geom"] for r in areas])
    dropped: set[str] = set()
    for row in rows:
        if row["geom"] is not None:
            continue
        point = shapely.Point(row["lon"], row["lat"])
        for i in tree.query(point, predicate="intersects"):
            area = areas[int(i)]
            if area["kind"] == row["kind"] and area["category"] == row["category"]:
                for key in ("name", "religion", "denomination"):
                    if not area[key] and row[key]:
                        area[key] = row[key]
                dropped.add(row["site_id"])
                break
    if dropped:
        log.info("%d node sites mapped again as areas were merged into them", len(dropped))
    return [r for r in rows if r["site_id"] not in dropped]


def _nte_zones(
    rows: list[dict[str, Any]], x_m: npt.NDArray[np.float64], y_m: npt.NDArray[np.float64]
) -> list[dict[str, Any]]:
    venue = np.array([r["kind"] == "nte_venue" for r in rows], dtype=bool)
    idx = np.flatnonzero(venue)
    if idx.shape[0] < NTE_ZONE_MIN_VENUES:
        return []
    pts = np.column_stack([x_m[idx], y_m[idx]])
    pairs = cKDTree(pts).query_pairs(NTE_ZONE_RADIUS_M, output_type="ndarray")
    k = idx.shape[0]
    adj = coo_matrix((np.ones(pairs.shape[0]), (pairs[:, 0], pairs[:, 1])), shape=(k, k))
    n_comp, labels = connected_components(adj, directed=False)
    towns = [i for i, r in enumerate(rows) if r["kind"] == "town_centre" and r["name"]]
    town_tree = cKDTree(np.column_stack([x_m[towns], y_m[towns]])) if towns else None
    groups = []
    for comp in range(n_comp):
        members = idx[labels == comp]
        if members.shape[0] >= NTE_ZONE_MIN_VENUES:
            groups.append(sorted(members.tolist(), key=lambda i: rows[i]["site_id"]))
    groups.sort(key=lambda g: rows[g[0]]["site_id"])
    zones = []
    for number, members in enumerate(groups, start=1):
        zx, zy = float(x_m[members].mean()), float(y_m[members].mean())
        name = f"night-time economy zone {number}"
        if town_tree is not None:
            dist, t = town_tree.query([zx, zy])
            if dist <= 3000.0:
                name = f"{rows[towns[int(t)]]['name']} night-time economy"
        zones.append(
            {
                "site_id": f"z{number}",
                "kind": "nte_zone",
                "category": "nte_zone",
                "name": name,
                "religion": "",
                "denomination": "",
                "osm_type": "zone",
                "osm_id": number,
                "x_m": zx,
                "y_m": zy,
                "members": len(members),
            }
        )
    return zones


def _build_sites(rows: list[dict[str, Any]], *, boundary: Any | None) -> SiteRegister:
    rows = _dedupe_sites(rows)
    if boundary is not None and rows:
        lon = np.array([r["lon"] for r in rows])
        lat = np.array([r["lat"] for r in rows])
        inside = shapely.contains_xy(boundary, lon, lat)
        rows = [r for r, keep in zip(rows, inside, strict=True) if keep]
    rows.sort(key=lambda r: (r["kind"], r["osm_type"], r["osm_id"]))
    lon = np.array([r["lon"] for r in rows], dtype=np.float64)
    lat = np.array([r["lat"] for r in rows], dtype=np.float64)
    x_m, y_m = lonlat_to_bng(lon, lat)
    zones = _nte_zones(rows, x_m, y_m)
    if zones:
        zx = np.array([z["x_m"] for z in zones])
        zy = np.array([z["y_m"] for z in zones])
        zlon, zlat = bng_to_lonlat(zx, zy)
        lon, lat = np.concatenate([lon, zlon]), np.concatenate([lat, zlat])
        x_m, y_m = np.concatenate([x_m, zx]), np.concatenate([y_m, zy])
    all_rows = rows + zones
    columns: dict[str, Any] = {
        name: [r[name] for r in all_rows]
        for name in ("site_id", "kind", "category", "name", "religion", "denomination", "osm_type")
    }
    columns["osm_id"] = [r["osm_id"] for r in all_rows]
    columns["members"] = [r.get("members", 1) for r in all_rows]
    columns.update(lon=lon, lat=lat, x_m=x_m, y_m=y_m)
    return SiteRegister.from_columns(columns)


def extract_from_osm(path: Path, *, boundary: Any | None = None) -> OsmExtract:
    """Return the drivable road graph and the sites of an OSM file.

    Parameters
    ----------
    path
        An ``.osm.pbf`` extract (or ``.osm`` XML, for small hand-made files).
    boundary
        Optional shapely (Multi)Polygon in WGS84: only roads with both ends
        inside and sites inside it are kept.

    Raises
    ------
    IngestError
        When the file is missing, not an OSM file, truncated or damaged, holds
        no drivable roads, or the boundary contains none of them.
    """
    started = time.perf_counter()
    path = Path(path)
    _check_file(path)
    try:
        header = read_header(path)
        col = _collect(path)
    except RuntimeError as exc:
        msg = (
            f"{path.name} cannot be read as OpenStreetMap data ({exc}); "
            "the file is truncated or damaged: download it again"
        )
        raise IngestError(msg) from None
    if not col.way_ids:
        msg = (
            f"{path.name} holds no drivable roads ({col.n_highway_ways} highway ways, "
            "none drivable); give an extract that covers roads"
        )
        raise IngestError(msg)
    graph, stats = _build_graph(col, boundary=boundary)
    if graph.n_edges == 0:
        msg = (
            f"{path.name} holds no connected drivable roads; "
            "give an extract that covers a road network"
        )
        raise IngestError(msg)
    sites = _build_sites(col.site_rows, boundary=boundary)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "built road graph from %s: %d nodes, %d edges, largest SCC %.1f %% of %d nodes; %d sites",
        path.name,
        graph.n_nodes,
        graph.n_edges,
        100.0 * stats["scc_share"],
        stats["nodes_before_scc"],
        len(sites),
    )
    return OsmExtract(graph=graph, sites=sites, stats=stats, header=header)
