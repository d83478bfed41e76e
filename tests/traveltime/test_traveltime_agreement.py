"""Agreement with scipy's Dijkstra on the same arrays, and invariants (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.traveltime.traveltime_graphs import build_graph, scipy_reference
from watchfloor.roads.graph import RoadGraph
from watchfloor.roads.synthetic import synthetic_county
from watchfloor.traveltime import TravelTimeEngine

TOL_S = 1e-6


@st.composite
def road_graphs(draw: st.DrawFn) -> RoadGraph:
    """Small random directed graphs: 2-25 nodes, random edges (some oneway, some parallel)."""
    n = draw(st.integers(min_value=2, max_value=25))
    m = draw(st.integers(min_value=0, max_value=4 * n))
    node = st.integers(min_value=0, max_value=n - 1)
    seconds = st.floats(min_value=0.0, max_value=900.0, allow_nan=False)
    edges = draw(st.lists(st.tuples(node, node, seconds), min_size=m, max_size=m))
    return build_graph(n, edges)


def _full_matrix(engine: TravelTimeEngine, method: str) -> np.ndarray:
    nodes = np.arange(engine.n_nodes)
    return engine.matrix(nodes, nodes, method=method)  # type: ignore[arg-type]


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=TOL_S)


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(road_graphs())
def test_every_method_agrees_with_scipy(graph: RoadGraph) -> None:
    engine = TravelTimeEngine(graph)
    ip, ix, w = engine.csr()
    want = scipy_reference(ip, ix, w, np.arange(graph.n_nodes))
    for method in ("dijkstra", "ch"):
        _assert_same(_full_matrix(engine, method), want)
    _assert_same(engine.many_to_all(np.arange(graph.n_nodes)), want)
    _assert_same(engine.one_to_all(0), want[0])


@_SETTINGS
@given(road_graphs())
def test_triangle_inequality(graph: RoadGraph) -> None:
    d = _full_matrix(TravelTimeEngine(graph), "ch")
    # d(a, c) <= d(a, b) + d(b, c) for all a, b, c.
    via = d[:, :, None] + d[None, :, :]
    assert np.all(d <= via.min(axis=1) + TOL_S)


@_SETTINGS
@given(road_graphs(), st.floats(min_value=1.0, max_value=1500.0))
def test_cutoff_keeps_exactly_the_times_within_it(graph: RoadGraph, cutoff_s: float) -> None:
    engine = TravelTimeEngine(graph)
    full = _full_matrix(engine, "dijkstra")
    want = np.where(full <= cutoff_s, full, np.inf)
    nodes = np.arange(graph.n_nodes)
    for method in ("dijkstra", "ch"):
        got = engine.matrix(nodes, nodes, cutoff_s=cutoff_s, method=method)  # type: ignore[arg-type]
        _assert_same(got, want)
    _assert_same(engine.one_to_all(0, cutoff_s=cutoff_s), want[0])


@_SETTINGS
@given(road_graphs(), st.data())
def test_matrix_rows_are_one_to_all_and_nearest_source_is_the_minimum(
    graph: RoadGraph, data: st.DataObject
) -> None:
    engine = TravelTimeEngine(graph)
    n = graph.n_nodes
    sources = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6))
    targets = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6))
    for method in ("dijkstra", "ch"):
        mat = engine.matrix(sources, targets, method=method)  # type: ignore[arg-type]
        for i, s in enumerate(sources):
            _assert_same(mat[i], engine.one_to_all(s)[targets])
    time_s, index = engine.nearest_source(sources)
    rows = engine.many_to_all(sources)
    _assert_same(time_s, rows.min(axis=0))
    reached = np.isfinite(time_s)
    np.testing.assert_array_equal(index == -1, ~reached)
    np.testing.assert_allclose(
        rows[index[reached], np.flatnonzero(reached)], time_s[reached], atol=TOL_S
    )


@_SETTINGS
@given(road_graphs(), st.floats(min_value=0.5, max_value=3.0))
def test_walking_times_are_symmetric(graph: RoadGraph, speed_mps: float) -> None:
    d = _full_matrix(TravelTimeEngine.for_walking(graph, speed_mps=speed_mps), "ch")
    _assert_same(d, d.T)


@_SETTINGS
@given(road_graphs(), st.data())
def test_route_time_matches_the_matrix(graph: RoadGraph, data: st.DataObject) -> None:
    engine = TravelTimeEngine(graph)
    s = data.draw(st.integers(0, graph.n_nodes - 1))
    t = data.draw(st.integers(0, graph.n_nodes - 1))
    route = engine.route(s, t)
    want = engine.one_to_all(s)[t]
    if math.isinf(want):
        assert route.status == "unreachable"
        return
    assert route.travel_time_s == pytest.approx(want, abs=TOL_S)
    # The route's edges exist in the graph, join up, and add up to its time.
    assert route.nodes[0] == s
    assert route.nodes[-1] == t
    tails = graph.edge_tails()[route.edges]
    np.testing.assert_array_equal(tails, route.nodes[:-1])
    np.testing.assert_array_equal(graph.indices[route.edges], route.nodes[1:])
    assert graph.travel_time_s[route.edges].sum() == pytest.approx(want, abs=TOL_S)


@pytest.fixture(scope="module")
def county() -> RoadGraph:
    return synthetic_county(20_000, seed=3)


def test_synthetic_county_agrees_with_scipy(county: RoadGraph) -> None:
    engine = TravelTimeEngine(county)
    ip, ix, w = engine.csr()
    rng = np.random.default_rng(11)
    sources = rng.integers(0, county.n_nodes, 12)
    targets = rng.integers(0, county.n_nodes, 300)
    want = scipy_reference(ip, ix, w, sources)
    _assert_same(engine.many_to_all(sources), want)
    for method in ("dijkstra", "ch"):
        got = engine.matrix(sources, targets, method=method)  # type: ignore[arg-type]
        _assert_same(got, want[:, targets])
    # Reverse-graph rows (fewer targets than sources) agree too.
    got_t = engine.matrix(targets, sources, method="dijkstra")
    want_t = scipy_reference(ip, ix, w, targets)[:, sources]
    _assert_same(got_t, want_t)
    _assert_same(engine.matrix(targets, sources, method="ch"), want_t)
    # With the hierarchy built, full rows come from PHAST sweeps: same answers.
    assert engine.has_hierarchy
    _assert_same(engine.many_to_all(sources), want)
    _assert_same(engine.one_to_all(int(sources[0])), want[0])
    _assert_same(engine.many_to_all(sources, cutoff_s=300.0), np.where(want <= 300.0, want, np.inf))


def test_synthetic_county_walking_agrees_with_scipy(county: RoadGraph) -> None:
    walk = TravelTimeEngine.for_walking(county)
    ip, ix, w = walk.csr()
    sources = np.array([0, 500, 9_000])
    _assert_same(walk.many_to_all(sources), scipy_reference(ip, ix, w, sources))
