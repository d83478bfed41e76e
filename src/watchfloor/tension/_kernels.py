"""The numba kernels behind :mod:`watchfloor.tension.scan` (prospective and Poisson).

Private to the package: :mod:`watchfloor.tension.scan` calls the public names
here with arrays it has validated, and :mod:`watchfloor.tension._retrospective`
(the retrospective kernels) shares the bound :func:`llr_below` and the
per-length threshold :func:`window_need`. This module imports only numpy,
numba and :mod:`watchfloor.types`, never the scan module, so there is no
import cycle.

What lives here, in the order the scans use it:

* :func:`circles_kernel`: the candidate circles (tie groups enter whole);
* :func:`scan_best_per_centre`: the observed best cylinder of every centre,
  for both models (``total = inf`` gives the unconditional Poisson LLR);
* the space-time permutation replicates (:func:`permutation_replicates` over
  ``_stp_max_llr`` with its 32-bit slack lanes and count thresholds);
* the Poisson replicates, twice: :func:`poisson_lane_replicates` (slack lanes
  over the cumulative mu of :func:`cumulative_mu`, when that array fits in
  memory) and :func:`poisson_replicates` (the plain loop of ``_max_llr``).

Why one module of some 700 lines: the kernels share the LLR bounds, the
threshold tables (``_need``, ``_mu_threshold``) and the lane constants, and
numba inlines them across calls; split further, each piece would import the
same half-dozen private helpers back.

Repeated structure, kept for speed: ``_max_llr``, ``_stp_max_llr`` and
``_poisson_max_llr`` all grow circles over neighbours and keep the best LLR,
and :func:`poisson_replicates` / :func:`poisson_lane_replicates` both loop
over replicates the same way. They are specialisations, not copies to merge:
the lane kernels test eight windows per 64-bit pair of additions and skip a
circle end unless some lane fell below its threshold (several times faster on
the benchmark's 1,000 and 5,000 areas), while the plain kernels are the
fallback when the cumulative arrays would not fit and the reference the lane
kernels must equal (every LLR they compute is the same number, so replicate
maxima and p-values do not depend on which kernel ran).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from watchfloor.types import FloatArray, IntArray

__all__ = [
    "circles_kernel",
    "cumulative_mu",
    "llr_below",
    "permutation_replicates",
    "poisson_lane_replicates",
    "poisson_replicates",
    "scan_best_per_centre",
    "window_need",
]


@numba.njit(cache=True)
def circles_kernel(
    dist: FloatArray,
    order: npt.NDArray[np.int32],
    weight: FloatArray,
    limit: float,
    radius: float,
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_], FloatArray]:
    """Return the circles as (ptr, neighbours, is_end, distance_km) arrays.

    ``order[i]`` is row i of ``dist`` sorted (stably) by distance; a group of
    equal distances enters whole or not at all, and a circle stops before its
    cases exceed ``limit`` or its radius ``radius`` (both with a 1e-12 margin).
    """
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
def llr_below(c: float, mu: float, n: float, best: float) -> bool:
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
def scan_best_per_centre(  # noqa: PLR0917 (numba kernel)
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
    (:func:`llr_below`); the others are computed, so the result is the same.
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
                        if llr_below(float(c), mu, total, best[i]):
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
    ``c <= (N + mu)/2`` (see :func:`llr_below`), which gives a first jump; the
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
def permutation_replicates(  # noqa: PLR0917 (numba kernel)
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
def window_need(  # noqa: PLR0917 (numba kernel)
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
    """Return the count every window of ``length`` days needs at circle total ``nc``.

    The count is also stored in ``need[length]`` for the next window.
    """
    nd = _need(need[length], nc * d_min[length], thr, thr_at, total, best, top)
    need[length] = nd
    return nd


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
    """Max LLR of one Poisson replicate, with the slack lanes of ``_stp_max_llr``.

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
                        if c > mu > 0.0 and not llr_below(float(c), mu, total, best):
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
def poisson_lane_replicates(  # noqa: PLR0917 (numba kernel)
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
def cumulative_mu(ptr: IntArray, nbr: IntArray, tail_mu: FloatArray) -> FloatArray:
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


@numba.njit(cache=True, parallel=True)
def poisson_replicates(  # noqa: PLR0917 (numba kernel)
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

    The plain loop of :func:`poisson_lane_replicates` (same structure, same
    maxima): used when the cumulative mu per neighbour would not fit in memory.
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
