"""Placement models against known optima and brute force."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.placement import (
    solve_backup,
    solve_mclp,
    solve_mexclp,
    solve_pcenter,
    solve_pmedian,
)

# Three candidate sites, four demand points (rows = candidates, columns = demand).
# Standard 10 s: site 0 covers points {0, 1}, site 1 covers {1, 2}, site 2 covers {3}.
# Weights 5, 1, 4, 3. With one unit the best is site 0 or 1 (cover 6 vs 5 vs 3): site 0.
# With two units: sites 0 and 1 cover 5+1+4 = 10; sites 0 and 2 cover 5+1+3 = 9;
# sites 1 and 2 cover 1+4+3 = 8, so the optimum is {0, 1} with 10.
THREE_SITES = np.array(
    [
        [5.0, 8.0, 30.0, 40.0],
        [20.0, 9.0, 6.0, 35.0],
        [40.0, 30.0, 25.0, 2.0],
    ]
)
THREE_WEIGHTS = np.array([5.0, 1.0, 4.0, 3.0])


def _geometric(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    cand = rng.uniform(0, 10_000, (m, 2))
    dem = rng.uniform(0, 10_000, (n, 2))
    return np.sqrt(((cand[:, None] - dem[None]) ** 2).sum(-1)) / 12.0


def test_mclp_three_sites_known_optimum() -> None:
    one = solve_mclp(THREE_SITES, THREE_WEIGHTS, n_units=1, standard_s=10)
    assert one.status == "optimal"
    assert one.sites.tolist() == [0]
    assert one.objective == pytest.approx(6.0)
    two = solve_mclp(THREE_SITES, THREE_WEIGHTS, n_units=2, standard_s=10)
    assert two.sites.tolist() == [0, 1]
    assert two.objective == pytest.approx(10.0)
    assert two.gap == pytest.approx(0.0, abs=1e-6)


def test_mexclp_three_sites_known_optimum() -> None:
    # q = 0.5, two units. Expected coverage of {0, 1}: point 1 is covered twice
    # (1 - 0.25 = 0.75), the others once (0.5): 0.5*5 + 0.75*1 + 0.5*4 = 5.25.
    # {0, 2}: 0.5*(5+1+3) = 4.5; {1, 2}: 0.5*(1+4+3) = 4. The optimum is {0, 1}: 5.25.
    res = solve_mexclp(THREE_SITES, THREE_WEIGHTS, n_units=2, standard_s=10, busy_fraction=0.5)
    assert res.sites.tolist() == [0, 1]
    assert res.objective == pytest.approx(5.25)


def test_backup_prefers_double_coverage() -> None:
    # theta = 0.5: half weight per first cover, half per second cover. {0, 1}:
    # 0.5*10 + 0.5*1 = 5.5 (point 1 twice); {0, 2}: 0.5*9 = 4.5; {1, 2}: 0.5*8 = 4.
    res = solve_backup(THREE_SITES, THREE_WEIGHTS, n_units=2, standard_s=10, primary_weight=0.5)
    assert res.sites.tolist() == [0, 1]
    assert res.objective == pytest.approx(5.5)
    with pytest.raises(InvalidInputError, match="primary_weight"):
        solve_backup(THREE_SITES, THREE_WEIGHTS, n_units=2, standard_s=10, primary_weight=0.2)


def test_pmedian_and_pcenter_three_sites() -> None:
    # p-median with one unit: weighted sums are 5*5+8+4*30+3*40 = 273,
    # 5*20+9+4*6+3*35 = 238, 5*40+30+4*25+3*2 = 336: site 1 (238).
    res = solve_pmedian(THREE_SITES, THREE_WEIGHTS, n_units=1)
    assert res.sites.tolist() == [1]
    assert res.objective == pytest.approx(238.0)
    # p-center with one unit: worst times 40, 35, 40: site 1 (35).
    cen = solve_pcenter(THREE_SITES, THREE_WEIGHTS, n_units=1)
    assert cen.sites.tolist() == [1]
    assert cen.objective == pytest.approx(35.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_milps_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n, p = 8, 25, 3
    travel = _geometric(rng, m, n)
    weight = rng.uniform(1, 5, n)
    standard = float(np.quantile(travel, 0.25))
    q = 0.3
    combos = [list(c) for c in itertools.combinations(range(m), p)]
    cover = travel <= standard

    def covered(s: list[int]) -> float:
        return float(weight @ cover[s].any(axis=0))

    def expected(s: list[int]) -> float:
        return float(weight @ (1 - q ** cover[s].sum(axis=0)))

    assert solve_mclp(travel, weight, n_units=p, standard_s=standard).objective == pytest.approx(
        max(covered(s) for s in combos)
    )
    assert solve_mexclp(
        travel, weight, n_units=p, standard_s=standard, busy_fraction=q
    ).objective == pytest.approx(max(expected(s) for s in combos))
    med = solve_pmedian(travel, weight, n_units=p)
    assert med.objective == pytest.approx(min(float(weight @ travel[s].min(0)) for s in combos))
    # the Lagrangian path proves its bound: the answer is within its gap of optimal
    lag = solve_pmedian(travel, weight, n_units=p, max_exact_entries=0, mip_rel_gap=1e-3)
    assert lag.bound <= med.objective + 1e-6 <= lag.objective + 1e-6
    cen = solve_pcenter(travel, weight, n_units=p)
    assert cen.objective == pytest.approx(min(float(travel[s].min(0).max()) for s in combos))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), p=st.integers(1, 4))
def test_coverage_never_above_total(seed: int, p: int) -> None:
    rng = np.random.default_rng(seed)
    travel = _geometric(rng, 6, 12)
    weight = rng.uniform(0, 3, 12)
    res = solve_mclp(travel, weight, n_units=p, standard_s=400)
    assert 0 <= res.objective <= weight.sum() + 1e-9
    assert res.sites.size == p
    assert res.bound >= res.objective - 1e-6


def test_errors() -> None:
    with pytest.raises(InvalidInputError, match="4 units but only 3 candidate sites"):
        solve_mclp(THREE_SITES, THREE_WEIGHTS, n_units=4, standard_s=10)
    with pytest.raises(InvalidInputError, match="demand is empty"):
        solve_mclp(THREE_SITES, np.zeros(4), n_units=1, standard_s=10)
    with pytest.raises(InfeasibleError, match="no candidate site reaches any demand"):
        solve_mclp(THREE_SITES, THREE_WEIGHTS, n_units=1, standard_s=1)
    with pytest.raises(InvalidInputError, match="busy_fraction"):
        solve_mexclp(THREE_SITES, THREE_WEIGHTS, n_units=1, standard_s=10, busy_fraction=1.0)
    with pytest.raises(InvalidInputError, match="one weight per matrix column"):
        solve_pmedian(THREE_SITES, THREE_WEIGHTS[:2], n_units=1)
    unreachable = THREE_SITES.copy()
    unreachable[:, 3] = np.inf
    with pytest.raises(InfeasibleError, match="cannot be reached"):
        solve_pcenter(unreachable, THREE_WEIGHTS, n_units=1)


@pytest.mark.parametrize(("p", "q"), [(4, 0.0), (8, 0.0), (8, 0.4)])
def test_lagrangian_path_brackets_the_optimum(p: int, q: float) -> None:
    # The Lagrangian phase, its reduction tests and the reduced MILP (used on large
    # coverage matrices) must return a placement and a bound around the exact optimum.
    from watchfloor.placement._common import coverage_sets  # noqa: PLC0415
    from watchfloor.placement.coverage import _Levels, _solve_levels  # noqa: PLC0415

    rng = np.random.default_rng(p)
    travel = _geometric(rng, 60, 400)
    weight = rng.uniform(1, 5, 400)
    standard = float(np.quantile(travel.min(axis=0), 0.5)) + 150.0
    sets = coverage_sets(travel, weight, standard)
    n = sets.weight.size
    levels = np.full(n, 1 if q == 0 else p, dtype=np.int64)
    levels = np.minimum(levels, np.diff(sets.matrix.indptr))
    group = np.repeat(np.arange(n), levels)
    rank = np.arange(group.size) - np.repeat(np.cumsum(levels) - levels, levels)
    value = sets.weight[group] * (1.0 - q) * q**rank
    lv = _Levels(matrix=sets.matrix, group=group, rank=rank, value=value)
    far = time.perf_counter() + 60.0
    exact = _solve_levels(lv, p, 1, deadline=far, time_limit_s=60.0, mip_rel_gap=0.0)
    assert exact.bound == pytest.approx(exact.objective, rel=1e-6)
    lag = _solve_levels(
        lv, p, 1, deadline=far, time_limit_s=4.0, mip_rel_gap=1e-9, lagrangian_min_nnz=0
    )
    assert lv.evaluate(lag.counts) == pytest.approx(lag.objective)
    assert lag.counts.sum() == p
    assert lag.objective <= exact.objective + 1e-6
    assert lag.bound >= exact.objective - 1e-6
    assert lag.objective == pytest.approx(exact.objective, rel=1e-6)
