"""Hypercube exact vs approximation vs simulation; dispatch ranking; move-up."""

from __future__ import annotations

import numpy as np
import pytest

from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.placement import (
    hypercube_approx,
    hypercube_exact,
    rank_units,
    recommend_moveup,
    simulate_response,
)


def _system(seed: int, n_units: int, n_atoms: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    units = rng.uniform(0, 20_000, (n_units, 2))
    atoms = rng.uniform(0, 20_000, (n_atoms, 2))
    return np.sqrt(((units[:, None] - atoms[None]) ** 2).sum(-1)) / 15.0, rng.uniform(0, 1, n_atoms)


def test_single_unit_is_mm1() -> None:
    # One unit is an M/M/1 queue: busy fraction rho = lambda / mu = 0.5, a call waits
    # with probability 0.5, mean wait rho / (mu - lambda) = 0.5 / (1/3600) * ... = 3600 s.
    travel = np.array([[100.0, 300.0]])
    res = hypercube_exact(
        travel,
        np.array([1.0, 1.0]),
        call_rate_per_s=1 / 7200,
        mean_service_s=3600,
        standard_s=200,
    )
    assert res.workload[0] == pytest.approx(0.5)
    assert res.prob_all_busy == pytest.approx(0.5)
    assert res.mean_wait_s == pytest.approx(3600.0)
    assert res.mean_response_s == pytest.approx(200.0 + 3600.0)


def test_symmetric_units_share_calls_equally() -> None:
    # Two units at the same distance from every atom, ties broken by index: the
    # exact workloads differ, but their total is lambda / mu (= 0.8).
    travel = np.array([[100.0, 100.0], [100.0, 100.0]])
    res = hypercube_exact(
        travel, np.ones(2), call_rate_per_s=0.8 / 3600, mean_service_s=3600, standard_s=500
    )
    assert res.workload.sum() == pytest.approx(0.8)
    assert res.dispatch_fraction.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("n_units", [2, 4, 7])
def test_exact_approx_and_simulation_agree(n_units: int) -> None:
    travel, share = _system(n_units, n_units)
    rate = 0.35 * n_units / 3600
    kwargs = {"call_rate_per_s": rate, "mean_service_s": 3600.0, "standard_s": 900.0}
    exact = hypercube_exact(travel, share, **kwargs)
    approx = hypercube_approx(travel, share, **kwargs)
    sim = simulate_response(
        travel,
        share,
        calls_per_hour=rate * 3600,
        mean_service_s=3600.0,
        standard_s=900.0,
        rng=np.random.default_rng(7),
        n_days=600,
    )
    assert approx.status == "converged"
    # Larson's approximation: within 2 points of coverage and 3 % of mean response.
    assert abs(approx.fraction_within_standard - exact.fraction_within_standard) < 0.02
    assert approx.mean_response_s == pytest.approx(exact.mean_response_s, rel=0.03)
    # 600 simulated days (~5,000-18,000 calls): within 2 points / 4 % / 0.03 workload.
    assert abs(sim.fraction_within_standard - exact.fraction_within_standard) < 0.02
    assert sim.mean_response_s == pytest.approx(exact.mean_response_s, rel=0.04)
    assert np.abs(sim.workload - exact.workload).max() < 0.03


def test_queueing_errors() -> None:
    travel, share = _system(0, 2)
    with pytest.raises(InvalidInputError, match="queue would grow"):
        hypercube_exact(
            travel, share, call_rate_per_s=3 / 3600, mean_service_s=3600, standard_s=600
        )
    with pytest.raises(InvalidInputError, match="demand is empty"):
        hypercube_approx(
            travel, share * 0, call_rate_per_s=1 / 3600, mean_service_s=3600, standard_s=600
        )
    big, share16 = _system(0, 15, 10)
    with pytest.raises(InvalidInputError, match="at most 14 units"):
        hypercube_exact(big, share16, call_rate_per_s=1 / 3600, mean_service_s=3600, standard_s=600)


def test_rank_units() -> None:
    eta = np.array([300.0, 120.0, np.inf, 120.0, 50.0])
    free = np.array([True, True, True, True, False])
    advice = rank_units(eta, available=free)
    # unit 4 is busy, unit 2 unreachable; 1 and 3 tie at 120 s and keep index order
    assert advice.order.tolist() == [1, 3, 0]
    assert advice.eta_s.tolist() == [120.0, 120.0, 300.0]
    assert (advice.n_busy, advice.n_unreachable) == (1, 1)
    with pytest.raises(InfeasibleError, match="every unit is busy"):
        rank_units(eta, available=np.zeros(5, dtype=bool))


def test_moveup_restores_coverage() -> None:
    # Candidates on a line at 0, 10, 20, 30; demand at 0, 10, 20, 30 (unit weight);
    # travel = distance, standard 10. Units at 0 and 20 cover all four points
    # ({0, 10} and {10, 20, 30}). If the unit at 20 goes busy, the unit at 0 covers
    # only 0 and 10 (50 %); moving it to 10 or 20 covers three points (75 %).
    pos = np.array([0.0, 10.0, 20.0, 30.0])
    travel = np.abs(pos[:, None] - pos[None, :])
    res = recommend_moveup(
        travel,
        np.ones(4),
        bases=np.array([0, 2]),
        busy=np.array([False, True]),
        standard_s=10,
        relocation_s=travel,
    )
    assert res.coverage_before == pytest.approx(0.5)
    assert res.coverage_after == pytest.approx(0.75)
    assert res.moved_units.tolist() == [0]
    assert res.to_site[0] in (1, 2)
    # with no move allowed nothing changes
    stay = recommend_moveup(
        travel,
        np.ones(4),
        bases=np.array([0, 2]),
        busy=np.array([False, True]),
        standard_s=10,
        max_moves=0,
    )
    assert stay.moved_units.size == 0
    assert stay.coverage_after == pytest.approx(0.5)
