"""OSM ingest: drivable ways, oneway rules, SCC, sites and dedup on tiny hand-written files."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from watchfloor.errors import IngestError
from watchfloor.geo import haversine_m
from watchfloor.ingest.osm import (
    classify_site,
    extract_from_osm,
    oneway_direction,
)
from watchfloor.roads.graph import ROAD_CLASSES
from watchfloor.roads.speeds import KPH_PER_MPH

# Node positions near Oakham, about 140 m apart (lon step 0.002 deg, lat step 0.0013 deg).
LON0, LAT0 = -0.72, 52.67


def write_osm(
    path: Path,
    nodes: dict[int, tuple[float, float, dict[str, str]]],
    ways: dict[int, tuple[list[int], dict[str, str]]],
) -> Path:
    """Write a minimal OSM XML file: nodes {id: (lon, lat, tags)}, ways {id: (refs, tags)}."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lon, lat, tags) in sorted(nodes.items()):
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{body}</node>')
    for wid, (refs, tags) in sorted(ways.items()):
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{wid}" version="1">{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def grid(
    i: float, j: float, tags: dict[str, str] | None = None
) -> tuple[float, float, dict[str, str]]:
    return (LON0 + 0.002 * i, LAT0 + 0.0013 * j, tags or {})


def road(refs: list[int], **tags: str) -> tuple[list[int], dict[str, str]]:
    return (refs, {"highway": tags.pop("highway", "residential"), **tags})


@pytest.fixture
def oneway_file(tmp_path: Path) -> Path:
    """A square 1-2-3-4 with one oneway rule per side, plus roads that must be excluded.

    Layout (grid units)::

        4 (0,1) ---- 3 (1,1)
        |          / |
        |       5    |        5 = interior geometry node of way 14 (1-5-3)
        |     /      |
        1 (0,0) ---- 2 (1,0) ---- 10 (2,0)

    Known answer: graph nodes {1, 2, 3, 4}; directed edges 1->2 (oneway=yes),
    2->3 (way drawn 3-2 with oneway=-1), 3->4 (roundabout), 4->1 (motorway,
    implied oneway), 1<->3 (two-way, through 5), 2<->4 (access=no but
    motorcar=yes). Dropped: footway 2-6, private road 4-7 and the road 7-8
    behind it (its own component), parking aisle 1-9, and the oneway
    dead-end 2->10 (not strongly connected).
    """
    nodes = {
        1: grid(0, 0),
        2: grid(1, 0),
        3: grid(1, 1),
        4: grid(0, 1),
        5: grid(0.5, 0.6),
        6: grid(1, -1),
        7: grid(-1, 1),
        8: grid(-2, 1),
        9: grid(0, -1),
        10: grid(2, 0),
    }
    ways = {
        10: road([1, 2], oneway="yes"),
        11: road([3, 2], oneway="-1"),
        12: road([3, 4], junction="roundabout", highway="primary"),
        13: road([4, 1], highway="motorway"),
        14: road([1, 5, 3], oneway="no", maxspeed="20 mph"),
        15: road([2, 6], highway="footway"),
        16: road([4, 7], access="private"),
        17: road([7, 8]),
        18: road([1, 9], highway="service", service="parking_aisle"),
        19: road([2, 10], oneway="yes"),
        20: road([2, 4], access="no", motorcar="yes", highway="unclassified"),
    }
    return write_osm(tmp_path / "square.osm", nodes, ways)


def edges_by_osm(graph: Any) -> dict[tuple[int, int], int]:
    tails = graph.node_osm_id[graph.edge_tails()]
    heads = graph.node_osm_id[graph.indices]
    return {(int(t), int(h)): e for e, (t, h) in enumerate(zip(tails, heads, strict=True))}


def test_oneway_rules_and_exclusions_give_the_known_edges(oneway_file: Path) -> None:
    graph = extract_from_osm(oneway_file).graph
    assert sorted(graph.node_osm_id.tolist()) == [1, 2, 3, 4]
    edges = edges_by_osm(graph)
    assert set(edges) == {(1, 2), (2, 3), (3, 4), (4, 1), (1, 3), (3, 1), (2, 4), (4, 2)}
    assert ROAD_CLASSES[graph.road_class[edges[(4, 1)]]] == "motorway"
    assert int(graph.edge_way_id[edges[(2, 3)]]) == 11


