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

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


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
    ptr, nbr, end, dk = _circles_kernel(dist, order, weight, limit, radius)
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


@numba.njit(cache=True)
def _circles_kernel(
    dist: FloatArray,
    order: npt.NDArray[np.int32],
    weight: FloatArray,
    limit: float,
    radius: float,
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_], FloatArray]:
    n = dist.shape[0]
    counts = np.zeros(n + 1, dtype=np.int64)
    # First pass: how many neighbours each centre keeps.
    for i in range(n):
        total = 0.0
        k = 0
        while k < n:
            # A tie group enters whole: find its end first.
            j = k
            d = dist[i, order[i, k]]
            group = 0.0
            while j < n and dist[i, order[i, j]] == d:
                group += weight[order[i, j]]
                j += 1
            if d > radius * (1.0 + 1e-12) or total + group > limit * (1.0 + 1e-12):
                break
            total += group
            k = j
        counts[i + 1] = k
    ptr = np.cumsum(counts)
    nbr = np.empty(ptr[n], dtype=np.int64)
    end = np.zeros(ptr[n], dtype=np.bool_)
    dk = np.empty(ptr[n], dtype=np.float64)
    for i in range(n):
        base = ptr[i]
        m = ptr[i + 1] - base
        for k in range(m):
            loc = order[i, k]
            nbr[base + k] = loc
            dk[base + k] = dist[i, loc]
        for k in range(m):
            if k == m - 1 or dk[base + k + 1] != dk[base + k]:
                end[base + k] = True
    return ptr, nbr, end, dk


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


@numba.njit(cache=True, inline="always")
def _llr(c: float, mu: float, n: float) -> float:
    """SaTScan's LLR; ``n = inf`` gives the unconditional ``c ln(c/mu) - (c - mu)``."""
    out = c * math.log(c / mu)
    if n == math.inf:
        out -= c - mu
    elif n - c > 0.0:
        out += (n - c) * math.log((n - c) / (n - mu))
    return out


@numba.njit(cache=True, inline="always")
def _below(c: float, mu: float, n: float, best: float) -> bool:
    """True when the LLR of (c, mu) is certainly at most ``best``.

    The LLR as a function of c has value and slope 0 at mu and curvature
    ``1/x + 1/(N - x)``, so for ``mu < c <= (N + mu)/2`` it is at most
    ``(c - mu)^2 (1/(2 mu) + 1/(N - mu))``; a relative margin covers rounding.
    """
    if c > 0.5 * (n + mu):
        return False
    d = c - mu
    return d * d * (0.5 / mu + 1.0 / (n - mu)) * (1.0 + 1e-9) < best


@numba.njit(cache=True, parallel=True)
def _scan_best_per_centre(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    nbr: IntArray,
    is_end: npt.NDArray[np.bool_],
    tail_cases: npt.NDArray[np.int64],
    tail_mu: FloatArray,
    total: float,
    min_cases: int,
    n_threads: int,
) -> tuple[FloatArray, IntArray, IntArray, FloatArray, FloatArray]:
    """Best cylinder per centre: (llr, n_neighbours, window_days, c, mu).

    Cylinders whose LLR cannot exceed the centre's best so far are skipped
    (:func:`_below`); the others are computed, so the result is the same.
    """
    n_centres = ptr.size - 1
    n_w = tail_cases.shape[1]
    best = np.zeros(n_centres)
    best_k = np.zeros(n_centres, dtype=np.int64)
    best_w = np.zeros(n_centres, dtype=np.int64)
    best_c = np.zeros(n_centres)
    best_mu = np.zeros(n_centres)
    chunk = (n_centres + n_threads - 1) // n_threads
    for t in numba.prange(n_threads):
        cw = np.zeros(n_w, dtype=np.int64)
        mw = np.zeros(n_w)
        for i in range(t * chunk, min(n_centres, (t + 1) * chunk)):
            cw[:] = 0
            mw[:] = 0.0
            for pos in range(ptr[i], ptr[i + 1]):
                loc = nbr[pos]
                for w in range(n_w):
                    cw[w] += tail_cases[loc, w]
                    mw[w] += tail_mu[loc, w]
                if not is_end[pos]:
                    continue
                for w in range(n_w):
                    c = cw[w]
                    mu = mw[w]
                    if c >= min_cases and c > mu > 0.0:
                        if _below(float(c), mu, total, best[i]):
                            continue
                        v = _llr(c, mu, total)
                        if v > best[i]:
                            best[i] = v
                            best_k[i] = pos - ptr[i] + 1
                            best_w[i] = w + 1
                            best_c[i] = c
                            best_mu[i] = mu
    return best, best_k, best_w, best_c, best_mu


