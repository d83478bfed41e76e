"""Fixtures for the travel-time tests: hand-built graphs with known answers."""

from __future__ import annotations

import pytest

from tests.traveltime.traveltime_graphs import ORIGIN_M, build_graph
from watchfloor.roads.graph import RoadGraph


@pytest.fixture
def square() -> RoadGraph:
    """Four corners of a 100 m square, two-way sides.

    ::

        3 --60 s-- 2
        |          |
       120 s      30 s
        |          |
        0 --60 s-- 1

    From 0: 1 in 60 s, 2 in 90 s, 3 in 120 s (direct; round via 1-2 is 150 s).
    """
    xy = [
        (ORIGIN_M[0], ORIGIN_M[1]),
        (ORIGIN_M[0] + 100, ORIGIN_M[1]),
        (ORIGIN_M[0] + 100, ORIGIN_M[1] + 100),
        (ORIGIN_M[0], ORIGIN_M[1] + 100),
    ]
    sides = [(0, 1, 60.0), (1, 2, 30.0), (2, 3, 60.0), (3, 0, 120.0)]
    edges = [e for u, v, t in sides for e in ((u, v, t), (v, u, t))]
    return build_graph(4, edges, xy_m=xy)


@pytest.fixture
def oneway_pair() -> RoadGraph:
    """A oneway street 0 -> 1 (10 s); the way back runs 1 -> 2 -> 0 (20 s + 20 s).

    Node 3 only leaves towards 0 (3 -> 0, 5 s): nothing reaches it.
    d(0, 1) = 10, d(1, 0) = 40, d(0, 2) = 30, d(2, 1) = 30, d(x, 3) = inf.
    """
    return build_graph(4, [(0, 1, 10.0), (1, 2, 20.0), (2, 0, 20.0), (3, 0, 5.0)])
