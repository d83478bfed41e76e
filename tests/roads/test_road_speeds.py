"""GB maxspeed parsing, class fallbacks and the blue-light profile."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.errors import InvalidInputError
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph
from watchfloor.roads.speeds import (
    BLUE_LIGHT_CAP_KPH,
    DEFAULT_POSTED_MPH,
    EFFECTIVE_FACTOR,
    KPH_PER_MPH,
    blue_light_travel_time_s,
    effective_speed_kph,
    parse_maxspeed,
    posted_speed_kph,
)
from watchfloor.storage.regions import Region

MPH = KPH_PER_MPH


@pytest.mark.parametrize(
    ("value", "road_class", "kph"),
    [
        ("30 mph", None, 30 * MPH),
        ("30mph", None, 30 * MPH),
        ("20 mph", None, 20 * MPH),
        ("30", None, 30 * MPH),  # bare GB limit: mph
        ("70", None, 70 * MPH),
        ("48", None, 48.0),  # not a GB limit: km/h, the OSM default unit
        ("100", None, 100.0),
        ("50 km/h", None, 50.0),
        ("50 kmh", None, 50.0),
        ("50kph", None, 50.0),
        ("10 knots", None, 18.52),
        ("national", "residential", 60 * MPH),
        ("national", "motorway", 70 * MPH),
        ("GB:nsl_single", None, 60 * MPH),
        ("GB:nsl_dual", None, 70 * MPH),
        ("GB:motorway", None, 70 * MPH),
        ("UK:nsl_single", None, 60 * MPH),
        ("GB:nsl_restricted", None, 30 * MPH),
        ("GB:zone20", None, 20 * MPH),
        ("GB:zone30", None, 30 * MPH),
        ("walk", None, 6.0),
        ("30;40", None, 30 * MPH),  # lists: the lowest
        ("40 mph;30 mph", None, 30 * MPH),
        ("signals", None, None),
        ("none", None, None),
        ("variable", None, None),
        ("", None, None),
        ("fast", None, None),
        ("30 furlongs", None, None),
        ("0", None, None),
        (None, None, None),
    ],
)
def test_parse_maxspeed(value: str | None, road_class: str | None, kph: float | None) -> None:
    got = parse_maxspeed(value, road_class=road_class)
    if kph is None:
        assert got is None
    else:
        assert got == pytest.approx(kph)


def test_fallback_is_the_class_default() -> None:
    # residential without a usable tag: 30 mph; with "signals": still 30 mph.
    assert posted_speed_kph(None, "residential") == pytest.approx(30 * MPH)
    assert posted_speed_kph("signals", "residential") == pytest.approx(30 * MPH)
    assert posted_speed_kph("20 mph", "trunk") == pytest.approx(20 * MPH)
    assert set(DEFAULT_POSTED_MPH) == set(ROAD_CLASSES)
    assert set(EFFECTIVE_FACTOR) == set(ROAD_CLASSES)


def test_effective_speed_applies_the_class_factor() -> None:
    # motorway, 70 mph at 0.9: 101.4 km/h.
    assert effective_speed_kph(None, "motorway") == pytest.approx(70 * MPH * 0.9)
    assert effective_speed_kph("30 mph", "residential") == pytest.approx(30 * MPH * 0.7)


def test_unknown_class_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown road class 'busway'"):
        posted_speed_kph(None, "busway")


@given(st.text(max_size=20))
def test_parse_never_raises_and_is_positive(value: str) -> None:
    got = parse_maxspeed(value)
    assert got is None or got > 0


def two_edge_graph(road_class: str, speed_kph: float) -> RoadGraph:
    """Nodes 0 and 1, 1 km apart, joined both ways by one class at one speed."""
    return RoadGraph(
        indptr=np.array([0, 1, 2], dtype=np.int64),
        indices=np.array([1, 0], dtype=np.int32),
        travel_time_s=np.full(2, 1000.0 / (speed_kph / 3.6)),
        length_m=np.full(2, 1000.0),
        speed_kph=np.full(2, speed_kph),
        road_class=np.full(2, ROAD_CLASSES.index(road_class), dtype=np.uint8),
        lon=np.array([-0.7, -0.69]),
        lat=np.array([52.6, 52.6]),
        x_m=np.array([0.0, 1000.0]),
        y_m=np.zeros(2),
        node_osm_id=np.array([1, 2], dtype=np.int64),
        edge_way_id=np.zeros(2, dtype=np.int64),
    )


def test_blue_light_is_faster_and_capped() -> None:
    # residential at 33.8 km/h x 1.25 = 42.2 km/h, below the 65 km/h cap: 85.3 s per km.
    graph = two_edge_graph("residential", 30 * MPH * 0.7)
    blue = blue_light_travel_time_s(graph)
    assert blue == pytest.approx(np.full(2, 1000.0 / (30 * MPH * 0.7 * 1.25 / 3.6)))
    # motorway at 101.4 km/h x 1.3 = 131.8 km/h; a 150 km/h ordinary speed would be
    # capped at 160 km/h, and the cap never makes blue light slower than ordinary.
    fast = two_edge_graph("motorway", 150.0)
    assert blue_light_travel_time_s(fast) == pytest.approx(np.full(2, 1000.0 / (160.0 / 3.6)))
    slow_cap = blue_light_travel_time_s(fast, caps_kph={"motorway": 100.0})
    assert slow_cap == pytest.approx(fast.travel_time_s)
    assert BLUE_LIGHT_CAP_KPH["motorway"] == 160.0


def test_blue_light_factors_are_configurable() -> None:
    graph = two_edge_graph("service", 20.0)
    assert blue_light_travel_time_s(graph, factors={"service": 1.5}) == pytest.approx(
        np.full(2, 1000.0 / (30.0 / 3.6))  # 20 x 1.5 = 30 km/h, exactly the service cap
    )
    with pytest.raises(InvalidInputError, match="unknown road classes"):
        blue_light_travel_time_s(graph, factors={"busway": 1.2})
    with pytest.raises(InvalidInputError, match="positive"):
        blue_light_travel_time_s(graph, factors={"service": 0.0})


def test_blue_light_on_rutland(rutland_region: Region) -> None:
    graph = rutland_region.graph
    blue = blue_light_travel_time_s(graph)
    assert blue.shape == (graph.n_edges,)
    assert (blue <= graph.travel_time_s + 1e-9).all()
    assert blue.sum() < graph.travel_time_s.sum()