def test_degree_two_chain_keeps_its_polyline_and_length(oneway_file: Path) -> None:
    graph = extract_from_osm(oneway_file).graph
    e = edges_by_osm(graph)[(3, 1)]
    assert graph.geometry_offsets is not None
    assert graph.geometry_lonlat is not None
    line = graph.geometry_lonlat[graph.geometry_offsets[e] : graph.geometry_offsets[e + 1]]
    # The reverse direction walks 3 -> 5 -> 1.
    expected = np.array([grid(1, 1)[:2], grid(0.5, 0.6)[:2], grid(0, 0)[:2]])
    np.testing.assert_allclose(line, expected, atol=1e-7)
    length = haversine_m(line[:-1, 0], line[:-1, 1], line[1:, 0], line[1:, 1]).sum()
    assert graph.length_m[e] == pytest.approx(length)
    # maxspeed "20 mph" on a residential way, at the residential effective factor 0.7.
    speed_kph = 20 * KPH_PER_MPH * 0.7
    assert graph.speed_kph[e] == pytest.approx(speed_kph)
    assert graph.travel_time_s[e] == pytest.approx(length / (speed_kph / 3.6))


def test_csr_rows_hold_the_edges_leaving_each_node(oneway_file: Path) -> None:
    graph = extract_from_osm(oneway_file).graph
    out_degree = dict(zip(graph.node_osm_id.tolist(), np.diff(graph.indptr).tolist(), strict=True))
    # 1 -> {2, 3}; 2 -> {3, 4}; 3 -> {4, 1}; 4 -> {1, 2}
    assert out_degree == {1: 2, 2: 2, 3: 2, 4: 2}


def test_scc_share_counts_dropped_components(oneway_file: Path) -> None:
    stats = extract_from_osm(oneway_file).stats
    # Candidates: 1, 2, 3, 4, 10 (dead end), 7, 8 (island): 4 of 7 kept.
    assert stats["nodes_before_scc"] == 7
    assert stats["scc_share"] == pytest.approx(4 / 7)


