"""Isochrones: nested bands that hold the reachable roads and leave out the far ones."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import shape

from tests.traveltime.traveltime_graphs import ORIGIN_M, build_graph
from watchfloor.geo import bng_to_lonlat, lonlat_to_bng
from watchfloor.roads.graph import RoadGraph
from watchfloor.roads.synthetic import synthetic_county
from watchfloor.traveltime import TravelTimeEngine


@pytest.fixture(scope="module")
def line() -> RoadGraph:
    """Five nodes 100 m apart on a two-way street, 10 s per link.

    From node 0: node k is reached in 10 k seconds.
    """
    edges = [(i, i + 1, 10.0) for i in range(4)] + [(i + 1, i, 10.0) for i in range(4)]
    return build_graph(5, edges)


def _union(collection: dict) -> shapely.Geometry:  # type: ignore[type-arg]
    return shapely.union_all([shape(f["geometry"]) for f in collection["features"]])


def test_line_isochrone_reaches_part_way(line: RoadGraph) -> None:
    engine = TravelTimeEngine(line)
    fc = engine.isochrone([0], budget_s=25)
    assert fc["type"] == "FeatureCollection"
    (feature,) = fc["features"]
    # 25 s reaches nodes 0, 1, 2 and half the link 2 -> 3: up to x = 250 m, plus the 50 m buffer.
    assert feature["properties"]["n_nodes"] == 3
    area = shape(feature["geometry"])
    x, _y = lonlat_to_bng(*np.array(area.exterior.coords).T)
    east = float(x.max()) - ORIGIN_M[0]
    assert 290 <= east <= 310
    assert shapely.contains_xy(area, line.lon[:3], line.lat[:3]).all()
    assert not shapely.contains_xy(area, line.lon[4], line.lat[4])


def test_bands_nest_without_overlap(line: RoadGraph) -> None:
    engine = TravelTimeEngine(line)
    fc = engine.isochrone([0], budget_s=[30, 10])
    inner, outer = (shape(f["geometry"]) for f in fc["features"])
    # Sorted by budget: first band up to 10 s, second from 10 s to 30 s.
    assert [f["properties"]["budget_s"] for f in fc["features"]] == [10.0, 30.0]
    assert [f["properties"]["from_s"] for f in fc["features"]] == [0.0, 10.0]
    assert inner.intersection(outer).area < 1e-12
    # Node 3 (30 s) is in the outer band only.
    assert shapely.contains_xy(outer, line.lon[3], line.lat[3])
    assert not shapely.contains_xy(inner, line.lon[3], line.lat[3])


def test_lone_source_still_draws_an_area() -> None:
    graph = build_graph(2, [(1, 0, 5.0)])
    fc = TravelTimeEngine(graph).isochrone([0], budget_s=60)
    area = shape(fc["features"][0]["geometry"])
    assert shapely.contains_xy(area, graph.lon[0], graph.lat[0])
    assert not shapely.contains_xy(area, graph.lon[1], graph.lat[1])


def test_county_isochrone_holds_reached_nodes_and_not_far_ones() -> None:
    graph = synthetic_county(5_000, seed=2)
    engine = TravelTimeEngine(graph)
    source = 0
    time_s = engine.one_to_all(source)
    budget = float(np.quantile(time_s, 0.3))
    area = _union(engine.isochrone([source], budget_s=budget))
    reached = time_s <= budget
    assert shapely.contains_xy(area, graph.lon[reached], graph.lat[reached]).all()
    # Nodes more than 1 km (straight line) from every reached node are outside.
    tree = cKDTree(np.column_stack([graph.x_m[reached], graph.y_m[reached]]))
    gap, _ = tree.query(np.column_stack([graph.x_m, graph.y_m]))
    far = gap > 1_000
    assert far.any()
    assert not shapely.contains_xy(area, graph.lon[far], graph.lat[far]).any()


def test_geometry_is_lonlat(line: RoadGraph) -> None:
    fc = TravelTimeEngine(line).isochrone([2], budget_s=15)
    lon, lat = np.array(shape(fc["features"][0]["geometry"]).exterior.coords).T
    x, y = lonlat_to_bng(lon, lat)
    back_lon, _ = bng_to_lonlat(x, y)
    np.testing.assert_allclose(back_lon, lon, atol=1e-9)
    assert (lon > -1.0).all()
    assert (lon < -0.5).all()
    assert (lat > 52.5).all()
    assert (lat < 52.8).all()