@numba.njit(cache=True, inline="always")
def _max_llr(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    nbr: IntArray,
    is_end: npt.NDArray[np.bool_],
    tail_cases: npt.NDArray[np.int64],
    has_case: npt.NDArray[np.bool_],
    tail_mu: FloatArray,
    total: float,
    min_cases: int,
    cw: npt.NDArray[np.int64],
    mw: FloatArray,
) -> float:
    n_w = tail_cases.shape[1]
    best = 0.0
    for i in range(ptr.size - 1):
        cw[:] = 0
        mw[:] = 0.0
        for pos in range(ptr[i], ptr[i + 1]):
            loc = nbr[pos]
            if has_case[loc]:
                for w in range(n_w):
                    cw[w] += tail_cases[loc, w]
            for w in range(n_w):
                mw[w] += tail_mu[loc, w]
            if not is_end[pos] or cw[n_w - 1] < min_cases:
                continue
            for w in range(n_w):
                c = cw[w]
                mu = mw[w]
                if c >= min_cases and c > mu > 0.0:
                    v = _llr(c, mu, total)
                    best = max(best, v)
    return best


@numba.njit(cache=True)
def _llr_exact(c: float, mu: float, n: float) -> float:
    """``c ln(c/mu) + (n - c) ln((n - c)/(n - mu))`` (second term 0 when c = n).

    ``n = inf`` (unconditional) gives ``c ln(c/mu) - (c - mu)``.
    """
    out = c * math.log(c / mu)
    if n == math.inf:
        out -= c - mu
    elif n > c:
        out += (n - c) * math.log((n - c) / (n - mu))
    return out


@numba.njit(cache=True)
def _mu_threshold(c: float, n: float, best: float) -> float:
    """Smallest mu known to give ``LLR(c, mu) < best``; ``c`` if none is found.

    The LLR of a cylinder with c cases is convex and decreasing in mu on (0, c),
    so Newton's method started left of the root climbs to it without crossing.
    The root is then moved right by one part in a million and the result is
    checked: at or beyond the returned mu the LLR is below ``best`` by more than
    rounding error, so skipping those cylinders never changes a maximum.
    """
    if best <= 0.0:
        return c
    # c ln(c/mu) - c <= LLR, so this start lies left of the root
    mu = 0.5 * c * math.exp(-(best + c) / c)
    for _ in range(100):
        g = _llr_exact(c, mu, n) - best
        if g <= 0.0:
            break
        slope = -c / mu
        if n == math.inf:
            slope += 1.0
        elif n > c:
            slope += (n - c) / (n - mu)
        nxt = mu - g / slope
        if not nxt > mu or nxt >= c:
            break
        if nxt - mu <= 1e-14 * mu:
            mu = nxt
            break
        mu = nxt
    t = mu * (1.0 + 1e-6)
    if t < c and _llr_exact(c, t, n) < best - 1e-9 * max(1.0, best):
        return t
    return c


_LANE_BIAS = 1 << 31
"""Zero of a 32-bit slack lane: a lane below it has run out of slack."""
_LANE_CAP = 1 << 29
"""Largest slack stored in a lane; credits and debits over one centre stay below it."""
_HI = np.uint64(0x8000_0000_8000_0000)
_LOW32 = np.uint64(0xFFFF_FFFF)


@numba.njit(cache=True, inline="always")
def _need(  # noqa: PLR0917 (numba kernel)
    start: int,
    mu: float,
    thr: FloatArray,
    thr_at: FloatArray,
    total: float,
    best: float,
    top: int,
) -> int:
    """Smallest count ``c >= start`` that might give an LLR above ``best`` at ``mu``.

    Every count below the result has an LLR of at most ``best`` at ``mu`` (and
    at any larger mu), so the result minus one is at most the real-valued count
    ``c*(mu)`` at which the LLR equals ``best``. ``start`` must have the same
    property. The LLR is at most ``(c - mu)^2 (1/(2 mu) + 1/(N - mu))`` for
    ``c <= (N + mu)/2`` (see :func:`_below`), which gives a first jump; the
    thresholds ``thr`` then decide count by count.
    """
    c = start
    if best > 0.0 and 0.0 < mu < total:
        lo = mu + math.sqrt(best / (0.5 / mu + 1.0 / (total - mu))) - 1.0
        lo = min(lo, 0.5 * (total + mu))  # where the bound holds
        if lo > c:
            c = min(int(lo), top)
    while c < top:
        if thr_at[c] < 0.8 * best or thr_at[c] > best:
            thr[c] = _mu_threshold(float(c), total, best)
            thr_at[c] = best
        if thr[c] > mu:
            break
        c += 1
    return c