@pytest.mark.parametrize(
    ("tags", "highway", "expected"),
    [
        ({"oneway": "yes"}, "residential", 1),
        ({"oneway": "true"}, "residential", 1),
        ({"oneway": "1"}, "residential", 1),
        ({"oneway": "-1"}, "residential", -1),
        ({"oneway": "reverse"}, "residential", -1),
        ({}, "residential", 0),
        ({"oneway": "no"}, "motorway", 0),
        ({}, "motorway", 1),
        ({}, "motorway_link", 1),
        ({"junction": "roundabout"}, "tertiary", 1),
        ({"junction": "circular"}, "tertiary", 1),
        ({"junction": "roundabout", "oneway": "no"}, "tertiary", 0),
        ({"oneway": "reversible"}, "primary", None),
    ],
)
def test_oneway_direction(tags: dict[str, str], highway: str, expected: int | None) -> None:
    assert oneway_direction(tags, highway) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (
            {"amenity": "place_of_worship", "religion": "muslim"},
            ("place_of_worship", "place_of_worship"),
        ),
        ({"leisure": "stadium"}, ("crowded_place", "stadium")),
        ({"shop": "mall"}, ("crowded_place", "mall")),
        ({"railway": "station"}, ("crowded_place", "station")),
        ({"public_transport": "station", "train": "yes"}, ("crowded_place", "station")),
        ({"public_transport": "station", "bus": "yes"}, None),
        ({"amenity": "bus_station"}, ("crowded_place", "bus_station")),
        ({"amenity": "conference_centre"}, ("crowded_place", "events_venue")),
        ({"tourism": "theme_park"}, ("crowded_place", "attraction")),
        ({"amenity": "pub", "tourism": "attraction"}, ("nte_venue", "pub")),
        ({"amenity": "nightclub"}, ("nte_venue", "nightclub")),
        ({"place": "town", "name": "Oakham"}, ("town_centre", "town")),
        ({"place": "hamlet"}, None),
        ({"amenity": "police"}, ("police_station", "police_station")),
        ({"amenity": "hospital"}, ("hospital", "hospital")),
        ({"amenity": "college"}, ("school", "college")),
        ({"amenity": "cafe"}, None),
    ],
)
def test_classify_site(tags: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert classify_site(tags) == expected


@pytest.fixture
def sites_file(tmp_path: Path) -> Path:
    """Roads plus: a church outline with a place_of_worship node inside it, a school
    node inside the church outline (other kind: kept), four pubs 100 m apart in a row
    (one zone of 4) and a lone pub 2 km away.
    """
    nodes = {
        1: grid(0, 0),
        2: grid(4, 0),
        3: grid(4, 3),
        4: grid(0, 3),
        # church outline (closed way 100) and a node inside it
        11: grid(1, 1),
        12: grid(1.5, 1),
        13: grid(1.5, 1.5),
        14: grid(1, 1.5),
        20: grid(
            1.25,
            1.25,
            {
                "amenity": "place_of_worship",
                "religion": "christian",
                "denomination": "anglican",
                "name": "St Peter",
            },
        ),
        21: grid(1.2, 1.2, {"amenity": "school", "name": "Church School"}),
        # pubs 0.7 grid units (~95 m) apart in longitude
        30: grid(2.0, 2.0, {"amenity": "pub", "name": "A"}),
        31: grid(2.7, 2.0, {"amenity": "bar", "name": "B"}),
        32: grid(3.4, 2.0, {"amenity": "pub", "name": "C"}),
        33: grid(4.1, 2.0, {"amenity": "nightclub", "name": "D"}),
        34: grid(20, 2.0, {"amenity": "pub", "name": "Far"}),
        40: grid(2, 1, {"place": "town", "name": "Testham"}),
    }
    ways = {
        1: road([1, 2, 3, 4]),
        2: road([4, 1]),
        100: ([11, 12, 13, 14, 11], {"amenity": "place_of_worship", "building": "church"}),
    }
    return write_osm(tmp_path / "sites.osm", nodes, ways)


def test_node_inside_same_feature_area_counts_once(sites_file: Path) -> None:
    sites = extract_from_osm(sites_file).sites
    pow_ = sites.select(kind="place_of_worship")
    # One church: the outline w100; node n20 is the same feature and is merged into it,
    # giving the outline its name, religion and denomination.
    assert pow_.site_id == ["w100"]
    assert pow_.name == ["St Peter"]
    assert pow_.religion == ["christian"]
    assert pow_.denomination == ["anglican"]
    assert shapely.Point(pow_.lon[0], pow_.lat[0]).within(
        shapely.box(*grid(1, 1)[:2], *grid(1.5, 1.5)[:2])
    )
    # The school node in the church is another kind of site: kept.
    assert sites.select(kind="school").site_id == ["n21"]


def test_nte_venues_within_150_m_form_one_zone(sites_file: Path) -> None:
    sites = extract_from_osm(sites_file).sites
    assert sorted(sites.select(kind="nte_venue").site_id) == ["n30", "n31", "n32", "n33", "n34"]
    zones = sites.select(kind="nte_zone")
    # n30..n33 chain at ~95 m steps (single linkage); n34 is 2 km away: one zone of 4.
    assert zones.site_id == ["z1"]
    assert zones.members.tolist() == [4]
    assert zones.name == ["Testham night-time economy"]
    venues = sites.select(kind="nte_venue")
    np.testing.assert_allclose(zones.x_m[0], venues.x_m[:4].mean())


def test_sites_count_one_per_object(sites_file: Path) -> None:
    sites = extract_from_osm(sites_file).sites
    assert len(set(sites.site_id)) == len(sites)
    assert sites.counts_by_kind() == {
        "place_of_worship": 1,
        "crowded_place": 0,
        "nte_venue": 5,
        "nte_zone": 1,
        "town_centre": 1,
        "school": 1,
        "hospital": 0,
        "police_station": 0,
    }


def test_file_without_roads_is_refused(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "shop.osm", {1: grid(0, 0, {"shop": "bakery"})}, {})
    with pytest.raises(IngestError, match="no drivable roads"):
        extract_from_osm(path)


def test_only_footpaths_is_refused(tmp_path: Path) -> None:
    path = write_osm(
        tmp_path / "paths.osm",
        {1: grid(0, 0), 2: grid(1, 0)},
        {1: road([1, 2], highway="footway"), 2: road([1, 2], highway="track")},
    )
    with pytest.raises(IngestError, match=r"no drivable roads \(2 highway ways"):
        extract_from_osm(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        extract_from_osm(tmp_path / "nope.osm.pbf")


def test_non_pbf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.osm.pbf"
    path.write_text("these are not OpenStreetMap data\n")
    with pytest.raises(IngestError, match="not an OpenStreetMap PBF"):
        extract_from_osm(path)


def test_truncated_pbf_is_refused(tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / "rutland-2022-07-20.osm.pbf").read_bytes()
    path = tmp_path / "half.osm.pbf"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IngestError, match="truncated or damaged"):
        extract_from_osm(path)


def test_boundary_clips_roads_and_sites(sites_file: Path) -> None:
    full = extract_from_osm(sites_file)
    # A box around the western half: roads with both ends inside stay, and sites inside.
    box = shapely.box(LON0 - 0.001, LAT0 - 0.001, LON0 + 0.005, LAT0 + 0.005)
    clipped = extract_from_osm(sites_file, boundary=box)
    assert len(clipped.sites) < len(full.sites)
    assert shapely.contains_xy(box, clipped.sites.lon, clipped.sites.lat).all()


def test_boundary_outside_the_data_is_refused(sites_file: Path) -> None:
    london = shapely.box(-0.2, 51.4, 0.0, 51.6)
    with pytest.raises(IngestError, match="boundary does not contain"):
        extract_from_osm(sites_file, boundary=london)


def test_gzipped_xml_is_read(oneway_file: Path, tmp_path: Path) -> None:
    packed = tmp_path / "square.osm.gz"
    packed.write_bytes(gzip.compress(oneway_file.read_bytes()))
    assert sorted(extract_from_osm(packed).graph.node_osm_id.tolist()) == [1, 2, 3, 4]
