"""Both real Rutland extracts build, and their sites match an independent count.

The independent count is a separate, plain osmium pass: every node, closed way and
multipolygon relation carrying one of a kind's tags counts once, minus the nodes
that lie inside or on a closed way carrying the same tag (the dedup rule: a
feature mapped as a point and as an outline counts once).
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from watchfloor.ingest.osm import NTE_ZONE_MIN_VENUES, NTE_ZONE_RADIUS_M, extract_from_osm

EXTRACTS = ["rutland-2022-07-20.osm.pbf", "rutland-2018-02-27.osm.pbf"]

# kind -> the (key, value) tags that make it, written out independently of the code.
KIND_TAGS = {
    "place_of_worship": [("amenity", "place_of_worship")],
    "police_station": [("amenity", "police")],
    "hospital": [("amenity", "hospital")],
    "school": [("amenity", "school"), ("amenity", "college")],
    "nte_venue": [("amenity", v) for v in ("pub", "bar", "nightclub", "biergarten")],
    "town_centre": [("place", v) for v in ("city", "town", "village")],
    "crowded_place": [
        ("leisure", "stadium"),
        ("shop", "mall"),
        ("shop", "shopping_centre"),
        ("railway", "station"),
        ("tourism", "attraction"),
        ("tourism", "theme_park"),
        ("tourism", "zoo"),
    ]
    + [
        ("amenity", v)
        for v in (
            "bus_station",
            "theatre",
            "cinema",
            "arts_centre",
            "events_venue",
            "conference_centre",
            "marketplace",
        )
    ],
}


@functools.cache
def independent_counts(path: Path) -> tuple[Counter[str], Counter[str]]:
    """Return (raw objects per kind, per kind after dropping nodes inside same-tag ways)."""
    raw: Counter[str] = Counter()
    points: list[tuple[str, str, float, float]] = []
    outlines: list[tuple[str, str, shapely.Polygon]] = []
    keys = osmium.filter.KeyFilter(*{k for pairs in KIND_TAGS.values() for k, _ in pairs})
    for obj in osmium.FileProcessor(str(path)).with_locations().with_filter(keys):
        tags = dict(obj.tags)
        for kind, pairs in KIND_TAGS.items():
            tag = next((f"{k}={v}" for k, v in pairs if tags.get(k) == v), None)
            if tag is None:
                continue
            if isinstance(obj, osmium.osm.Node):
                raw[kind] += 1
                points.append((kind, tag, obj.location.lon, obj.location.lat))
            elif isinstance(obj, osmium.osm.Way) and obj.is_closed() and len(obj.nodes) >= 4:
                raw[kind] += 1
                ring = [(n.lon, n.lat) for n in obj.nodes]
                outlines.append((kind, tag, shapely.Polygon(ring)))
            elif isinstance(obj, osmium.osm.Relation) and tags.get("type") == "multipolygon":
                raw[kind] += 1
    deduped = Counter(raw)
    for kind, tag, lon, lat in points:
        point = shapely.Point(lon, lat)
        if any(k == kind and t == tag and poly.covers(point) for k, t, poly in outlines):
            deduped[kind] -= 1
    return raw, deduped


@pytest.mark.parametrize("name", EXTRACTS)
def test_site_counts_match_an_independent_count(data_dir: Path, name: str) -> None:
    _, expected = independent_counts(data_dir / name)
    sites = extract_from_osm(data_dir / name).sites
    counts = sites.counts_by_kind()
    for kind in KIND_TAGS:
        assert counts[kind] == expected[kind], kind
    assert len(set(sites.site_id)) == len(sites)


def test_places_of_worship_known_numbers(data_dir: Path) -> None:
    # The data README: 64 amenity=place_of_worship objects in 2022, 66 in 2018.
    raw22, _ = independent_counts(data_dir / "rutland-2022-07-20.osm.pbf")
    raw18, _ = independent_counts(data_dir / "rutland-2018-02-27.osm.pbf")
    assert raw22["place_of_worship"] == 64
    assert raw18["place_of_worship"] == 66
    # 2022: no place_of_worship node lies in a place_of_worship outline: 64 sites.
    # 2018: one (unnamed node 60153727) lies inside a church outline: 65 sites.
    pow22 = extract_from_osm(data_dir / "rutland-2022-07-20.osm.pbf").sites
    pow18 = extract_from_osm(data_dir / "rutland-2018-02-27.osm.pbf").sites
    assert pow22.counts_by_kind()["place_of_worship"] == 64
    assert pow18.counts_by_kind()["place_of_worship"] == 65
    assert "n60153727" not in pow18.site_id


@pytest.mark.parametrize("name", EXTRACTS)
def test_nte_zones_match_brute_force_single_linkage(data_dir: Path, name: str) -> None:
    sites = extract_from_osm(data_dir / name).sites
    venues = sites.select(kind="nte_venue")
    xy = np.column_stack([venues.x_m, venues.y_m])
    # Union-find over all pairs closer than the radius.
    parent = list(range(len(venues)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(venues)):
        for j in range(i + 1, len(venues)):
            if np.hypot(*(xy[i] - xy[j])) <= NTE_ZONE_RADIUS_M:
                parent[find(i)] = find(j)
    sizes = Counter(find(i) for i in range(len(venues)))
    expected = sorted(s for s in sizes.values() if s >= NTE_ZONE_MIN_VENUES)
    zones = sites.select(kind="nte_zone")
    assert sorted(zones.members.tolist()) == expected
    assert expected  # Oakham and Uppingham both have a cluster of pubs


@pytest.mark.parametrize("name", EXTRACTS)
def test_graph_is_one_strongly_connected_component(data_dir: Path, name: str) -> None:
    extract = extract_from_osm(data_dir / name)
    graph = extract.graph
    n = graph.n_nodes
    adj = csr_matrix((np.ones(graph.n_edges), graph.indices, graph.indptr), shape=(n, n))
    n_comp, _ = connected_components(adj, directed=True, connection="strong")
    assert n_comp == 1
    # A simple graph: no self-loops, at most one edge per ordered node pair.
    tails = graph.edge_tails()
    assert (tails != graph.indices).all()
    assert len(set(zip(tails.tolist(), graph.indices.tolist(), strict=True))) == graph.n_edges
    assert 0.9 < extract.stats["scc_share"] <= 1.0
    assert extract.header["replication_timestamp"].startswith(name[8:18])
    assert (graph.travel_time_s > 0).all()
    assert (graph.length_m > 0).all()
    # Every node lies in the header bbox (Geofabrik keeps whole ways, which may reach
    # a little past it: allow 0.05 degrees).
    west, south, east, north = extract.header["bbox"]
    assert (graph.lon > west - 0.05).all()
    assert (graph.lon < east + 0.05).all()
    assert (graph.lat > south - 0.05).all()
    assert (graph.lat < north + 0.05).all()


def test_rutland_2022_road_figures(data_dir: Path) -> None:
    extract = extract_from_osm(data_dir / "rutland-2022-07-20.osm.pbf")
    graph = extract.graph
    # Rutland (382 km^2) has about 900 km of public road (DfT road length statistics);
    # OSM adds service roads but the SCC step drops islands. Half the directed length
    # (two-way roads count twice) must be in that range: 831 km measured.
    one_way = graph.length_m.sum() / 2 / 1000
    assert 700 < one_way < 1100
    # Mean speed over the network between 25 and 70 km/h.
    mean_kph = graph.length_m.sum() / graph.travel_time_s.sum() * 3.6
    assert 25 < mean_kph < 70
