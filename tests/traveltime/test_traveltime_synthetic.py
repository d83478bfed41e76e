"""The synthetic county: deterministic, strongly connected, road-like."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from watchfloor.errors import InvalidInputError
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph
from watchfloor.roads.synthetic import synthetic_county


@pytest.fixture(scope="module")
def county() -> RoadGraph:
    return synthetic_county(12_000, seed=7)


def test_same_seed_same_graph_other_seed_other_graph(county: RoadGraph) -> None:
    again = synthetic_county(12_000, seed=7)
    for name in ("indptr", "indices", "travel_time_s", "length_m", "road_class", "x_m", "y_m"):
        np.testing.assert_array_equal(getattr(again, name), getattr(county, name))
    other = synthetic_county(12_000, seed=8)
    assert other.n_edges != county.n_edges or not np.array_equal(other.x_m, county.x_m)


@pytest.mark.parametrize("n_nodes", [600, 12_000])
def test_node_count_is_close_to_the_target(n_nodes: int) -> None:
    graph = synthetic_county(n_nodes, seed=1)
    assert abs(graph.n_nodes - n_nodes) <= 0.05 * n_nodes


def test_strongly_connected_without_parallel_edges_or_loops(county: RoadGraph) -> None:
    n = county.n_nodes
    tails = county.edge_tails()
    mat = csr_matrix((np.ones(county.n_edges), (tails, county.indices)), shape=(n, n))
    n_comp, _ = connected_components(mat, directed=True, connection="strong")
    assert n_comp == 1
    assert (tails != county.indices).all()
    pairs = tails.astype(np.int64) * n + county.indices
    assert np.unique(pairs).size == county.n_edges


def test_road_like_hierarchy_speeds_and_oneways(county: RoadGraph) -> None:
    classes = {ROAD_CLASSES[c] for c in np.unique(county.road_class)}
    assert {"motorway", "motorway_link", "primary", "residential", "service"} <= classes
    # Every motorway edge is oneway (its carriageway's twin runs the other way).
    tails = county.edge_tails().astype(np.int64)
    heads = county.indices.astype(np.int64)
    pairs = set(zip(tails.tolist(), heads.tolist(), strict=True))
    motorway = county.road_class == ROAD_CLASSES.index("motorway")
    assert not any((h, t) in pairs for t, h in zip(tails[motorway], heads[motorway], strict=True))
    # Some town streets are oneway too.
    residential = np.flatnonzero(county.road_class == ROAD_CLASSES.index("residential"))
    no_way_back = [(int(heads[e]), int(tails[e])) not in pairs for e in residential]
    assert 0 < np.mean(no_way_back) < 0.2
    # Motorways are fastest, residential streets slow; time = length / speed.
    assert county.speed_kph[motorway].min() > county.speed_kph[residential].max()
    np.testing.assert_allclose(
        county.travel_time_s, county.length_m / (county.speed_kph / 3.6), rtol=1e-9
    )
    assert (county.length_m >= 1.0).all()
    assert np.median(county.length_m[residential]) < 150


def test_coordinates_are_in_england(county: RoadGraph) -> None:
    assert 400_000 < county.x_m.mean() < 550_000
    assert 250_000 < county.y_m.mean() < 350_000
    assert (county.lon > -2.5).all()
    assert (county.lon < 0.5).all()
    assert (county.lat > 52.0).all()
    assert (county.lat < 53.2).all()


def test_too_small_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at least 500"):
        synthetic_county(100)
