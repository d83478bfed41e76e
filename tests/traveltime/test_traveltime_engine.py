"""TravelTimeEngine on hand-built graphs whose answers are stated in conftest.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.traveltime.traveltime_graphs import ORIGIN_M, build_graph
from watchfloor import traveltime
from watchfloor.errors import InvalidInputError
from watchfloor.geo import bng_to_lonlat
from watchfloor.roads.graph import RoadGraph
from watchfloor.traveltime import ContractionHierarchy, Route, TravelTimeEngine

INF = math.inf


def test_public_surface_is_pinned() -> None:
    assert sorted(traveltime.__all__) == sorted(
        [
            "DEFAULT_MAX_SNAP_M",
            "ConnectivityCheck",
            "ContractionHierarchy",
            "CutOff",
            "Route",
            "TravelTimeEngine",
            "arcs_in_polygon",
            "arcs_near_point",
            "arcs_of_ways",
            "check_arc_ids",
            "connectivity_after_closure",
        ]
    )


def test_square_one_to_all(square: RoadGraph) -> None:
    engine = TravelTimeEngine(square)
    # From 0: 1 in 60 s, 2 in 60 + 30 = 90 s, 3 direct in 120 s (150 s round the other way).
    np.testing.assert_allclose(engine.one_to_all(0), [0, 60, 90, 120])
    # From 3: 2 in 60 s, 1 in 90 s, 0 in 120 s (direct; 150 s round).
    np.testing.assert_allclose(engine.one_to_all(3), [120, 90, 60, 0])


def test_square_cutoff_marks_far_nodes_unreached(square: RoadGraph) -> None:
    engine = TravelTimeEngine(square)
    # Within 90 s from 0: nodes 0, 1, 2; node 3 (120 s) is beyond.
    np.testing.assert_allclose(engine.one_to_all(0, cutoff_s=90), [0, 60, 90, INF])


@pytest.mark.parametrize("method", ["dijkstra", "ch", "auto"])
def test_oneway_pair_matrix(oneway_pair: RoadGraph, method: str) -> None:
    engine = TravelTimeEngine(oneway_pair)
    got = engine.matrix([0, 1, 2, 3], [0, 1, 2, 3], method=method)  # type: ignore[arg-type]
    # Rows are origins: 0 -> 1 is 10 s, 1 -> 0 is 40 s around; nothing reaches 3.
    want = [
        [0, 10, 30, INF],
        [40, 0, 20, INF],
        [20, 30, 0, INF],
        [5, 15, 35, 0],
    ]
    np.testing.assert_allclose(got, want)


def test_matrix_with_fewer_targets_uses_the_reverse_graph(oneway_pair: RoadGraph) -> None:
    engine = TravelTimeEngine(oneway_pair)
    got = engine.matrix([0, 1, 2, 3], [0], method="dijkstra")
    # Column 0 of the matrix above: 0, 40, 20, 5.
    np.testing.assert_allclose(got, [[0], [40], [20], [5]])


def test_matrix_cutoff(oneway_pair: RoadGraph) -> None:
    engine = TravelTimeEngine(oneway_pair)
    for method in ("dijkstra", "ch"):
        got = engine.matrix([1], [0, 1, 2], cutoff_s=25, method=method)  # type: ignore[arg-type]
        # 1 -> 0 takes 40 s (> 25: inf), 1 -> 2 takes 20 s.
        np.testing.assert_allclose(got, [[INF, 0, 20]])


def test_many_to_all_rows_match_one_to_all(square: RoadGraph) -> None:
    engine = TravelTimeEngine(square)
    rows = engine.many_to_all([2, 0])
    np.testing.assert_allclose(rows[0], engine.one_to_all(2))
    np.testing.assert_allclose(rows[1], engine.one_to_all(0))


def test_nearest_source_labels_first_arrival(oneway_pair: RoadGraph) -> None:
    engine = TravelTimeEngine(oneway_pair)
    time_s, index = engine.nearest_source([1, 2])
    # Node 0: from 2 in 20 s (from 1 it is 40 s); node 1 is source 0; node 2 source 1;
    # node 3 is reached by none.
    np.testing.assert_allclose(time_s, [20, 0, 0, INF])
    np.testing.assert_array_equal(index, [1, 0, 1, -1])
    time_c, index_c = engine.nearest_source([1, 2], cutoff_s=10)
    np.testing.assert_allclose(time_c, [INF, 0, 0, INF])
    np.testing.assert_array_equal(index_c, [-1, 0, 1, -1])


def test_route_square(square: RoadGraph) -> None:
    engine = TravelTimeEngine(square)
    route = engine.route(0, 2)
    # 0 -> 1 -> 2: 60 + 30 = 90 s over 100 + 100 m.
    assert isinstance(route, Route)
    assert route.status == "ok"
    np.testing.assert_array_equal(route.nodes, [0, 1, 2])
    assert route.travel_time_s == pytest.approx(90.0)
    assert route.length_m == pytest.approx(200.0)
    np.testing.assert_allclose(route.lonlat[0], [square.lon[0], square.lat[0]])
    np.testing.assert_allclose(route.lonlat[-1], [square.lon[2], square.lat[2]])
    feature = route.to_geojson()
    assert feature["geometry"]["type"] == "LineString"
    assert feature["properties"]["travel_time_s"] == pytest.approx(90.0)


def test_route_to_itself_and_unreachable(oneway_pair: RoadGraph) -> None:
    engine = TravelTimeEngine(oneway_pair)
    same = engine.route(1, 1)
    assert same.status == "ok"
    assert same.travel_time_s == 0.0
    np.testing.assert_array_equal(same.nodes, [1])
    none = engine.route(0, 3)
    assert none.status == "unreachable"
    assert none.travel_time_s == INF
    assert none.nodes.size == 0


def test_route_uses_edge_geometry_when_present() -> None:
    base = build_graph(2, [(0, 1, 10.0), (1, 0, 10.0)])
    mid_lon, mid_lat = bng_to_lonlat(ORIGIN_M[0] + 50.0, ORIGIN_M[1] + 40.0)
    p0, p1 = [base.lon[0], base.lat[0]], [base.lon[1], base.lat[1]]
    mid = [float(mid_lon), float(mid_lat)]
    graph = RoadGraph(
        **{
            **{f: getattr(base, f) for f in base.__dataclass_fields__},
            # Edge 0 (0 -> 1) bends through a middle point; edge 1 (1 -> 0) is straight.
            "geometry_offsets": np.array([0, 3, 5], dtype=np.int64),
            "geometry_lonlat": np.array([p0, mid, p1, p1, p0]),
        }
    )
    route = TravelTimeEngine(graph).route(0, 1)
    np.testing.assert_allclose(route.lonlat, [p0, mid, p1])
    walk = TravelTimeEngine.for_walking(graph).route(0, 1)
    assert walk.lonlat.shape[0] in (2, 3)


def test_walking_is_symmetric_and_length_based(oneway_pair: RoadGraph) -> None:
    walk = TravelTimeEngine.for_walking(oneway_pair, speed_mps=2.0)
    d = walk.matrix(np.arange(4), np.arange(4), method="dijkstra")
    np.testing.assert_allclose(d, d.T)
    # 0 and 1 are 100 m apart on the line: 50 s at 2 m/s, against the oneway too.
    assert d[1, 0] == pytest.approx(50.0)
    # Node 3 is walkable (300 m from 0: 150 s).
    assert d[0, 3] == pytest.approx(150.0)


def test_walking_leaves_out_motorways() -> None:
    graph = build_graph(2, [(0, 1, 5.0), (1, 0, 5.0)], road_class="motorway")
    walk = TravelTimeEngine.for_walking(graph)
    assert walk.n_edges == 0
    with pytest.raises(InvalidInputError, match="no edges"):
        walk.nearest_nodes([-0.72], [52.67])


def test_nearest_nodes_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    xy = np.column_stack(
        [ORIGIN_M[0] + rng.uniform(0, 3000, 200), ORIGIN_M[1] + rng.uniform(0, 3000, 200)]
    )
    edges = [(i, i + 1, 1.0) for i in range(199)] + [(i + 1, i, 1.0) for i in range(199)]
    engine = TravelTimeEngine(build_graph(200, edges, xy_m=xy))
    qx = ORIGIN_M[0] + rng.uniform(-500, 3500, 300)
    qy = ORIGIN_M[1] + rng.uniform(-500, 3500, 300)
    node, dist = engine.nearest_nodes_xy(qx, qy)
    brute = np.hypot(qx[:, None] - xy[None, :, 0], qy[:, None] - xy[None, :, 1])
    np.testing.assert_allclose(dist, brute.min(axis=1))
    np.testing.assert_allclose(brute[np.arange(300), node], brute.min(axis=1))
    lon, lat = bng_to_lonlat(qx, qy)
    node_ll, dist_ll = engine.nearest_nodes(lon, lat)
    np.testing.assert_array_equal(node_ll, node)
    np.testing.assert_allclose(dist_ll, dist, atol=1e-3)


def test_far_point_names_distance_and_bbox(square: RoadGraph) -> None:
    engine = TravelTimeEngine(square, max_snap_m=2000)
    # Leicester is about 30 km west of Oakham.
    with pytest.raises(
        InvalidInputError, match=r"km from the nearest road.*lon -0\.\d+\.\.-0\.\d+"
    ):
        engine.nearest_nodes([-1.13], [52.63])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda e: e.one_to_all(4), r"node id 4, outside 0\.\.3"),
        (lambda e: e.one_to_all(-1), r"node id -1, outside"),
        (lambda e: e.one_to_all(1.5), "integer node ids"),
        (lambda e: e.one_to_all([0, 1]), "one source"),
        (lambda e: e.matrix([], [0]), "sources is empty"),
        (lambda e: e.matrix([[0]], [0]), "list of node ids"),
        (lambda e: e.matrix([0], [0], cutoff_s=-5), "cutoff_s must be a positive"),
        (lambda e: e.matrix([0], [0], method="magic"), "method must be"),
        (lambda e: e.route(0, 9), "target holds node id 9"),
        (lambda e: e.isochrone([0], budget_s=-60), "budget_s must be positive"),
        (lambda e: e.isochrone([0], budget_s=[60, math.nan]), "budget_s must be positive"),
        (lambda e: e.nearest_nodes([0.0, 1.0], [52.0]), "one length"),
        (lambda e: e.nearest_nodes([math.nan], [52.0]), "finite"),
    ],
)
def test_bad_input_is_refused(square: RoadGraph, call, match: str) -> None:  # type: ignore[no-untyped-def]
    engine = TravelTimeEngine(square)
    with pytest.raises(InvalidInputError, match=match):
        call(engine)


def test_bad_weights_and_options_are_refused(square: RoadGraph) -> None:
    with pytest.raises(InvalidInputError, match="one value per edge"):
        TravelTimeEngine(square, weights=np.ones(3))
    with pytest.raises(InvalidInputError, match="finite and non-negative"):
        TravelTimeEngine(square, weights=-np.ones(square.n_edges))
    with pytest.raises(InvalidInputError, match="max_snap_m"):
        TravelTimeEngine(square, max_snap_m=0)
    with pytest.raises(InvalidInputError, match="speed_mps"):
        TravelTimeEngine.for_walking(square, speed_mps=0)


def test_custom_weights_change_answers(square: RoadGraph) -> None:
    engine = TravelTimeEngine(square, weights=square.travel_time_s / 2)
    np.testing.assert_allclose(engine.one_to_all(0), [0, 30, 45, 60])


def test_hierarchy_round_trip_and_mismatch(square: RoadGraph, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = TravelTimeEngine(square)
    ch = engine.hierarchy()
    path = tmp_path / "square.ch.npz"
    ch.save(path)
    loaded = ContractionHierarchy.load(path)
    again = TravelTimeEngine(square, hierarchy=loaded)
    assert again.has_hierarchy
    np.testing.assert_allclose(
        again.matrix([0, 3], [0, 1, 2, 3], method="ch"), [[0, 60, 90, 120], [120, 90, 60, 0]]
    )
    with pytest.raises(InvalidInputError, match="another graph or other weights"):
        TravelTimeEngine(square, weights=square.travel_time_s * 2, hierarchy=loaded)
    (tmp_path / "junk.npz").write_bytes(b"not a hierarchy")
    with pytest.raises(InvalidInputError, match="cannot read contraction hierarchy"):
        ContractionHierarchy.load(tmp_path / "junk.npz")
