"""Predictability and dosage metrics on hand-made shifts with stated answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from watchfloor.patrol import (
    empirical_coverage,
    hits_of_shift,
    inter_visit_spread_s,
    learning_attacker_gains,
    peak_revisit_share,
    visit_lengths,
    visit_time_entropy_bits,
)
from watchfloor.patrol.sampling import Leg, UnitRoute, Visit

HOUR = 3600.0


def _route(visits: list[tuple[int, float, float, int]]) -> UnitRoute:
    vs = tuple(Visit(site, a, d, slot, False) for site, a, d, slot in visits)
    legs = tuple(Leg(9, 9, 0.0, 0.0, 0.0) for _ in range(len(vs) + 1))
    return UnitRoute("U1", "vehicle", 9, 9, 0.0, 8 * HOUR, vs, legs)


def test_empirical_coverage_counts_shifts_and_visits() -> None:
    # Shift 1 visits site 0 twice in slot 0 (two units); shift 2 not at all:
    # visited share 1/2, mean visits 2/2 = 1.
    one = [_route([(0, 0.0, 600.0, 0)]), _route([(0, 60.0, 700.0, 0)])]
    two = [_route([(1, 0.0, 600.0, 1)])]
    emp = empirical_coverage([one, two], n_sites=2, n_slots=2)
    assert emp.visited_share[0, 0] == 0.5
    assert emp.mean_visits[0, 0] == 1.0
    assert emp.visited_share[1, 1] == 0.5


def test_inter_visit_spread() -> None:
    # Site 0: gaps of 1 h and 3 h -> standard deviation 1 h; site 1: one visit -> nan.
    shift = [
        _route(
            [
                (0, 0.0, 600.0, 0),
                (0, HOUR, HOUR + 600, 1),
                (1, 2 * HOUR, 2 * HOUR + 600, 2),
                (0, 4 * HOUR, 4 * HOUR + 600, 4),
            ]
        )
    ]
    spread = inter_visit_spread_s([shift], n_sites=2)
    assert spread[0] == pytest.approx(HOUR)
    assert math.isnan(spread[1])


def test_peak_revisit_share() -> None:
    # Peak 12:00-16:00 for sites 0 and 1. Site 0 visited at 13:00 and 15:00 (gaps 1, 2, 1 h:
    # revisited within 2 h); site 1 only at 12:30 (gap 3.5 h to the end: not). Share 1/2.
    noon = 12 * HOUR
    shift = [
        _route(
            [
                (1, noon + 1800, noon + 2400, 0),
                (0, noon + HOUR, noon + HOUR + 600, 1),
                (0, noon + 3 * HOUR, noon + 3 * HOUR + 600, 3),
            ]
        )
    ]
    share = peak_revisit_share(
        [shift], priority_sites=[0, 1], peak_start_s=[noon, noon], peak_end_s=[noon + 4 * HOUR] * 2
    )
    assert share == 0.5


def test_visit_lengths() -> None:
    shift = [_route([(0, 0.0, 600.0, 0), (1, HOUR, HOUR + 900.0, 1)])]
    lengths = visit_lengths([shift])
    assert lengths.n_visits == 2
    assert lengths.mean_s == 750.0
    assert sum(lengths.counts) == 2
    assert np.isnan(visit_lengths([]).mean_s)


def test_visit_time_entropy() -> None:
    # Site 0: visited in slot 0 in both shifts -> 0 bits; site 1: slot 1 once and slot 3
    # once -> 1 bit; site 2: never -> nan.
    one = [_route([(0, 0.0, 600.0, 0), (1, HOUR, HOUR + 600, 1)])]
    two = [_route([(0, 60.0, 660.0, 0), (1, 3 * HOUR, 3 * HOUR + 600, 3)])]
    h = visit_time_entropy_bits([one, two], n_sites=3, n_slots=4)
    assert h[0] == pytest.approx(0.0)
    assert h[1] == pytest.approx(1.0)
    assert math.isnan(h[2])


def test_learning_attacker_exploits_a_fixed_rota() -> None:
    # Two site-slots worth 10 and 8 (covered 2). A fixed rota always visits the first: an
    # attacker who watched 3 days strikes the second (8 x 1 > 10 x 0) and gains 8 each day.
    # Against a plan that alternates, on day 3 (history A, B, A) it sees 10 x 1/3 < 8 x 2/3
    # and strikes B, which is visited that day: gain 2.
    a_u = np.array([[10.0], [8.0]])
    a_c = np.array([[2.0], [2.0]])
    fixed = np.zeros((6, 2, 1), dtype=bool)
    fixed[:, 0, 0] = True
    np.testing.assert_allclose(learning_attacker_gains(fixed, a_u, a_c, window_days=3), 8.0)
    alternate = np.zeros((4, 2, 1), dtype=bool)
    alternate[[0, 2], 0, 0] = True
    alternate[[1, 3], 1, 0] = True
    assert learning_attacker_gains(alternate, a_u, a_c, window_days=3).tolist() == [2.0]


def test_hits_of_shift() -> None:
    shift = [_route([(0, 0.0, 600.0, 0), (1, HOUR, HOUR + 600, 1)])]
    hit = hits_of_shift(shift, n_sites=2, n_slots=2)
    assert hit.tolist() == [[True, False], [False, True]]