@numba.njit(cache=True)
def _stp_max_llr(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    code: npt.NDArray[np.integer],
    n_z: IntArray,
    delta: npt.NDArray[np.uint64],
    credit: IntArray,
    q: int,
    n_w: int,
    d_share: FloatArray,
    log_dw: FloatArray,
    total: float,
    log_int: FloatArray,
    min_cases: int,
    thr: FloatArray,
    thr_at: FloatArray,
    stop_at: float,
) -> float:
    """Max LLR of one permuted data set under the space-time permutation model.

    ``code[pos]`` is ``2 * location + is_end`` for each neighbour position.
    Windows are taken 8 at a time; each has a 32-bit *slack lane*, 2 lanes to a
    64-bit word, so a circle grows by 4 additions per neighbour:
    ``delta[loc, block]`` holds, per lane, ``credit[w] * n_z[loc] - q * cases``
    (the location's cases in window w this replicate), modulo 2**64. A lane is
    ``2**31 + q * (n - 1 - c)`` when set (n: the count a window needs to beat
    the best LLR so far at the current mu, c: its count) and the circle is
    tested only at circle ends where some lane fell below ``2**31``.

    Why the credit is safe: let ``c*(mu)`` be the real count at which the LLR
    equals the best. Its slope ``dc*/dmu`` is the logarithmic mean of ``c/mu``
    and ``(N - c)/(N - mu)``, at least 1 while ``c* <= N/2``; beyond N/2 no
    cylinder can reach it when every cylinder holds at most half the cases (its
    circle does, or the window does). So ``c*`` grows at least as
    fast as mu, and a window whose count grew by no more than its mu since it
    was last set (``credit[w] / q <= d_w / N`` per case of the circle) still
    cannot beat the best. ``credit`` is zero when a cylinder may hold more than
    half the cases (circles over half the cases and a window over half the
    cases). A tested window with enough cases gets its LLR computed
    exactly as before (same formula and logs), so the maximum is the same
    number; the scan stops once it reaches ``stop_at``.
    """
    bias = np.int64(_LANE_BIAS)
    cap = np.int64(_LANE_CAP)
    low = _LOW32
    hi = _HI
    log_total = math.log(total)
    best = 0.0
    top = thr.size - 1  # no window holds this many cases
    for c in range(thr.size):
        thr[c] = c  # c > mu is needed for a high rate: safe before any best
    thr_at[:] = 0.0
    n_blocks = (n_w + 7) // 8
    need = np.zeros(8, dtype=np.int64)
    base_c = np.zeros(8, dtype=np.int64)
    base_nc = np.zeros(8, dtype=np.int64)
    base_lane = np.zeros(8, dtype=np.int64)
    sw = np.zeros(4, dtype=np.uint64)
    for i in range(ptr.size - 1):
        for b in range(n_blocks):
            w0 = b * 8
            sw[:] = 0
            for k in range(8):
                lane = bias if w0 + k < n_w else bias + cap
                need[k] = 1  # c*(mu) >= mu >= 0
                base_c[k] = 0
                base_nc[k] = 0
                base_lane[k] = lane
                sw[k // 2] |= np.uint64(lane) << np.uint64(32 * (k % 2))
            s0 = sw[0]
            s1 = sw[1]
            s2 = sw[2]
            s3 = sw[3]
            nc = 0
            for pos in range(ptr[i], ptr[i + 1]):
                cd = code[pos]
                loc = cd >> 1
                row = delta[loc, b]
                s0 += row[0]
                s1 += row[1]
                s2 += row[2]
                s3 += row[3]
                nc += n_z[loc]
                if (cd & 1) == 0 or (s0 & s1 & s2 & s3 & hi) == hi:
                    continue
                sw[0] = s0
                sw[1] = s1
                sw[2] = s2
                sw[3] = s3
                fnc = float(nc)
                lnc = 1.0
                for k in range(8):
                    word = sw[k // 2]
                    sh = np.uint64(32 * (k % 2))
                    lane = np.int64((word >> sh) & low)
                    if lane >= bias:
                        continue
                    w = w0 + k
                    # q * (cases gained) = lane drop + credit given since the lane was set
                    gained = base_lane[k] - lane + (nc - base_nc[k]) * credit[w]
                    c = base_c[k] + gained // q
                    mu = fnc * d_share[w]
                    nd = _need(need[k], mu, thr, thr_at, total, best, top)
                    if c >= nd and c >= min_cases:
                        if lnc > 0.0:
                            lnc = math.log(fnc) - log_total
                        # ln x <= x - 1 bounds the second term by (mu - c)(N - c)/(N - mu)
                        first = c * (log_int[c] - lnc - log_dw[w])
                        rest = total - c
                        if first + (mu - c) * rest / (total - mu) > best:
                            v = first
                            if rest > 0.0:
                                v += rest * math.log(rest / (total - mu))
                            if v > best:
                                best = v
                                if best >= stop_at:
                                    return float(best)
                        nd = c + 1  # its LLR is now at most the best: c <= c*(mu)
                    slack = min((nd - 1 - c) * q, cap)
                    need[k] = nd
                    lane = bias + slack
                    base_c[k] = c
                    base_nc[k] = nc
                    base_lane[k] = lane
                    sw[k // 2] = (word & ~(low << sh)) | (np.uint64(lane) << sh)
                s0 = sw[0]
                s1 = sw[1]
                s2 = sw[2]
                s3 = sw[3]
    return float(best)


@numba.njit(cache=True, parallel=True)
def _permutation_replicates(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    code: npt.NDArray[np.integer],
    case_loc: IntArray,
    recent_day: IntArray,
    uniforms: FloatArray,
    n_z: IntArray,
    d_w: FloatArray,
    min_cases: int,
    with_credit: bool,
    n_threads: int,
    stop_at: float,
) -> FloatArray:
    """Max LLR of each replicate: the recent dates go to a random subset of cases.

    ``recent_day[j]`` (0 = last day) is the date of the j-th case falling in the
    scanned window; a partial Fisher-Yates shuffle of ``case_loc`` driven by
    ``uniforms[r]`` picks which cases receive those dates, which is exactly a
    random permutation of all dates restricted to the window.
    """
    n_rep, m = uniforms.shape
    n_w = d_w.size
    n_loc = n_z.size
    n = case_loc.size
    total = float(n)
    out = np.zeros(n_rep)
    log_dw = np.log(np.maximum(d_w, 1e-300))
    n_blocks = (n_w + 7) // 8
    d_share = np.full(n_blocks * 8, d_w[-1] / total)
    d_share[:n_w] = d_w / total
    log_int = np.zeros(m + 2)
    for k in range(1, m + 2):
        log_int[k] = math.log(k)
    # q: a lane's credits and debits over one circle stay below 2**29
    q = 1
    while q * 2 * (m + 1) <= _LANE_CAP:
        q *= 2
    credit = np.zeros(n_blocks * 8, dtype=np.int64)
    if with_credit:
        for w in range(n_w):
            credit[w] = math.floor(q * d_w[w] / total)
    base = np.zeros((n_loc, n_blocks, 4), dtype=np.uint64)
    for z in range(n_loc):
        for w in range(n_w):
            k = w % 8
            base[z, w // 8, k // 2] += np.uint64(credit[w] * n_z[z]) << np.uint64(32 * (k % 2))
    chunk = (n_rep + n_threads - 1) // n_threads
    for t in numba.prange(n_threads):
        locs = case_loc.copy()
        swaps = np.empty(m, dtype=np.int64)
        delta = base.copy()
        thr = np.zeros(m + 2)
        thr_at = np.zeros(m + 2)
        for r in range(t * chunk, min(n_rep, (t + 1) * chunk)):
            for j in range(m):
                s = j + int(uniforms[r, j] * (n - j))
                if s >= n:
                    s = n - 1
                swaps[j] = s
                tmp = locs[j]
                locs[j] = locs[s]
                locs[s] = tmp
            for j in range(m):
                loc = locs[j]
                for w in range(recent_day[j], n_w):
                    k = w % 8
                    delta[loc, w // 8, k // 2] -= np.uint64(q) << np.uint64(32 * (k % 2))
            out[r] = _stp_max_llr(
                ptr, code, n_z, delta, credit, q, n_w, d_share, log_dw, total, log_int,
                min_cases, thr, thr_at, stop_at,
            )  # fmt: skip
            for j in range(m):
                delta[locs[j]] = base[locs[j]]
            for j in range(m - 1, -1, -1):
                s = swaps[j]
                tmp = locs[j]
                locs[j] = locs[s]
                locs[s] = tmp
    return out


@numba.njit(cache=True, inline="always")
def _window_need(  # noqa: PLR0917 (numba kernel)
    need: IntArray,
    length: int,
    nc: float,
    d_min: FloatArray,
    thr: FloatArray,
    thr_at: FloatArray,
    total: float,
    best: float,
    top: int,
) -> int:
    """Refresh the count every window of ``length`` days needs at circle total ``nc``."""
    nd = _need(need[length], nc * d_min[length], thr, thr_at, total, best, top)
    need[length] = nd
    return nd


_RETRO_FIRST = 16
"""Neighbours per centre scanned in a retrospective replicate's first pass."""


@numba.njit(cache=True)
def _retro_centre(  # noqa: PLR0917 (numba kernel)
    lo: int,
    hi: int,
    code: npt.NDArray[np.integer],
    n_z: IntArray,
    slot_ptr: IntArray,
    slot_day: IntArray,
    n_w: int,
    day_cases: FloatArray,
    d_min: FloatArray,
    total: float,
    log_total: float,
    log_int: FloatArray,
    min_cases: int,
    thr: FloatArray,
    thr_at: FloatArray,
    best: float,
    cnt: IntArray,
    stamp: IntArray,
    touched: IntArray,
    seen: IntArray,
    need: IntArray,
    out: FloatArray,
) -> float:
    """Grow the circles of one centre over all windows of 1..n_w days anywhere.

    ``cnt`` holds the circle's cases per day, after ``n_w - 1`` zeros (and as
    many after the last day). At each circle end only windows
    holding a day that gained cases are looked at (the others kept their count
    and their mu grew), and only lengths L for which the 2L - 1 days around the
    day hold enough cases. A window of L days is evaluated only when its count
    reaches ``need[L]``, the count needed at the smallest mu of any L-day
    window (``nc * d_min[L]``), refreshed only when some window reaches it.
    ``out`` receives (llr, neighbours, start, length, c, mu) of the best
    cylinder when it beats ``best``; the new best is returned. ``cnt`` and
    ``stamp`` are zero on entry and on return.
    """
    n_days = stamp.size
    top = thr.size - 1
    pre = np.zeros(2 * n_w, dtype=np.int64)
    for length in range(n_w + 1):
        need[length] = 1 if length >= 1 else top
    n_touched = 0
    n_seen = 0
    end_id = 1  # stamp of the days touched since the last circle end
    nc = 0
    for pos in range(lo, hi):
        cd = code[pos]
        loc = cd >> 1
        nc += n_z[loc]
        for j in range(slot_ptr[loc], slot_ptr[loc + 1]):
            d = slot_day[j]
            if cnt[d + n_w - 1] == 0:
                seen[n_seen] = d
                n_seen += 1
            cnt[d + n_w - 1] += 1
            if stamp[d] != end_id:
                stamp[d] = end_id
                touched[n_touched] = d
                n_touched += 1
        if (cd & 1) == 0 or n_touched == 0:
            continue
        end_id += 1
        fnc = float(nc)
        lnc = math.log(fnc) - log_total
        for t in range(n_touched):
            d = touched[t]
            # cases in the 2 n_w - 1 days around d (cnt is padded with n_w - 1 zeros
            # each side) as prefix sums: every window holding d is a difference
            acc = 0
            pre[0] = 0
            for j in range(2 * n_w - 1):
                acc += cnt[d + j]
                pre[j + 1] = acc
            for length in range(1, n_w + 1):
                nl = need[length]
                nl = max(nl, min_cases)
                if pre[n_w + length - 1] - pre[n_w - length] < nl:
                    continue  # even the 2 L - 1 days around d hold too few
                for k in range(length):
                    i0 = n_w - length + k
                    c = pre[i0 + length] - pre[i0]
                    s = d - length + 1 + k
                    if c < nl or s < 0 or s + length > n_days:
                        continue
                    nd = _window_need(need, length, fnc, d_min, thr, thr_at, total, best, top)
                    nl = max(nd, min_cases)
                    if c < nd:
                        continue
                    dd = day_cases[s + length] - day_cases[s]
                    mu = fnc * dd / total
                    if c > mu and not _below(float(c), mu, total, best):
                        v = c * (log_int[c] - lnc - math.log(dd))
                        rest = total - c
                        if rest > 0.0:
                            v += rest * math.log(rest / (total - mu))
                        if v > best:
                            best = v
                            out[0] = v
                            out[1] = pos - lo + 1
                            out[2] = s
                            out[3] = length
                            out[4] = c
                            out[5] = mu
        n_touched = 0
    for t in range(n_seen):
        cnt[seen[t] + n_w - 1] = 0
        stamp[seen[t]] = 0
    return best


@numba.njit(cache=True, parallel=True)
def _retro_best_per_centre(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    code: npt.NDArray[np.integer],
    n_z: IntArray,
    slot_ptr: IntArray,
    slot_day: IntArray,
    n_w: int,
    day_cases: FloatArray,
    d_min: FloatArray,
    min_cases: int,
    n_threads: int,
) -> FloatArray:
    """Best retrospective cylinder per centre: rows of (llr, neighbours, start, length, c, mu)."""
    n_centres = ptr.size - 1
    n_days = day_cases.size - 1
    total = float(slot_day.size)
    log_total = math.log(total)
    best = np.zeros((n_centres, 6))
    top = slot_day.size + 2
    log_int = np.zeros(top)
    for k in range(1, top):
        log_int[k] = math.log(k)
    chunk = (n_centres + n_threads - 1) // n_threads
    for t in numba.prange(n_threads):
        thr = np.zeros(top)
        thr_at = np.zeros(top)
        for c in range(top):
            thr[c] = c
        cnt = np.zeros(n_days + 2 * (n_w - 1), dtype=np.int64)
        stamp = np.zeros(n_days, dtype=np.int64)
        touched = np.zeros(n_days, dtype=np.int64)
        seen = np.zeros(n_days, dtype=np.int64)
        need = np.zeros(n_w + 1, dtype=np.int64)
        for i in range(t * chunk, min(n_centres, (t + 1) * chunk)):
            _retro_centre(
                ptr[i], ptr[i + 1], code, n_z, slot_ptr, slot_day, n_w, day_cases, d_min,
                total, log_total, log_int, min_cases, thr, thr_at, 0.0, cnt, stamp, touched,
                seen, need, best[i],
            )  # fmt: skip
    return best


@numba.njit(cache=True, parallel=True)
def _retro_replicates(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    code: npt.NDArray[np.integer],
    n_z: IntArray,
    slot_ptr: IntArray,
    slot_day: IntArray,
    uniforms: FloatArray,
    n_w: int,
    day_cases: FloatArray,
    d_min: FloatArray,
    min_cases: int,
    n_threads: int,
    stop_at: float,
) -> FloatArray:
    """Max retrospective LLR of each replicate: the dates shuffled over all cases.

    Replicate r shuffles a fresh copy of the dates (cases ordered by location)
    with ``uniforms[r]`` (Fisher-Yates), so its permutation depends on its row
    only, whatever the number of threads.
    """
    n_rep, n = uniforms.shape
    n_centres = ptr.size - 1
    n_days = day_cases.size - 1
    total = float(n)
    log_total = math.log(total)
    out = np.zeros(n_rep)
    top = n + 2
    log_int = np.zeros(top)
    for k in range(1, top):
        log_int[k] = math.log(k)
    chunk = (n_rep + n_threads - 1) // n_threads
    for t in numba.prange(n_threads):
        days = slot_day.copy()
        thr = np.zeros(top)
        thr_at = np.zeros(top)
        cnt = np.zeros(n_days + 2 * (n_w - 1), dtype=np.int64)
        stamp = np.zeros(n_days, dtype=np.int64)
        touched = np.zeros(n_days, dtype=np.int64)
        seen = np.zeros(n_days, dtype=np.int64)
        need = np.zeros(n_w + 1, dtype=np.int64)
        row = np.zeros(6)
        for r in range(t * chunk, min(n_rep, (t + 1) * chunk)):
            days[:] = slot_day
            for j in range(n - 1):
                s = j + int(uniforms[r, j] * (n - j))
                if s >= n:
                    s = n - 1
                tmp = days[j]
                days[j] = days[s]
                days[s] = tmp
            for c in range(top):
                thr[c] = c
            thr_at[:] = 0.0
            best = 0.0
            # small circles first: the maximum is usually there, and a high best early
            # lets the large circles skip more (and stop sooner at stop_at)
            for phase in range(2):
                for i in range(n_centres):
                    hi = ptr[i + 1] if phase else min(ptr[i + 1], ptr[i] + _RETRO_FIRST)
                    best = _retro_centre(
                        ptr[i], hi, code, n_z, slot_ptr, days, n_w, day_cases, d_min,
                        total, log_total, log_int, min_cases, thr, thr_at, best, cnt, stamp,
                        touched, seen, need, row,
                    )  # fmt: skip
                    if best >= stop_at:
                        break
                if best >= stop_at:
                    break
            out[r] = best
    return out


@numba.njit(cache=True)
def _poisson_max_llr(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    code: npt.NDArray[np.integer],
    delta: npt.NDArray[np.uint64],
    cum_mu: FloatArray,
    q: int,
    n_w: int,
    total: float,
    min_cases: int,
    thr: FloatArray,
    thr_at: FloatArray,
) -> float:
    """Max LLR of one Poisson replicate, with the slack lanes of :func:`_stp_max_llr`.

    ``delta[loc, block]`` holds ``-q * cases`` per window lane (no credit: with
    counts not bounded by half the cases, c*(mu) may grow slower than mu);
    ``cum_mu[pos, w]`` is the circle's expected count summed over positions in
    the same order as the observed scan, so every LLR computed is the number
    the plain scan computes.
    """
    bias = np.int64(_LANE_BIAS)
    cap = np.int64(_LANE_CAP)
    low = _LOW32
    hi = _HI
    best = 0.0
    top = thr.size - 1
    for c in range(thr.size):
        thr[c] = c
    thr_at[:] = 0.0
    n_blocks = (n_w + 7) // 8
    need = np.zeros(8, dtype=np.int64)
    base_c = np.zeros(8, dtype=np.int64)
    base_lane = np.zeros(8, dtype=np.int64)
    sw = np.zeros(4, dtype=np.uint64)
    for i in range(ptr.size - 1):
        for b in range(n_blocks):
            w0 = b * 8
            sw[:] = 0
            for k in range(8):
                lane = bias if w0 + k < n_w else bias + cap
                need[k] = 1
                base_c[k] = 0
                base_lane[k] = lane
                sw[k // 2] |= np.uint64(lane) << np.uint64(32 * (k % 2))
            s0 = sw[0]
            s1 = sw[1]
            s2 = sw[2]
            s3 = sw[3]
            for pos in range(ptr[i], ptr[i + 1]):
                cd = code[pos]
                row = delta[cd >> 1, b]
                s0 += row[0]
                s1 += row[1]
                s2 += row[2]
                s3 += row[3]
                if (cd & 1) == 0 or (s0 & s1 & s2 & s3 & hi) == hi:
                    continue
                sw[0] = s0
                sw[1] = s1
                sw[2] = s2
                sw[3] = s3
                for k in range(8):
                    word = sw[k // 2]
                    sh = np.uint64(32 * (k % 2))
                    lane = np.int64((word >> sh) & low)
                    if lane >= bias:
                        continue
                    w = w0 + k
                    c = base_c[k] + (base_lane[k] - lane) // q
                    mu = cum_mu[pos, w]
                    nd = _need(need[k], mu, thr, thr_at, total, best, top)
                    if c >= nd and c >= min_cases:
                        if c > mu > 0.0 and not _below(float(c), mu, total, best):
                            best = max(best, _llr(c, mu, total))
                        nd = c + 1
                    slack = min((nd - 1 - c) * q, cap)
                    need[k] = nd
                    lane = bias + slack
                    base_c[k] = c
                    base_lane[k] = lane
                    sw[k // 2] = (word & ~(low << sh)) | (np.uint64(lane) << sh)
                s0 = sw[0]
                s1 = sw[1]
                s2 = sw[2]
                s3 = sw[3]
    return float(best)


@numba.njit(cache=True, parallel=True)
def _poisson_lane_replicates(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    code: npt.NDArray[np.integer],
    draws: npt.NDArray[np.int64],
    cum_mu: FloatArray,
    n_w: int,
    total: float,
    max_count: int,
    min_cases: int,
    n_threads: int,
) -> FloatArray:
    """Max LLR of each replicate given draws of the window cells.

    ``draws[r]`` holds the cases of the n_locations x n_w window cells (day 0 =
    last day), flattened row-major; no cylinder of a replicate holds more than
    ``max_count`` cases. ``total`` is the observed total (conditional LLR) or
    inf (unconditional).
    """
    n_rep = draws.shape[0]
    n_loc = draws.shape[1] // n_w
    n_blocks = (n_w + 7) // 8
    out = np.zeros(n_rep)
    top = max_count + 2
    q = 1
    while q * 2 * top <= _LANE_CAP:
        q *= 2
    chunk = (n_rep + n_threads - 1) // n_threads
    for t in numba.prange(n_threads):
        delta = np.zeros((n_loc, n_blocks, 4), dtype=np.uint64)
        thr = np.zeros(top)
        thr_at = np.zeros(top)
        for r in range(t * chunk, min(n_rep, (t + 1) * chunk)):
            for z in range(n_loc):
                acc = 0
                for w in range(n_w):
                    acc += draws[r, z * n_w + w]
                    k = w % 8
                    delta[z, w // 8, k // 2] -= np.uint64(q * acc) << np.uint64(32 * (k % 2))
            out[r] = _poisson_max_llr(
                ptr, code, delta, cum_mu, q, n_w, total, min_cases, thr, thr_at
            )
            delta[:] = 0
    return out


@numba.njit(cache=True)
def _cumulative_mu(ptr: IntArray, nbr: IntArray, tail_mu: FloatArray) -> FloatArray:
    """Each circle's expected count per window, summed over positions as the scan does."""
    n_w = tail_mu.shape[1]
    out = np.empty((nbr.size, n_w))
    mw = np.zeros(n_w)
    for i in range(ptr.size - 1):
        mw[:] = 0.0
        for pos in range(ptr[i], ptr[i + 1]):
            for w in range(n_w):
                mw[w] += tail_mu[nbr[pos], w]
                out[pos, w] = mw[w]
    return out


_CUM_MU_MAX_BYTES = 512 * 2**20
"""Above this the Poisson replicates accumulate mu per neighbour instead of reading it."""


@numba.njit(cache=True, parallel=True)
def _poisson_replicates(  # noqa: PLR0917 (numba kernel)
    ptr: IntArray,
    nbr: IntArray,
    is_end: npt.NDArray[np.bool_],
    draws: npt.NDArray[np.int64],
    tail_mu: FloatArray,
    total: float,
    min_cases: int,
    n_threads: int,
) -> FloatArray:
    """Max LLR of each replicate given multinomial draws of the window cells.

    ``draws[r]`` holds the cases of the n_locations x n_w window cells (day 0 =
    last day), flattened row-major.
    """
    n_rep = draws.shape[0]
    n_loc, n_w = tail_mu.shape
    out = np.zeros(n_rep)
    chunk = (n_rep + n_threads - 1) // n_threads
    for t in numba.prange(n_threads):
        tail = np.zeros((n_loc, n_w), dtype=np.int64)
        has = np.zeros(n_loc, dtype=np.bool_)
        cw = np.zeros(n_w, dtype=np.int64)
        mw = np.zeros(n_w)
        for r in range(t * chunk, min(n_rep, (t + 1) * chunk)):
            for z in range(n_loc):
                acc = 0
                for d in range(n_w):
                    acc += draws[r, z * n_w + d]
                    tail[z, d] = acc
                has[z] = acc > 0
            out[r] = _max_llr(ptr, nbr, is_end, tail, has, tail_mu, total, min_cases, cw, mw)
    return out


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
    best = _scan_best_per_centre(
        circles.ptr, circles.neighbours, circles.is_end, tail_cases, tail_mu,
        float(n_cases), int(min_cases), _n_threads(),
    )  # fmt: skip
    m = int(in_window.sum())
    if replicates and m:
        recent_day = np.sort(back[in_window]).astype(np.int64)
        uniforms = rng.random((replicates, m))
        observed_max = float(best[0].max()) if best[0].size else 0.0
        stop_at = observed_max if stop_early and observed_max > 0 else math.inf
        rep = _permutation_replicates(
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
    rows = _retro_best_per_centre(
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
        from watchfloor.tension._retrospective import MAX_DAYS, retro_replicates  # noqa: PLC0415

        kernel = retro_replicates if MAX_DAYS // 2 < max_days <= MAX_DAYS else _retro_replicates
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
    best = _scan_best_per_centre(
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
            rep = _poisson_lane_replicates(
                circles.ptr, _code_array(circles), np.ascontiguousarray(draws),
                _cumulative_mu(circles.ptr, circles.neighbours, tail_mu), max_days, llr_total,
                max_count, int(min_cases), _n_threads(),
            )  # fmt: skip
        else:
            rep = _poisson_replicates(
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
