"""The site register: columns, selection, GeoJSON/Arrow round trips and snapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.errors import InvalidInputError
from watchfloor.roads.graph import RoadGraph
from watchfloor.sites.register import SITE_KINDS, SiteRegister, snap_to_graph
from watchfloor.storage.regions import Region


def three_sites() -> SiteRegister:
    return SiteRegister.from_columns(
        {
            "site_id": ["n1", "w2", "z1"],
            "kind": ["place_of_worship", "crowded_place", "nte_zone"],
            "category": ["place_of_worship", "station", "nte_zone"],
            "name": ["St Mary", "Oakham station", "Oakham night-time economy"],
            "religion": ["christian", "", ""],
            "osm_type": ["node", "way", "zone"],
            "osm_id": [1, 2, 1],
            "lon": [-0.7, -0.72, -0.73],
            "lat": [52.6, 52.67, 52.67],
            "x_m": [0.0, 100.0, 1000.0],
            "y_m": [0.0, 0.0, 0.0],
            "members": [1, 1, 10],
        }
    )


def line_graph() -> RoadGraph:
    """Three nodes on the x axis at 0, 500 and 1000 m, joined both ways."""
    return RoadGraph(
        indptr=np.array([0, 1, 3, 4], dtype=np.int64),
        indices=np.array([1, 0, 2, 1], dtype=np.int32),
        travel_time_s=np.full(4, 36.0),
        length_m=np.full(4, 500.0),
        speed_kph=np.full(4, 50.0),
        road_class=np.full(4, 11, dtype=np.uint8),
        lon=np.array([-0.70, -0.693, -0.686]),
        lat=np.full(3, 52.6),
        x_m=np.array([0.0, 500.0, 1000.0]),
        y_m=np.zeros(3),
        node_osm_id=np.array([10, 11, 12], dtype=np.int64),
        edge_way_id=np.ones(4, dtype=np.int64),
    )


def test_defaults_before_snapping() -> None:
    sites = three_sites()
    assert len(sites) == 3
    assert sites.denomination == ["", "", ""]
    assert sites.node.tolist() == [-1, -1, -1]
    assert np.isnan(sites.snap_m).all()


def test_select_by_kind_and_category() -> None:
    sites = three_sites()
    assert sites.select(kind="crowded_place").site_id == ["w2"]
    assert sites.select(category="nte_zone").members.tolist() == [10]
    assert len(sites.select(kind="hospital")) == 0
    with pytest.raises(InvalidInputError, match="unknown site kind 'church'"):
        sites.select(kind="church")


def test_counts_by_kind_lists_every_kind() -> None:
    counts = three_sites().counts_by_kind()
    assert list(counts) == list(SITE_KINDS)
    assert sum(counts.values()) == 3
    assert counts["place_of_worship"] == 1


def test_invalid_columns_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="do not have 2 entries"):
        SiteRegister.from_columns(
            {"site_id": ["a", "b"], "kind": ["school", "school"], "lon": [0.0], "lat": [0.0, 1.0]}
        )
    with pytest.raises(InvalidInputError, match="unknown kinds"):
        SiteRegister.from_columns({"site_id": ["a"], "kind": ["castle"], "lon": [0], "lat": [0]})


def test_geojson_has_one_point_feature_per_site() -> None:
    doc = three_sites().to_geojson()
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == ["n1", "w2", "z1"]
    first = doc["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [-0.7, 52.6]}
    assert first["properties"]["religion"] == "christian"
    assert first["properties"]["snap_m"] is None


def test_arrow_round_trip() -> None:
    sites = snap_to_graph(three_sites(), line_graph())
    back = SiteRegister.from_arrow(sites.to_arrow())
    assert back.records() == sites.records()


def test_snap_to_nearest_node_with_distance() -> None:
    # Sites at x = 0, 100, 1000 m: nearest nodes 0 (0 m), 0 (100 m), 2 (0 m).
    snapped = snap_to_graph(three_sites(), line_graph())
    assert snapped.node.tolist() == [0, 0, 2]
    np.testing.assert_allclose(snapped.snap_m, [0.0, 100.0, 0.0])


def test_take_keeps_columns_parallel() -> None:
    sites = three_sites().take([2, 0])
    assert sites.site_id == ["z1", "n1"]
    assert sites.members.tolist() == [10, 1]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(SITE_KINDS),
            st.text(max_size=8),
            st.floats(-1.0, 1.0),
            st.floats(51.0, 53.0),
        ),
        max_size=12,
    )
)
def test_arrow_round_trip_property(rows: list[tuple[str, str, float, float]]) -> None:
    sites = SiteRegister.from_columns(
        {
            "site_id": [f"n{i}" for i in range(len(rows))],
            "kind": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "lon": [r[2] for r in rows],
            "lat": [r[3] for r in rows],
        }
    )
    back = SiteRegister.from_arrow(sites.to_arrow())
    assert back.site_id == sites.site_id
    assert back.name == sites.name
    np.testing.assert_array_equal(back.lon, sites.lon)
    assert back.counts_by_kind() == sites.counts_by_kind()


def test_rutland_sites_are_snapped_close_to_roads(rutland_region: Region) -> None:
    sites = rutland_region.sites
    graph = rutland_region.graph
    assert (sites.node >= 0).all()
    assert (sites.node < graph.n_nodes).all()
    # The snap distance is the BNG distance to the chosen node.
    d = np.hypot(graph.x_m[sites.node] - sites.x_m, graph.y_m[sites.node] - sites.y_m)
    np.testing.assert_allclose(d, sites.snap_m)
    # Rutland is dense with roads: most sites are within 250 m of a graph node.
    assert np.median(sites.snap_m) < 250.0
