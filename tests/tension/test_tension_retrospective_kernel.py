"""The 7-day retrospective replicate kernel gives the plain scan's replicate maxima."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tension.test_tension_scan import _reference_retrospective_max
from watchfloor.tension import _retrospective
from watchfloor.tension.scan import (
    _code_array,
    build_circles,
    space_time_permutation_scan,
)


@pytest.mark.parametrize(("max_days", "seed"), [(4, 1), (5, 2), (7, 3), (7, 4)])
def test_replicate_maxima_equal_the_plain_reference(max_days: int, seed: int) -> None:
    # Every replicate (stop_early=False) equals the plain scan of its own shuffled
    # dates, and the whole scan's p-values are those of the early-stopping scan.
    rng = np.random.default_rng(seed)
    n_loc, n_days = 14, 30
    xy = rng.uniform(0, 4, (n_loc, 2))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    loc = rng.integers(0, n_loc, 160)
    day = rng.integers(0, n_days, 160)
    day[:12] = rng.integers(3, 6, 12)  # a few busy days: replicates then differ widely
    kw = {"n_days": n_days, "max_days": max_days, "max_share": 0.5, "min_cases": 2}
    res = space_time_permutation_scan(
        loc, day, dist, replicates=8, rng=np.random.default_rng(seed), stop_early=False,
        analysis="retrospective", **kw,
    )  # fmt: skip
    order = np.argsort(loc, kind="stable")
    u = np.random.default_rng(seed).random((8, loc.size))
    want = np.zeros(8)
    for r in range(8):
        dates = day[order].copy()
        for j in range(loc.size - 1):
            s = min(j + int(u[r, j] * (loc.size - j)), loc.size - 1)
            dates[j], dates[s] = dates[s], dates[j]
        want[r] = _reference_retrospective_max(
            loc[order], dates, dist, max_radius_km=math.inf, **kw
        )
    np.testing.assert_allclose(res.replicate_max_llr, want, rtol=0, atol=1e-9)
    assert len(set(np.round(want, 6))) > 4
    fast = space_time_permutation_scan(
        loc, day, dist, replicates=8, rng=np.random.default_rng(seed), analysis="retrospective",
        **kw,
    )  # fmt: skip
    assert [c.p_value for c in fast.clusters] == [c.p_value for c in res.clusters]


def test_kernel_equals_the_general_kernel_directly() -> None:
    # Same inputs straight into both kernels (the scan picks one by max_days).
    rng = np.random.default_rng(11)
    n_loc, n_days, max_days = 40, 60, 7
    xy = rng.uniform(0, 5, (n_loc, 2))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    loc = rng.integers(0, n_loc, 900)
    day = rng.integers(0, n_days, 900)
    n_z = np.bincount(loc, minlength=n_loc).astype(float)
    n_d = np.bincount(day, minlength=n_days).astype(float)
    circles = build_circles(dist, n_z, max_share=0.5, max_radius_km=None)
    order = np.argsort(loc, kind="stable")
    slot_day = day[order].astype(np.int64)
    slot_ptr = np.concatenate(([0], np.cumsum(n_z))).astype(np.int64)
    day_cases = np.concatenate(([0.0], np.cumsum(n_d)))
    d_min = np.zeros(max_days + 1)
    for length in range(1, max_days + 1):
        d = day_cases[length:] - day_cases[:-length]
        d_min[length] = d[d > 0].min() / loc.size
    u = np.random.default_rng(5).random((6, loc.size))
    args = (
        circles.ptr, _code_array(circles), n_z.astype(np.int64), slot_ptr, slot_day, u,
        max_days, day_cases, d_min, 2, 2, math.inf,
    )  # fmt: skip
    new = _retrospective.retro_replicates_7day(*args)
    old = _retrospective.retro_replicates(*args)
    assert (new > 0).all()
    np.testing.assert_array_equal(new, old)
