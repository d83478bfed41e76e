"""Closures: results equal a plain Dijkstra without the closed arcs; the closure helpers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.traveltime.test_traveltime_agreement import road_graphs
from tests.traveltime.traveltime_graphs import ORIGIN_M, build_graph, scipy_reference
from watchfloor.errors import InvalidInputError
from watchfloor.geo import bng_to_lonlat
from watchfloor.roads.graph import RoadGraph
from watchfloor.roads.synthetic import synthetic_county
from watchfloor.traveltime import (
    ContractionHierarchy,
    TravelTimeEngine,
    arcs_in_polygon,
    arcs_near_point,
    arcs_of_ways,
    check_arc_ids,
    connectivity_after_closure,
)
from watchfloor.traveltime.order import nested_dissection_order

TOL_S = 1e-6
INF = math.inf
_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _reference_without(
    engine: TravelTimeEngine, closed: npt.NDArray[np.int64], sources: npt.ArrayLike
) -> np.ndarray:
    """Return scipy's Dijkstra on the engine's arcs minus the closed ones."""
    ip, ix, w = engine.csr()
    keep = np.ones(w.shape[0], dtype=bool)
    keep[closed] = False
    n = ip.shape[0] - 1
    tails = np.repeat(np.arange(n), np.diff(ip))[keep]
    order = np.argsort(tails, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=indptr[1:])
    return scipy_reference(indptr, ix[keep][order], w[keep][order], sources)


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=TOL_S)


@_SETTINGS
@given(road_graphs(), st.data())
def test_closure_agrees_with_dijkstra_without_the_arcs(
    graph: RoadGraph, data: st.DataObject
) -> None:
    if graph.n_edges == 0:
        return
    closed = np.unique(
        data.draw(st.lists(st.integers(0, graph.n_edges - 1), min_size=1, max_size=8))
    )
    nodes = np.arange(graph.n_nodes)
    for prebuilt in (True, False):
        base = TravelTimeEngine(graph)
        if prebuilt:
            base.hierarchy()  # the closure then re-customises it partially
        before = base.matrix(nodes, nodes, method="ch")
        engine = base.with_closed_arcs(closed)
        want = _reference_without(base, closed, nodes)
        for method in ("ch", "dijkstra"):
            _assert_same(engine.matrix(nodes, nodes, method=method), want)  # type: ignore[arg-type]
        _assert_same(engine.many_to_all(nodes), want)
        _assert_same(engine.one_to_all(0), want[0])
        # The open engine is untouched.
        _assert_same(base.matrix(nodes, nodes, method="ch"), before)
        np.testing.assert_array_equal(engine.closed_arcs, closed)


@_SETTINGS
@given(road_graphs(), st.data())
def test_closures_add_up_and_routes_avoid_them(graph: RoadGraph, data: st.DataObject) -> None:
    if graph.n_edges == 0:
        return
    arc = st.integers(0, graph.n_edges - 1)
    first = np.unique(data.draw(st.lists(arc, min_size=1, max_size=4)))
    second = np.unique(data.draw(st.lists(arc, min_size=1, max_size=4)))
    base = TravelTimeEngine(graph)
    base.hierarchy()
    engine = base.with_closed_arcs(first).with_closed_arcs(second)
    both = np.union1d(first, second)
    nodes = np.arange(graph.n_nodes)
    want = _reference_without(base, both, nodes)
    _assert_same(engine.matrix(nodes, nodes, method="ch"), want)
    s = data.draw(st.integers(0, graph.n_nodes - 1))
    t = data.draw(st.integers(0, graph.n_nodes - 1))
    route = engine.route(s, t)
    if math.isinf(want[s, t]):
        assert route.status == "unreachable"
    else:
        assert route.travel_time_s == pytest.approx(want[s, t], abs=TOL_S)
        assert not np.isin(route.edges, both).any()


@_SETTINGS
@given(road_graphs(), st.data())
def test_partial_customisation_equals_a_full_one(graph: RoadGraph, data: st.DataObject) -> None:
    if graph.n_edges == 0:
        return
    base = TravelTimeEngine(graph)
    ch = base.hierarchy()
    _, _, w = base.csr()
    changed = np.unique(
        data.draw(st.lists(st.integers(0, graph.n_edges - 1), min_size=1, max_size=6))
    )
    new_w = w.copy()
    new_w[changed] = data.draw(
        st.lists(
            st.one_of(st.just(INF), st.floats(0.0, 900.0)),
            min_size=changed.size,
            max_size=changed.size,
        )
    )
    partial = ch.topology.recustomise(ch.metric, new_w, changed)
    full = ch.topology.customise(new_w)
    np.testing.assert_array_equal(partial.fw, full.fw)
    np.testing.assert_array_equal(partial.bw, full.bw)
    np.testing.assert_array_equal(partial.pf, full.pf)
    np.testing.assert_array_equal(partial.pb, full.pb)
    np.testing.assert_array_equal(partial.up_weights, full.up_weights)
    np.testing.assert_array_equal(partial.down_weights, full.down_weights)


def test_square_closure_known_answers(square: RoadGraph) -> None:
    base = TravelTimeEngine(square)
    base.hierarchy()
    # Close 0 -> 1 (the arc at position 0 of row 0 heads to 1).
    arc = int(np.flatnonzero((square.edge_tails() == 0) & (square.indices == 1))[0])
    engine = base.with_closed_arcs([arc])
    # From 0 only the 120 s side to 3 is left: 3 in 120, 2 in 180, 1 in 210.
    np.testing.assert_allclose(engine.one_to_all(0), [0, 210, 180, 120])
    np.testing.assert_allclose(engine.matrix([0], [1, 2, 3], method="ch"), [[210, 180, 120]])
    # The other way, 1 -> 0, is still open: 60 s.
    np.testing.assert_allclose(engine.matrix([1], [0]), [[60]])
    np.testing.assert_allclose(base.one_to_all(0), [0, 60, 90, 120])


def test_closing_every_arc_of_a_node_is_reported(square: RoadGraph) -> None:
    base = TravelTimeEngine(square)
    tails = square.edge_tails()
    at_3 = np.flatnonzero((tails == 3) | (square.indices == 3))
    engine = base.with_closed_arcs(at_3)
    check = connectivity_after_closure(base, engine, [0, 2, 3], names=["base A", "site B", "C"])
    assert check.status == "disconnected"
    assert [c.name for c in check.cut_off] == ["base A", "site B", "C"]
    assert check.cut_off[2].cannot_reach == ("base A", "site B")
    assert check.cut_off[2].unreachable_from == ("base A", "site B")
    with pytest.raises(InvalidInputError, match="C can no longer reach base A, site B"):
        check.raise_if_disconnected()
    fine = connectivity_after_closure(base, engine, [0, 1, 2])
    assert fine.status == "connected"
    fine.raise_if_disconnected()


def test_unknown_arc_ids_are_refused(square: RoadGraph) -> None:
    engine = TravelTimeEngine(square)
    with pytest.raises(InvalidInputError, match="arc id 8 is not a road"):
        engine.with_closed_arcs([8])
    with pytest.raises(InvalidInputError, match="unknown arc id -1"):
        check_arc_ids(square, [-1])
    with pytest.raises(InvalidInputError, match="no arcs given"):
        check_arc_ids(square, [])
    np.testing.assert_array_equal(check_arc_ids(square, [3, 1, 3]), [1, 3])


def _lonlat(dx_m: float, dy_m: float) -> list[float]:
    lon, lat = bng_to_lonlat(np.array([ORIGIN_M[0] + dx_m]), np.array([ORIGIN_M[1] + dy_m]))
    return [float(lon[0]), float(lat[0])]


def _side(graph: RoadGraph, a: int, b: int) -> npt.NDArray[np.int64]:
    """Return the arcs a -> b and b -> a."""
    tails = graph.edge_tails()
    heads = graph.indices
    return np.flatnonzero(((tails == a) & (heads == b)) | ((tails == b) & (heads == a)))


def test_arcs_in_polygon(square: RoadGraph) -> None:
    # A small box around corner 3 (0, 100): every arc at 3 has an end inside.
    ring = [_lonlat(-10, 90), _lonlat(10, 90), _lonlat(10, 110), _lonlat(-10, 110)]
    arcs = arcs_in_polygon(square, [*ring, ring[0]])
    tails = square.edge_tails()
    want = np.flatnonzero((tails == 3) | (square.indices == 3))
    np.testing.assert_array_equal(arcs, want)
    # A thin box across the middle of side 0-1 (y = 0): no end inside, both arcs cross it.
    ring = [_lonlat(45, -10), _lonlat(55, -10), _lonlat(55, 10), _lonlat(45, 10)]
    arcs = arcs_in_polygon(square, [*ring, ring[0]])
    want = np.flatnonzero(
        ((tails == 0) & (square.indices == 1)) | ((tails == 1) & (square.indices == 0))
    )
    np.testing.assert_array_equal(arcs, want)


def test_bad_polygons_are_refused(square: RoadGraph) -> None:
    ring = [_lonlat(-10, 90), _lonlat(10, 90), _lonlat(10, 110), _lonlat(-10, 110)]
    with pytest.raises(InvalidInputError, match="not closed"):
        arcs_in_polygon(square, ring)
    with pytest.raises(InvalidInputError, match="at least 3 corners"):
        arcs_in_polygon(square, [ring[0], ring[1], ring[0]])
    far = [_lonlat(50_000 + x, y) for x, y in ((0, 0), (10, 0), (10, 10), (0, 10), (0, 0))]
    with pytest.raises(InvalidInputError, match="lies outside this region's roads"):
        arcs_in_polygon(square, far)
    empty = [_lonlat(x, y) for x, y in ((40, 40), (60, 40), (60, 60), (40, 60), (40, 40))]
    with pytest.raises(InvalidInputError, match="contains and crosses no road"):
        arcs_in_polygon(square, empty)


def test_arcs_near_point(square: RoadGraph) -> None:
    lon, lat = _lonlat(100, 50)  # the middle of side 1-2
    arcs = arcs_near_point(square, lon, lat, radius_m=5)
    tails = square.edge_tails()
    want = np.flatnonzero(
        ((tails == 1) & (square.indices == 2)) | ((tails == 2) & (square.indices == 1))
    )
    np.testing.assert_array_equal(arcs, want)
    with pytest.raises(InvalidInputError, match="no road passes within 5 m"):
        arcs_near_point(square, *_lonlat(50, 50), radius_m=5)
    with pytest.raises(InvalidInputError, match="positive number of metres"):
        arcs_near_point(square, lon, lat, radius_m=0)
    with pytest.raises(InvalidInputError, match="outside this region's roads"):
        arcs_near_point(square, *_lonlat(90_000, 0), radius_m=50)


def test_arcs_of_ways() -> None:
    graph = build_graph(3, [(0, 1, 10.0), (1, 0, 10.0), (1, 2, 5.0)])
    graph = RoadGraph(**{**graph.__dict__, "edge_way_id": np.array([7, 7, 9], dtype=np.int64)})
    np.testing.assert_array_equal(arcs_of_ways(graph, [7]), [0, 1])
    with pytest.raises(InvalidInputError, match="unknown road id"):
        arcs_of_ways(graph, [7, 8])


def test_walking_engine_closes_both_directions(square: RoadGraph) -> None:
    walk = TravelTimeEngine.for_walking(square, speed_mps=1.0)
    closed = walk.with_closed_arcs(_side(square, 0, 1))
    # Side 0-1 (100 m) is gone both ways: 0 -> 1 walks 0-3-2-1, 300 m.
    np.testing.assert_allclose(closed.matrix([0, 1], [1, 0]), [[300, 0], [0, 300]])


def test_saved_hierarchy_still_closes(square: RoadGraph, tmp_path: Path) -> None:
    base = TravelTimeEngine(square)
    path = tmp_path / "ch.npz"
    base.hierarchy().save(path)
    loaded = TravelTimeEngine(square, hierarchy=ContractionHierarchy.load(path))
    arc = int(np.flatnonzero((square.edge_tails() == 0) & (square.indices == 1))[0])
    np.testing.assert_allclose(loaded.with_closed_arcs([arc]).one_to_all(0), [0, 210, 180, 120])


def test_county_closure_of_50_arcs_agrees_with_scipy() -> None:
    county = synthetic_county(20_000, seed=5)
    base = TravelTimeEngine(county)
    base.hierarchy()
    rng = np.random.default_rng(4)
    centre = rng.integers(0, county.n_nodes)
    # 50 arcs around one place, as a cordon would close.
    near = np.argsort(np.hypot(county.x_m - county.x_m[centre], county.y_m - county.y_m[centre]))
    tails = county.edge_tails()
    closed = np.flatnonzero(np.isin(tails, near[:40]))[:50]
    engine = base.with_closed_arcs(closed)
    sources = rng.integers(0, county.n_nodes, 8)
    targets = rng.integers(0, county.n_nodes, 200)
    want = _reference_without(base, closed, sources)
    _assert_same(engine.many_to_all(sources), want)
    _assert_same(engine.matrix(sources, targets, method="ch"), want[:, targets])
    _assert_same(engine.matrix(sources, targets, method="dijkstra"), want[:, targets])


@_SETTINGS
@given(road_graphs())
def test_hierarchy_without_coordinates_agrees_with_scipy(graph: RoadGraph) -> None:
    # Without coordinates the separators follow breadth-first distances.
    engine = TravelTimeEngine(graph)
    ip, ix, w = engine.csr()
    ch = ContractionHierarchy.build(ip, ix, w)
    nodes = np.arange(graph.n_nodes)
    want = scipy_reference(ip, ix, w, nodes)
    _assert_same(ch.many_to_many(nodes, nodes), want)
    _assert_same(ch.many_to_all(nodes), want)


def test_nested_dissection_order_is_a_permutation() -> None:
    county = synthetic_county(5_000, seed=1)
    for coords in ({"x_m": county.x_m, "y_m": county.y_m}, {}):
        rank = nested_dissection_order(county.indptr, county.indices, **coords)
        np.testing.assert_array_equal(np.sort(rank), np.arange(county.n_nodes))
    with pytest.raises(InvalidInputError, match="both x_m and y_m"):
        nested_dissection_order(county.indptr, county.indices, x_m=county.x_m)


def test_topology_is_checked_against_the_graph(square: RoadGraph, oneway_pair: RoadGraph) -> None:
    topology = TravelTimeEngine(square).hierarchy().topology
    ip, ix, w = TravelTimeEngine(oneway_pair).csr()
    with pytest.raises(InvalidInputError, match="built for another graph"):
        ContractionHierarchy.build(ip, ix, w, topology=topology)


def test_connectivity_check_refuses_mismatched_engines(square: RoadGraph) -> None:
    small = TravelTimeEngine(build_graph(2, [(0, 1, 1.0)]))
    with pytest.raises(InvalidInputError, match="share one road graph"):
        connectivity_after_closure(TravelTimeEngine(square), small, [0, 1])
    with pytest.raises(InvalidInputError, match="one name per node"):
        connectivity_after_closure(
            TravelTimeEngine(square), TravelTimeEngine(square), [0, 1], names=["a"]
        )
