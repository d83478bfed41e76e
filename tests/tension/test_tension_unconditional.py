"""Unconditional Poisson space-time scan: expected counts taken as they are."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from watchfloor.tension import scan
from watchfloor.tension.scan import poisson_scan, space_time_permutation_scan


def _plane(rng: np.random.Generator, n_loc: int) -> np.ndarray:
    xy = rng.uniform(0, 10, size=(n_loc, 2))
    return np.asarray(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))


def _uncond_llr(c: float, m: float) -> float:
    return float(c * np.log(c / m) - (c - m))


@pytest.mark.parametrize("lanes", [True, False])
@pytest.mark.parametrize(("max_share", "seed"), [(0.5, 1), (1.0, 2), (0.3, 3)])
def test_unconditional_scan_equals_a_plain_reference(
    max_share: float, seed: int, lanes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The observed maximum and every replicate maximum equal the plain maximum of
    # c ln(c/mu) - (c - mu) over every cylinder, the replicates being independent
    # Poisson(expected) draws of the window cells (the scan's only use of rng);
    # with the slack-lane kernel and with the one used for very large inputs.
    if not lanes:
        monkeypatch.setattr(scan, "_CUM_MU_MAX_BYTES", 0)
    rng = np.random.default_rng(seed)
    n_loc, n_days, max_days, reps = 10, 20, 5, 15
    xy = rng.integers(0, 4, (n_loc, 2)).astype(float)  # equal distances too
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    expected = rng.uniform(0.2, 1.5, (n_loc, n_days))
    cases = rng.poisson(expected * 1.3)  # not scaled back: the total is above the baseline
    res = poisson_scan(
        cases, expected, dist, max_days=max_days, max_share=max_share, replicates=reps,
        rng=np.random.default_rng(seed), conditional=False,
    )  # fmt: skip
    window_mu = expected[:, ::-1][:, :max_days]
    window_obs = cases[:, ::-1][:, :max_days]
    draws = np.random.default_rng(seed).poisson(window_mu.ravel(), size=(reps, window_mu.size))
    weight = expected.sum(axis=1)

    def plain_max(cells: np.ndarray) -> float:
        best = 0.0
        for i in range(n_loc):
            for radius in np.unique(dist[i]):
                inside = dist[i] <= radius
                if weight[inside].sum() > max_share * weight.sum() * (1 + 1e-12):
                    break
                for w in range(1, max_days + 1):
                    c = float(cells[inside, :w].sum())
                    m = float(window_mu[inside, :w].sum())
                    if c >= 2 and c > m:
                        best = max(best, _uncond_llr(c, m))
        return best

    want = np.array([plain_max(draws[r].reshape(n_loc, max_days)) for r in range(reps)])
    np.testing.assert_allclose(res.replicate_max_llr, want, rtol=0, atol=1e-9)
    top = res.clusters[0]
    assert top.llr == pytest.approx(plain_max(window_obs), abs=1e-9)
    assert top.relative_risk == pytest.approx(top.observed / top.expected)
    # not rescaled: the cluster's expected count is the baseline's own
    inside = top.locations
    assert top.expected == pytest.approx(
        expected[inside, top.start_day : top.end_day + 1].sum(), rel=1e-12
    )


def test_region_wide_doubling_is_seen_unconditionally_only() -> None:
    # Every area doubles on the last 3 days: the permutation scan (which conditions
    # on each day's total) sees nothing; the unconditional Poisson scan does.
    rng = np.random.default_rng(5)
    n_loc, n_days = 30, 60
    dist = _plane(rng, n_loc)
    expected = np.full((n_loc, n_days), 2.0)
    cases = rng.poisson(expected)
    cases[:, -3:] += rng.poisson(expected[:, -3:])
    unc = poisson_scan(
        cases, expected, dist, max_days=7, replicates=199, rng=np.random.default_rng(1),
        conditional=False,
    )  # fmt: skip
    assert unc.clusters[0].p_value <= 0.01
    assert unc.clusters[0].start_day >= n_days - 4
    z, d = np.nonzero(cases)
    stp = space_time_permutation_scan(
        z, d, dist, n_days=n_days, max_days=7, replicates=199, rng=np.random.default_rng(1),
        case_count=cases[z, d],
    )  # fmt: skip
    assert stp.clusters[0].p_value > 0.05
    # the same data without the rise: no unconditional cluster
    clean = cases.copy()
    clean[:, -3:] = rng.poisson(expected[:, -3:])
    calm = poisson_scan(
        clean, expected, dist, max_days=7, replicates=199, rng=np.random.default_rng(1),
        conditional=False,
    )  # fmt: skip
    assert not calm.clusters or calm.clusters[0].p_value > 0.05


def test_unconditional_p_values_are_uniform_without_a_rise() -> None:
    # Cases drawn from the baseline itself: the most likely cluster's Monte Carlo
    # p-value is uniform on {1/100, ..., 1}; 200 scans, bounds at 0.1 % each side.
    rng = np.random.default_rng(11)
    n_loc, n_days, n_sets = 15, 20, 200
    dist = _plane(rng, n_loc)
    expected = rng.uniform(0.3, 2.0, (n_loc, n_days))
    ps = []
    for _ in range(n_sets):
        cases = rng.poisson(expected)
        res = poisson_scan(
            cases, expected, dist, max_days=5, replicates=99, rng=rng, conditional=False
        )
        ps.append(res.clusters[0].p_value if res.clusters else 1.0)
    p = np.array(ps)
    for level in (0.05, 0.2, 0.5):
        k = int((p <= level + 1e-12).sum())
        lo, hi = binom.ppf(0.001, n_sets, level), binom.isf(0.001, n_sets, level)
        assert lo <= k <= hi, (level, k, lo, hi)
    assert 0.42 < p.mean() < 0.58
