"""Isochrone bands of a base: nested, from the engine's times, drawn within a cell of the roads."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tests.traveltime.traveltime_graphs import ORIGIN_M, build_graph
from watchfloor.errors import InvalidInputError
from watchfloor.geo import bng_to_lonlat
from watchfloor.services.reach import reach_bands
from watchfloor.traveltime.engine import TravelTimeEngine


def _at(x_m: float, y_m: float) -> shapely.Point:
    lon, lat = bng_to_lonlat(np.array([ORIGIN_M[0] + x_m]), np.array([ORIGIN_M[1] + y_m]))
    return shapely.Point(float(lon[0]), float(lat[0]))


def _line_engine() -> TravelTimeEngine:
    # 61 nodes 100 m apart on a straight road, 30 s per 100 m both ways: node k at 30 k s.
    n = 61
    edges = [(k, k + 1, 30.0) for k in range(n - 1)] + [(k + 1, k, 30.0) for k in range(n - 1)]
    return TravelTimeEngine(build_graph(n, edges))


def test_bands_nest_along_a_straight_road() -> None:
    # Within 300 s: nodes 0..10 (0-1,000 m); within 600 s: nodes 0..20 (to 2,000 m).
    bands = reach_bands(_line_engine(), 0, budgets_s=[600, 300], cell_m=50.0, snap_m=200.0)
    assert [b["properties"]["budget_s"] for b in bands] == [300.0, 600.0]
    assert [b["properties"]["from_s"] for b in bands] == [0.0, 300.0]
    assert [b["properties"]["n_nodes"] for b in bands] == [11, 21]
    first, second = (shapely.geometry.shape(b["geometry"]) for b in bands)
    assert first.contains(_at(500, 0))
    assert not first.contains(_at(1500, 0))
    assert second.contains(_at(1500, 0))
    assert not second.contains(_at(500, 0))  # bands do not overlap
    assert not second.contains(_at(3000, 0))
    # The area beside the road is reached a little way off it, not far off it.
    assert first.contains(_at(500, 120))
    assert not first.union(second).contains(_at(500, 1000))


def test_reached_nodes_lie_in_their_band_within_a_cell() -> None:
    # A 15 x 15 grid of streets 100 m apart with seeded random times per block.
    rng = np.random.default_rng(3)
    side = 15
    xy = [(100.0 * (k % side), 100.0 * (k // side)) for k in range(side * side)]
    edges = []
    for k in range(side * side):
        for nb in (k + 1, k + side):
            if (nb == k + 1 and k % side == side - 1) or nb >= side * side:
                continue
            t = float(rng.uniform(10, 60))
            edges += [(k, nb, t), (nb, k, t)]
    graph = build_graph(
        side * side, edges, xy_m=[(ORIGIN_M[0] + x, ORIGIN_M[1] + y) for x, y in xy]
    )
    engine = TravelTimeEngine(graph)
    source = side * (side // 2) + side // 2
    time_s = engine.one_to_all(source)
    cell = 40.0
    bands = reach_bands(engine, source, budgets_s=[120, 240], cell_m=cell, snap_m=80.0)
    areas = [shapely.geometry.shape(b["geometry"]) for b in bands]
    reach_120 = areas[0].buffer(cell / 70_000)  # a cell, in degrees (about 40 m)
    reach_240 = shapely.union_all(areas).buffer(cell / 70_000)
    for k, (x, y) in enumerate(xy):
        point = _at(x, y)
        if time_s[k] <= 110:
            assert reach_120.contains(point), (k, time_s[k])
        if time_s[k] <= 230:
            assert reach_240.contains(point), (k, time_s[k])
        if time_s[k] > 300:
            assert not areas[0].contains(point), (k, time_s[k])


def test_budgets_must_be_positive() -> None:
    with pytest.raises(InvalidInputError, match="budgets_s must be positive"):
        reach_bands(_line_engine(), 0, budgets_s=[0.0])
    with pytest.raises(InvalidInputError, match="budgets_s must be positive"):
        reach_bands(_line_engine(), 0, budgets_s=[])
