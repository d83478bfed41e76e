"""Prospective space-time scan statistics with SaTScan's definitions.

Two models are implemented, both scanning cylinders for high rates:

**Space-time permutation** (Kulldorff et al. 2005, *PLoS Medicine* 2:e59).
With :math:`n_{zd}` cases in location *z* on day *d*, :math:`n_z` and
:math:`n_d` the marginal totals and :math:`N` the total over the study
period, the expected count of a cell is :math:`\\mu_{zd} = n_z n_d / N`.
A cylinder *A* (a circle of locations times a window of days) has
:math:`c_A` cases and :math:`\\mu_A = \\sum_{zd \\in A} \\mu_{zd}`. Its log
likelihood ratio, for :math:`c_A > \\mu_A`, is

.. math::

    \\mathrm{LLR}_A = c_A \\ln\\frac{c_A}{\\mu_A}
        + (N - c_A) \\ln\\frac{N - c_A}{N - \\mu_A}

and the test statistic is the maximum over all cylinders. Monte Carlo
replicates permute the dates across the cases (both marginals kept), so the
null distribution of the maximum is conditional on the data.

**Poisson against a baseline**: :math:`\\mu_{zd}` comes from a baseline model
(for example :func:`watchfloor.tension.baseline.fit_daily_baseline`), scaled so
its total equals the observed total :math:`N` (SaTScan's Poisson model
conditions on the total). The LLR has the same form; replicates distribute the
:math:`N` cases multinomially over cells in proportion to :math:`\\mu`.
With ``conditional=False`` (unconditional) :math:`\\mu_{zd}` is used as it
is, the LLR is :math:`c_A \\ln(c_A/\\mu_A) - (c_A - \\mu_A)` (the limit of the
conditional one as :math:`N` grows) and replicates draw every cell as an
independent Poisson(:math:`\\mu_{zd}`): a rise of the whole region against the
baseline is then a cluster against the baseline itself. The space-time
permutation model (it conditions on each day's total) cannot show such a rise;
the conditional Poisson model shows it only against the earlier days of the
study period it is given.

Cylinders, as in SaTScan:

* circles are centred on each location's centroid and grow over its nearest
  neighbours; locations at the same distance enter together (a circle is a
  circle). A circle is kept while its cases over the whole study period are at
  most ``max_share`` of all cases (for the space-time permutation model SaTScan's
  "maximum spatial cluster size, % of population at risk" is a share of the
  cases, since cases are the population) and, when given, its radius is at most
  ``max_radius_km``;
* prospective windows end on the last day of the study period and last 1 to
  ``max_days`` days;
* a cylinder counts only if it has at least ``min_cases`` cases (SaTScan never
  calls one case a high rate: the floor is 2).

Distances between lon/lat points are those of SaTScan: points are placed on a
sphere of radius 6367 km (SaTScan's ``LatLong.cpp``) in 3-D Cartesian km and the
straight-line (chord) distance is used; over a few kilometres it differs from
the great-circle distance by less than a millimetre.

Inference: the p-value of a cluster is ``rank / (replicates + 1)`` where rank is
one plus the number of replicates whose maximum LLR is at least the cluster's
LLR. The recurrence interval of a prospective analysis repeated every
``analysis_interval_days`` days is ``analysis_interval_days / p`` days (SaTScan
user guide, "Recurrence interval"). Secondary clusters are the best cylinder
of every centre, sorted by LLR, keeping only those that share no location with a
cluster reported before them ("no geographical overlap"). As SaTScan does, the
most likely cluster is always reported and a secondary cluster only when its
LLR is at least 0.001 and, with replicates, its p-value is below 1 (some
replicate's maximum stayed below its LLR); without replicates at most 10
clusters are listed.
The numba kernels these scans call live in :mod:`watchfloor.tension._kernels`
(prospective permutation and Poisson) and :mod:`watchfloor.tension._retrospective`
(retrospective); this module validates the input, lays out the arrays, picks a
kernel and reports the clusters.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numba
import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.tension._kernels import (
    circles_kernel,
    cumulative_mu,
    permutation_replicates,
    poisson_lane_replicates,
    poisson_replicates,
    scan_best_per_centre,
)
from watchfloor.tension._retrospective import (
    MAX_DAYS,
    retro_best_per_centre,
    retro_replicates,
    retro_replicates_7day,
)
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "SATSCAN_EARTH_RADIUS_KM",
    "Circles",
    "ScanCluster",
    "ScanResult",
    "build_circles",
    "chord_distance_km",
    "poisson_llr",
    "poisson_scan",
    "space_time_permutation_scan",
]

log = logging.getLogger(__name__)

SATSCAN_EARTH_RADIUS_KM = 6367.0
"""Earth radius SaTScan uses to turn latitude/longitude into Cartesian km."""


@dataclass(frozen=True)
class Circles:
    """Candidate circles: for each centre, neighbours by distance and where circles end.

    ``neighbours[ptr[i]:ptr[i + 1]]`` are the locations of centre *i* in order of
    distance (the centre first); ``is_end`` marks the positions at which a circle
    closes (the last of a group of equal distances), ``distance_km`` the distance
    of each neighbour from its centre.
    """

    ptr: IntArray
    neighbours: IntArray
    is_end: npt.NDArray[np.bool_]
    distance_km: FloatArray

    @property
    def n_centres(self) -> int:
        """Number of centres."""
        return int(self.ptr.size - 1)

    @property
    def n_circles(self) -> int:
        """Number of distinct circles over all centres."""
        return int(self.is_end.sum())


@dataclass(frozen=True)
class ScanCluster:
    """One reported cluster: a circle of locations times a window of days."""

    locations: IntArray
    """Location indices in order of distance from the centre."""
    centre: int
    radius_km: float
    start_day: int
    """First day of the window (index into the study days)."""
    end_day: int
    """Last day of the window (inclusive)."""
    observed: int
    expected: float
    llr: float
    relative_risk: float
    """Risk inside over risk outside: (c / mu) / ((N - c) / (N - mu)); c / mu unconditionally."""
    p_value: float
    recurrence_days: float


@dataclass(frozen=True)
class ScanResult:
    """Outcome of a scan: clusters by decreasing LLR and the replicate maxima."""

    status: Literal["ok", "no_cluster"]
    model: Literal["space-time-permutation", "poisson"]
    clusters: tuple[ScanCluster, ...]
    n_cases: int
    n_locations: int
    n_days: int
    replicates: int
    replicate_max_llr: FloatArray = field(repr=False)


def chord_distance_km(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    earth_radius_km: float = SATSCAN_EARTH_RADIUS_KM,
) -> FloatArray:
    """Return the matrix of straight-line distances (km) between points on a sphere.

    Parameters
    ----------
    lon, lat
        Degrees, one entry per location.
    earth_radius_km
        Sphere radius; SaTScan's 6367 km by default.
    """
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    xyz = earth_radius_km * np.column_stack(
        (np.cos(lam) * np.cos(phi), np.sin(lam) * np.cos(phi), np.sin(phi))
    )
    diff = xyz[:, None, :] - xyz[None, :, :]
    return np.asarray(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), dtype=np.float64)


def build_circles(
    distance_km: npt.ArrayLike,
    location_cases: npt.ArrayLike,
    *,
    max_share: float,
    max_radius_km: float | None = None,
) -> Circles:
    """Return the candidate circles around every location.

    Parameters
    ----------
    distance_km
        Square matrix of distances between locations (rows are centres).
    location_cases
        Cases (or population at risk) per location over the study period; a
        circle's total may not exceed ``max_share`` of the sum.
    max_share
        Largest share of cases in one circle, in (0, 1] (SaTScan's 50 % = 0.5).
    max_radius_km
        Largest circle radius, or None for no distance limit.
    """
    dist = np.asarray(distance_km, dtype=np.float64)
    weight = np.asarray(location_cases, dtype=np.float64)
    n = weight.size
    if dist.shape != (n, n):
        msg = f"distance matrix has shape {dist.shape}; expected ({n}, {n})"
        raise InvalidInputError(msg)
    if not 0.0 < max_share <= 1.0:
        msg = f"max_share {max_share} is outside (0, 1]; give e.g. 0.5 for 50 % of cases"
        raise InvalidInputError(msg)
    if max_radius_km is not None and not max_radius_km > 0:
        msg = f"max_radius_km {max_radius_km} must be positive"
        raise InvalidInputError(msg)
    limit = max_share * float(weight.sum())
    radius = math.inf if max_radius_km is None else float(max_radius_km)
    order = _sorted_rows(dist, _n_threads())
    ptr, nbr, end, dk = circles_kernel(dist, order, weight, limit, radius)
    return Circles(ptr=ptr, neighbours=nbr, is_end=end, distance_km=dk)


def _sorted_rows(dist: FloatArray, n_threads: int) -> npt.NDArray[np.int32]:
    """Stable argsort of each row (ties keep column order), row blocks on threads.

    numpy's stable sort is faster than numba's and releases the GIL.
    """
    n = dist.shape[0]
    order = np.empty((n, n), dtype=np.int32)

    def sort_rows(lo: int) -> None:
        hi = min(n, lo + block)
        order[lo:hi] = np.argsort(dist[lo:hi], axis=1, kind="stable")

    block = max(1, min(256, -(-n // n_threads)))
    if n_threads > 1 and n > block:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(sort_rows, range(0, n, block)))
    else:
        for lo in range(0, n, block):
            sort_rows(lo)
    return order


def poisson_llr(observed: float, expected: float, total: float) -> float:
    """Return SaTScan's log likelihood ratio of a high-rate cylinder (0 if not high).

    ``c ln(c/mu) + (N - c) ln((N - c)/(N - mu))`` for ``c > mu``, else 0.
    """
    c, mu, n = float(observed), float(expected), float(total)
    if not c > mu or mu <= 0:
        return 0.0
    out = c * math.log(c / mu)
    if n - c > 0:
        out += (n - c) * math.log((n - c) / (n - mu))
    return out


_CUM_MU_MAX_BYTES = 512 * 2**20
"""Above this the Poisson replicates accumulate mu per neighbour instead of reading it."""


def _validate_common(
    n_locations: int, n_days: int, *, max_days: int, min_cases: int, replicates: int
) -> None:
    if n_locations < 1:
        msg = "no locations: give at least one location with coordinates"
        raise InvalidInputError(msg)
    if max_days < 1:
        msg = f"max_days {max_days} must be at least 1"
        raise InvalidInputError(msg)
    if max_days > n_days:
        msg = (
            f"the maximum window of {max_days} days is longer than the {n_days} days "
            "of data; shorten --max-days or give more data"
        )
        raise InvalidInputError(msg)
    if min_cases < 2:
        msg = f"min_cases {min_cases} is below 2; one case is never a high rate"
        raise InvalidInputError(msg)
    if replicates < 0:
        msg = f"replicates {replicates} must be 0 or more (999 is usual)"
        raise InvalidInputError(msg)


_MIN_REPORTED_LLR = 0.001
"""SaTScan reports no secondary cluster with a log likelihood ratio below this."""
_MAX_REPORTED_WITHOUT_REPLICATES = 10
"""Without replicates SaTScan reports at most this many clusters."""


def _report(
    circles: Circles,
    best: tuple[FloatArray, IntArray, IntArray, FloatArray, FloatArray],
    replicate_max: FloatArray,
    *,
    total: float,
    n_days: int,
    analysis_interval_days: float,
    end_day: IntArray | None = None,
) -> tuple[ScanCluster, ...]:
    """Clusters by decreasing LLR without geographical overlap, as SaTScan lists them.

    ``best`` holds per centre (llr, neighbours, window days, c, mu); windows end
    on the last day unless ``end_day`` (per centre) is given, which marks a
    retrospective analysis: no recurrence interval then.
    """
    llr, k, w, c, mu = best
    order = np.argsort(-llr, kind="stable")
    taken = np.zeros(circles.n_centres, dtype=bool)
    out: list[ScanCluster] = []
    n_rep = replicate_max.size
    for i in order:
        if llr[i] <= 0:
            break
        start = int(circles.ptr[i])
        locs = circles.neighbours[start : start + int(k[i])]
        if taken[locs].any():
            continue
        taken[locs] = True
        if n_rep:
            rank = 1 + int(np.count_nonzero(replicate_max >= llr[i] - 1e-9))
            p = rank / (n_rep + 1)
        else:
            rank = 0
            p = math.nan
        if out and (
            llr[i] < _MIN_REPORTED_LLR
            or (n_rep and rank > n_rep)
            or (not n_rep and len(out) >= _MAX_REPORTED_WITHOUT_REPLICATES)
        ):
            # SaTScan prints a secondary cluster only if some replicate's maximum
            # stayed below it (p < 1); later clusters have lower LLRs, so stop.
            break
        ci, mi = float(c[i]), float(mu[i])
        if math.isinf(total):  # unconditional: the rest of the region is at its baseline
            rr = ci / mi
        else:
            rr_out = (total - ci) / (total - mi) if total > mi else math.nan
            rr = (ci / mi) / rr_out if rr_out and rr_out > 0 else math.inf
        out.append(
            ScanCluster(
                locations=locs.astype(np.int64),
                centre=int(i),
                radius_km=float(circles.distance_km[start + int(k[i]) - 1]),
                start_day=(n_days if end_day is None else int(end_day[i]) + 1) - int(w[i]),
                end_day=n_days - 1 if end_day is None else int(end_day[i]),
                observed=round(ci),
                expected=mi,
                llr=float(llr[i]),
                relative_risk=float(rr),
                p_value=float(p),
                recurrence_days=(
                    float(analysis_interval_days / p) if n_rep and end_day is None else math.nan
                ),
            )
        )
    return tuple(out)


def _n_threads() -> int:
    return max(1, int(numba.get_num_threads()))


def space_time_permutation_scan(
    case_location: npt.ArrayLike,
    case_day: npt.ArrayLike,
    distance_km: npt.ArrayLike,
    *,
    n_days: int,
    max_days: int,
    max_share: float = 0.5,
    max_radius_km: float | None = None,
    min_cases: int = 2,
    replicates: int = 999,
    rng: np.random.Generator,
    case_count: npt.ArrayLike | None = None,
    analysis_interval_days: float = 1.0,
    stop_early: bool = True,
    analysis: Literal["prospective", "retrospective"] = "prospective",
) -> ScanResult:
    """Return the clusters of a space-time permutation scan (prospective by default).

    Parameters
    ----------
    case_location
        Location index (0..n_locations-1) of each case record.
    case_day
        Day index (0 = first day of the study period, ``n_days - 1`` = its end)
        of each case record.
    distance_km
        Distances between locations (see :func:`chord_distance_km`).
    n_days
        Length of the study period in days.
    max_days
        Longest window, in days: ending on the last day (prospective) or
        anywhere in the study period (retrospective).
    max_share
        Largest share of all cases inside one circle.
    max_radius_km
        Largest circle radius, or None.
    min_cases
        Fewest cases in a reported cylinder (at least 2).
    replicates
        Monte Carlo replicates (0 for none: p-values are NaN).
    rng
        Source of randomness for the replicates.
    case_count
        Cases per record (default 1 each).
    analysis_interval_days
        How often the prospective analysis is repeated, for recurrence intervals.
    stop_early
        Stop scanning a replicate once its maximum reaches the observed maximum:
        the p-values are unchanged, but ``replicate_max_llr`` then holds a lower
        bound for those replicates. False gives every replicate's exact maximum.
    analysis
        ``"prospective"`` (windows end on the last day: surveillance) or
        ``"retrospective"`` (windows of 1 to ``max_days`` days anywhere in the
        study period; replicates permute all dates; no recurrence interval).
    """
    loc = np.asarray(case_location, dtype=np.int64).ravel()
    day = np.asarray(case_day, dtype=np.int64).ravel()
    dist = np.asarray(distance_km, dtype=np.float64)
    n_loc = dist.shape[0] if dist.ndim == 2 else 0
    _validate_common(n_loc, n_days, max_days=max_days, min_cases=min_cases, replicates=replicates)
    if loc.size != day.size:
        msg = f"{loc.size} case locations but {day.size} case days"
        raise InvalidInputError(msg)
    count = (
        np.ones(loc.size, dtype=np.int64)
        if case_count is None
        else np.asarray(case_count, dtype=np.int64).ravel()
    )
    if count.size != loc.size or (count < 0).any():
        msg = "case counts must be one non-negative integer per case record"
        raise InvalidInputError(msg)
    if loc.size and (loc.min() < 0 or loc.max() >= n_loc):
        msg = f"case location index outside 0..{n_loc - 1}"
        raise InvalidInputError(msg)
    if day.size and (day.min() < 0 or day.max() >= n_days):
        msg = f"case day outside the study period of {n_days} days"
        raise InvalidInputError(msg)
    loc = np.repeat(loc, count)
    day = np.repeat(day, count)
    n_cases = int(loc.size)
    if n_cases == 0:
        msg = "no cases in the study period; nothing to scan"
        raise InvalidInputError(msg)
    n_z = np.bincount(loc, minlength=n_loc).astype(np.float64)
    n_d = np.bincount(day, minlength=n_days).astype(np.float64)
    circles = build_circles(dist, n_z, max_share=max_share, max_radius_km=max_radius_km)
    if analysis == "retrospective":
        return _retrospective_stp(
            circles, loc, day, n_z, n_d, max_days=max_days, min_cases=min_cases,
            replicates=replicates, rng=rng, stop_early=stop_early,
        )  # fmt: skip
    if analysis != "prospective":
        msg = f"analysis {analysis!r} is neither 'prospective' nor 'retrospective'"
        raise InvalidInputError(msg)
    # Days counted back from the end: back = 0 is the last day.
    back = n_days - 1 - day
    in_window = back < max_days
    tail_cases = np.zeros((n_loc, max_days), dtype=np.int64)
    np.add.at(tail_cases, (loc[in_window], back[in_window]), 1)
    tail_cases = np.cumsum(tail_cases, axis=1)
    d_w = np.cumsum(n_d[::-1][:max_days])
    tail_mu = n_z[:, None] * d_w[None, :] / n_cases
    best = scan_best_per_centre(
        circles.ptr, circles.neighbours, circles.is_end, tail_cases, tail_mu,
        float(n_cases), int(min_cases), _n_threads(),
    )  # fmt: skip
    m = int(in_window.sum())
    if replicates and m:
        recent_day = np.sort(back[in_window]).astype(np.int64)
        uniforms = rng.random((replicates, m))
        observed_max = float(best[0].max()) if best[0].size else 0.0
        stop_at = observed_max if stop_early and observed_max > 0 else math.inf
        rep = permutation_replicates(
            circles.ptr, _code_array(circles), loc, recent_day, uniforms, n_z.astype(np.int64), d_w,
            int(min_cases), max_share <= 0.5 or 2 * m <= n_cases, _n_threads(), stop_at,
        )  # fmt: skip
    else:
        rep = np.zeros(replicates)
    clusters = _report(
        circles,
        best,
        rep,
        total=float(n_cases),
        n_days=n_days,
        analysis_interval_days=analysis_interval_days,
    )
    log.info(
        "space-time permutation scan: %d cases, %d locations, %d days, %d circles, "
        "%d replicates, %d clusters",
        n_cases, n_loc, n_days, circles.n_circles, replicates, len(clusters),
    )  # fmt: skip
    return ScanResult(
        status="ok" if clusters else "no_cluster",
        model="space-time-permutation",
        clusters=clusters,
        n_cases=n_cases,
        n_locations=n_loc,
        n_days=n_days,
        replicates=replicates,
        replicate_max_llr=rep,
    )


_RETRO_CHUNK = 64
"""Replicates whose random numbers (one per case) are drawn at a time."""


def _code_array(circles: Circles) -> npt.NDArray[np.integer]:
    """``2 * location + is_end`` per neighbour position, unsigned and compact.

    Unsigned, since numba checks signed indices for wrap-around.
    """
    n_loc = circles.n_centres
    return (2 * circles.neighbours + circles.is_end).astype(
        np.uint16 if 2 * n_loc + 1 <= np.iinfo(np.uint16).max else np.uint32
    )


def _retrospective_stp(
    circles: Circles,
    loc: IntArray,
    day: IntArray,
    n_z: FloatArray,
    n_d: FloatArray,
    *,
    max_days: int,
    min_cases: int,
    replicates: int,
    rng: np.random.Generator,
    stop_early: bool,
) -> ScanResult:
    """Retrospective space-time permutation scan: windows anywhere in the period."""
    n_loc, n_days, n_cases = n_z.size, n_d.size, int(loc.size)
    order = np.argsort(loc, kind="stable")
    slot_day = day[order].astype(np.int64)
    slot_ptr = np.concatenate(([0], np.cumsum(n_z))).astype(np.int64)
    day_cases = np.concatenate(([0.0], np.cumsum(n_d)))
    d_min = np.zeros(max_days + 1)
    for length in range(1, max_days + 1):
        d = day_cases[length:] - day_cases[:-length]
        d_min[length] = d[d > 0].min() / n_cases if (d > 0).any() else 0.0
    code = _code_array(circles)
    n_zi = n_z.astype(np.int64)
    rows = retro_best_per_centre(
        circles.ptr, code, n_zi, slot_ptr, slot_day, max_days, day_cases, d_min,
        int(min_cases), _n_threads(),
    )  # fmt: skip
    best = (
        rows[:, 0].copy(),
        rows[:, 1].astype(np.int64),
        rows[:, 3].astype(np.int64),
        rows[:, 4].copy(),
        rows[:, 5].copy(),
    )
    end_day = (rows[:, 2] + rows[:, 3] - 1).astype(np.int64)
    rep = np.zeros(replicates)
    if replicates:
        observed_max = float(rows[:, 0].max())
        stop_at = observed_max if stop_early and observed_max > 0 else math.inf
        # windows of 4..7 days: the kernel laid out for 7 days (unrolled, same maxima;
        # 1.4-2.3x faster at 5-7 days, slower at 1-2)
        kernel = retro_replicates_7day if MAX_DAYS // 2 < max_days <= MAX_DAYS else retro_replicates
        for lo in range(0, replicates, _RETRO_CHUNK):
            hi = min(replicates, lo + _RETRO_CHUNK)
            rep[lo:hi] = kernel(
                circles.ptr, code, n_zi, slot_ptr, slot_day, rng.random((hi - lo, n_cases)),
                max_days, day_cases, d_min, int(min_cases), _n_threads(), stop_at,
            )  # fmt: skip
    clusters = _report(
        circles, best, rep, total=float(n_cases), n_days=n_days, analysis_interval_days=1.0,
        end_day=end_day,
    )  # fmt: skip
    log.info(
        "retrospective space-time permutation scan: %d cases, %d locations, %d days, "
        "%d circles, %d replicates, %d clusters",
        n_cases, n_loc, n_days, circles.n_circles, replicates, len(clusters),
    )  # fmt: skip
    return ScanResult(
        status="ok" if clusters else "no_cluster",
        model="space-time-permutation",
        clusters=clusters,
        n_cases=n_cases,
        n_locations=n_loc,
        n_days=n_days,
        replicates=replicates,
        replicate_max_llr=rep,
    )


def poisson_scan(
    cases: npt.ArrayLike,
    expected: npt.ArrayLike,
    distance_km: npt.ArrayLike,
    *,
    max_days: int,
    max_share: float = 0.5,
    max_radius_km: float | None = None,
    min_cases: int = 2,
    replicates: int = 999,
    rng: np.random.Generator,
    analysis_interval_days: float = 1.0,
    conditional: bool = True,
    location_weight: npt.ArrayLike | None = None,
) -> ScanResult:
    """Return the clusters of a prospective Poisson space-time scan against a baseline.

    Parameters
    ----------
    cases
        Observed counts, shape (n_locations, n_days); the last column is the
        last day of the study period.
    expected
        Baseline expected counts of the same shape; scaled to the observed
        total when ``conditional``.
    distance_km
        Distances between locations.
    max_days, max_share, max_radius_km, min_cases, replicates, rng, analysis_interval_days
        As in :func:`space_time_permutation_scan`; ``max_share`` is a share of
        the expected count (or of ``location_weight``).
    conditional
        True (default): SaTScan's Poisson model, conditional on the observed
        total; a rise of the whole region is invisible. False: the expected
        counts are taken as they are (not rescaled), the LLR is
        ``c ln(c/mu) - (c - mu)`` for ``c > mu`` and Monte Carlo replicates
        draw every window cell as an independent Poisson(expected), so a rise
        of the whole region is a cluster.
    location_weight
        Population at risk per location for ``max_share``; default the
        expected count of each location over the study period.
    """
    obs = np.asarray(cases)
    exp = np.asarray(expected, dtype=np.float64)
    if obs.ndim != 2 or exp.shape != obs.shape:
        msg = f"cases {obs.shape} and expected {exp.shape} must both be (locations, days)"
        raise InvalidInputError(msg)
    if (obs < 0).any() or not np.isfinite(exp).all() or (exp < 0).any():
        msg = "cases and expected counts must be finite and non-negative"
        raise InvalidInputError(msg)
    obs = obs.astype(np.int64)
    n_loc, n_days = obs.shape
    dist = np.asarray(distance_km, dtype=np.float64)
    if dist.shape != (n_loc, n_loc):
        msg = f"distance matrix {dist.shape} does not match {n_loc} locations"
        raise InvalidInputError(msg)
    _validate_common(n_loc, n_days, max_days=max_days, min_cases=min_cases, replicates=replicates)
    total = float(obs.sum())
    if total <= 0 or exp.sum() <= 0:
        msg = "no cases or no expected cases; nothing to scan"
        raise InvalidInputError(msg)
    mu = exp * (total / exp.sum()) if conditional else exp
    # the unconditional LLR is the conditional one as the total grows without bound
    llr_total = total if conditional else math.inf
    weight = mu.sum(axis=1) if location_weight is None else location_weight
    circles = build_circles(dist, weight, max_share=max_share, max_radius_km=max_radius_km)
    window_obs = obs[:, ::-1][:, :max_days]
    window_mu = mu[:, ::-1][:, :max_days]
    tail_cases = np.cumsum(window_obs, axis=1)
    tail_mu = np.cumsum(window_mu, axis=1)
    best = scan_best_per_centre(
        circles.ptr, circles.neighbours, circles.is_end, tail_cases, tail_mu, llr_total,
        int(min_cases), _n_threads(),
    )  # fmt: skip
    if replicates:
        if conditional:
            p = np.append(window_mu.ravel(), max(0.0, total - window_mu.sum())) / total
            p = p / p.sum()
            draws = rng.multinomial(int(total), p, size=replicates)[:, :-1].astype(np.int64)
            max_count = int(total)
        else:
            draws = rng.poisson(window_mu.ravel(), size=(replicates, window_mu.size))
            draws = draws.astype(np.int64)
            max_count = int(draws.sum(axis=1).max())
        if circles.neighbours.size * max_days * 8 <= _CUM_MU_MAX_BYTES:
            rep = poisson_lane_replicates(
                circles.ptr, _code_array(circles), np.ascontiguousarray(draws),
                cumulative_mu(circles.ptr, circles.neighbours, tail_mu), max_days, llr_total,
                max_count, int(min_cases), _n_threads(),
            )  # fmt: skip
        else:
            rep = poisson_replicates(
                circles.ptr, circles.neighbours, circles.is_end, np.ascontiguousarray(draws),
                tail_mu, llr_total, int(min_cases), _n_threads(),
            )  # fmt: skip
    else:
        rep = np.zeros(0)
    clusters = _report(
        circles,
        best,
        rep,
        total=llr_total,
        n_days=n_days,
        analysis_interval_days=analysis_interval_days,
    )
    log.info(
        "Poisson space-time scan: %d cases, %d locations, %d days, %d replicates, %d clusters",
        int(total), n_loc, n_days, replicates, len(clusters),
    )  # fmt: skip
    return ScanResult(
        status="ok" if clusters else "no_cluster",
        model="poisson",
        clusters=clusters,
        n_cases=int(total),
        n_locations=n_loc,
        n_days=n_days,
        replicates=replicates,
        replicate_max_llr=rep,
    )
