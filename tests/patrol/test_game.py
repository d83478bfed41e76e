"""Security games: hand-solved equilibria, agreement with the multiple-LPs method, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.errors import InvalidInputError
from watchfloor.patrol import SecurityGame, sample_assignments, solve_game
from watchfloor.patrol.reference import solve_game_multiple_lps


def test_three_targets_one_unit_known_equilibrium() -> None:
    # Attacker payoffs (covered, uncovered): mosque (-5, 10), church (-2, 5), station (-4, 8).
    # With one unit all three are in the attack set: sum (A^u - u) / (A^u - A^c) = 1
    # -> (10-u)/15 + (5-u)/7 + (8-u)/12 = 1 -> 123 u = 440 -> u* = 440/123 = 3.5772...
    # Coverage: mosque (10-u)/15, church (5-u)/7, station (8-u)/12. The defender's utility
    # is best at the church: -5 (1 - c_church) = -3.9837...
    game = SecurityGame.from_arrays(
        [0, 0, 0], [-10, -5, -8], [-5, -2, -4], [10, 5, 8], target_ids=["mosque", "church", "st"]
    )
    sol = solve_game(game, n_units=1)
    u = 440 / 123
    np.testing.assert_allclose(sol.coverage, [(10 - u) / 15, (5 - u) / 7, (8 - u) / 12])
    assert sol.attacker_utility[0] == pytest.approx(u)
    assert sol.attacker_target[0] == 1
    assert sol.defender_utility == pytest.approx(-5 * (1 - (5 - u) / 7))
    assert sol.coverage.sum() == pytest.approx(1.0)


def test_zero_sum_two_targets() -> None:
    # Zero-sum, values 4 and 1 (covered 0): one unit; u* solves (4-u)/4 + (1-u)/1 = 1 ->
    # u = 0.8, coverage (0.8, 0.2); the defender loses 0.8.
    game = SecurityGame.from_arrays([0, 0], [-4, -1], [0, 0], [4, 1])
    sol = solve_game(game, n_units=1)
    np.testing.assert_allclose(sol.coverage, [0.8, 0.2])
    assert sol.defender_utility == pytest.approx(-0.8)


def test_low_target_left_alone() -> None:
    # Values 10, 9 and 1 with one unit: u* solves (10-u)/10 + (9-u)/9 = 1 -> u = 90/19 = 4.7;
    # the target worth 1 < u* gets no coverage.
    game = SecurityGame.from_arrays([0, 0, 0], [-10, -9, -1], [0, 0, 0], [10, 9, 1])
    sol = solve_game(game, n_units=1)
    assert sol.coverage[2] == 0.0
    assert sol.attacker_utility[0] == pytest.approx(90 / 19)


def test_enough_units_cover_everything() -> None:
    game = SecurityGame.from_arrays([1, 1], [-1, -1], [-1, -1], [1, 1])
    sol = solve_game(game, n_units=5)
    np.testing.assert_allclose(sol.coverage, [1.0, 1.0])
    assert sol.defender_utility == pytest.approx(1.0)


def test_covered_floor_binds() -> None:
    # Attacker still gets 6 at target 0 when covered: no coverage can push u* below 6,
    # so target 1 (worth 7 uncovered, 0 covered) needs only 1/7 and target 0 full coverage.
    game = SecurityGame.from_arrays([0, 0], [-1, -1], [6, 0], [8, 7])
    sol = solve_game(game, n_units=2)
    assert sol.attacker_utility[0] == pytest.approx(6.0)
    assert sol.coverage[0] == pytest.approx(1.0)


def test_bayesian_two_types_matches_brute_force() -> None:
    # Two attacker types who value the targets in opposite order: the MILP must agree with
    # the enumeration of both types' responses (3 x 3 = 9 LPs).
    game = SecurityGame.from_arrays(
        [[0, 0, 0], [0, 0, 0]],
        [[-5, -3, -1], [-1, -3, -5]],
        [[-1, -1, -1], [-1, -1, -1]],
        [[5, 3, 1], [1, 3, 5]],
        type_probability=[0.7, 0.3],
    )
    fast = solve_game(game, n_units=1)
    slow = solve_game_multiple_lps(game, n_units=1)
    assert fast.method == "eraser_milp"
    assert fast.defender_utility == pytest.approx(slow.defender_utility, abs=1e-6)


def _random_game(seed: int, n: int, n_types: int, zero_sum: bool) -> SecurityGame:
    rng = np.random.default_rng(seed)
    au = rng.uniform(0, 10, (n_types, n))
    ac = au - rng.uniform(0, 10, (n_types, n))
    du = rng.uniform(-10, 0, (n_types, n))
    dc = du + rng.uniform(0, 10, (n_types, n))
    if zero_sum:
        dc, du = -ac, -au
    return SecurityGame.from_arrays(
        dc, du, ac, au, type_probability=rng.dirichlet(np.ones(n_types))
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 10),
    n_units=st.integers(1, 3),
    zero_sum=st.booleans(),
)
def test_water_filling_matches_multiple_lps(
    seed: int, n: int, n_units: int, zero_sum: bool
) -> None:
    game = _random_game(seed, n, 1, zero_sum)
    fast = solve_game(game, n_units=n_units)
    slow = solve_game_multiple_lps(game, n_units=n_units)
    assert fast.defender_utility == pytest.approx(slow.defender_utility, abs=1e-6)
    assert fast.coverage.sum() <= n_units + 1e-9
    assert ((fast.coverage >= 0) & (fast.coverage <= 1)).all()
    # the reported target is a best response to the reported coverage
    ua = game.attacker_utility(fast.coverage)[0]
    assert ua[fast.attacker_target[0]] == pytest.approx(ua.max())


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 5), n_units=st.integers(1, 3))
def test_bayesian_milp_matches_enumeration(seed: int, n: int, n_units: int) -> None:
    game = _random_game(seed, n, 2, zero_sum=False)
    fast = solve_game(game, n_units=n_units)
    slow = solve_game_multiple_lps(game, n_units=n_units)
    assert fast.defender_utility == pytest.approx(slow.defender_utility, abs=1e-6)


def test_sampled_assignments_match_coverage() -> None:
    # Comb sampling: each target covered with probability c_t exactly; 20,000 draws give a
    # standard error of at most 0.0036, so 0.015 is a > 4-sigma tolerance.
    cov = np.array([0.8, 0.2, 0.5, 0.5, 0.0])
    draws = sample_assignments(cov, n_units=2, n_samples=20_000, rng=np.random.default_rng(1))
    freq = np.array([(draws == t).any(axis=1).mean() for t in range(cov.size)])
    np.testing.assert_allclose(freq, cov, atol=0.015)
    # never the same target twice in one draw
    assert all(len(set(row)) == len(row) for row in draws.tolist())


def test_errors_are_clear() -> None:
    game = SecurityGame.from_arrays([0], [-1], [0], [1])
    with pytest.raises(InvalidInputError, match="n_units must be a whole number of at least 1"):
        solve_game(game, n_units=0)
    with pytest.raises(InvalidInputError, match="attacker_covered must be <= attacker_uncovered"):
        SecurityGame.from_arrays([0], [-1], [2], [1])
    with pytest.raises(InvalidInputError, match="defender_covered must be >= defender_uncovered"):
        SecurityGame.from_arrays([-2], [-1], [0], [1])
    with pytest.raises(InvalidInputError, match="sum to 1"):
        SecurityGame.from_arrays(
            [[0], [0]], [[-1], [-1]], [[0], [0]], [[1], [1]], type_probability=[0.5, 0.6]
        )
    with pytest.raises(InvalidInputError, match="same shape"):
        SecurityGame.from_arrays([0, 0], [-1], [0], [1])
    with pytest.raises(InvalidInputError, match="finite"):
        SecurityGame.from_arrays([0], [-np.inf], [0], [1])
