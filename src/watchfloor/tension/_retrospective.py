"""The numba kernels of the retrospective space-time permutation scan.

Private to the package: :mod:`watchfloor.tension.scan` calls them (its
``space_time_permutation_scan(..., analysis="retrospective")``). They import
the shared bound :func:`~watchfloor.tension._kernels.llr_below` and the
per-length threshold :func:`~watchfloor.tension._kernels.window_need` from
:mod:`watchfloor.tension._kernels`, never the scan module, so there is no
import cycle.

The observed scan (:func:`retro_best_per_centre`) and the replicates
(:func:`retro_replicates`) grow each circle over its neighbours keeping its
cases per day and, at a circle end, look only at windows holding a day that
gained cases, evaluating a window only when its count reaches ``need[L]`` (the
count needed to beat the best so far at the smallest mu of any L-day window).
A replicate shuffles the dates over all cases and needs its maximum LLR over
every circle and every window of 1 to ``n_w`` days anywhere in the period.

:func:`retro_replicates_7day` repeats the structure of
:func:`retro_replicates` on purpose, for speed: its layout is fixed at
:data:`MAX_DAYS` days (windows of up to 7 days; longer lengths get an
unreachable need), so the numba compiler unrolls the loops over lengths and
windows, and every touched day first gets a branch-free test of all windows
holding it against their needs. About 96 % of touched days fail that test and
cost some 40 straight-line additions and comparisons; the others go through
the same checks, need updates and LLR formula as the general kernel, so every
replicate maximum is the same number (1.4-2.3x faster at 5-7 days, slower at
1-2: the scan uses it for windows of 4 to 7 days).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from watchfloor.tension._kernels import llr_below, window_need
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "FIRST_NEIGHBOURS",
    "MAX_DAYS",
    "retro_best_per_centre",
    "retro_replicates",
    "retro_replicates_7day",
]

FIRST_NEIGHBOURS = 16
"""Neighbours per centre scanned in a replicate's first pass (a high best early)."""


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
                    nd = window_need(need, length, fnc, d_min, thr, thr_at, total, best, top)
                    nl = max(nd, min_cases)
                    if c < nd:
                        continue
                    dd = day_cases[s + length] - day_cases[s]
                    mu = fnc * dd / total
                    if c > mu and not llr_below(float(c), mu, total, best):
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
def retro_best_per_centre(  # noqa: PLR0917 (numba kernel)
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
def retro_replicates(  # noqa: PLR0917 (numba kernel)
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
                    hi = ptr[i + 1] if phase else min(ptr[i + 1], ptr[i] + FIRST_NEIGHBOURS)
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


MAX_DAYS = 7
"""Longest window these kernels take (a compile-time constant: loops unroll)."""


@numba.njit(cache=True)
def _centre_max_7day(  # noqa: PLR0917 (numba kernel)
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
) -> float:
    """Largest of ``best`` and the LLRs of the circles of positions lo..hi-1 (n_w <= 7).

    ``cnt`` holds the circle's cases per day after ``MAX_DAYS - 1`` zeros (and as
    many after the last day); ``cnt`` and ``stamp`` are zero on entry and on
    return; ``need`` has ``MAX_DAYS + 1`` entries.
    """
    n_days = stamp.size
    w = MAX_DAYS  # the layout; windows are 1..n_w days
    n_touched = 0
    n_seen = 0
    end_id = 1  # stamp of the days touched since the last circle end
    nc = 0
    pad = w - 1
    top = thr.size - 1
    pre = np.zeros(2 * w, dtype=np.int64)
    for length in range(w + 1):
        need[length] = 1 if 1 <= length <= n_w else top + min_cases
    for pos in range(lo, hi):
        cd = code[pos]
        loc = cd >> 1
        nc += n_z[loc]
        for j in range(slot_ptr[loc], slot_ptr[loc + 1]):
            d = slot_day[j]
            if cnt[d + pad] == 0:
                seen[n_seen] = d
                n_seen += 1
            cnt[d + pad] += 1
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
            # cases in the 2 w - 1 days around d (cnt is padded with w - 1 zeros
            # each side) as prefix sums: every window holding d is a difference
            acc = 0
            pre[0] = 0
            for j in range(2 * w - 1):
                acc += cnt[d + j]
                pre[j + 1] = acc
            # branch-free: does any window holding d reach its length's need?
            hit = False
            for length in range(1, w + 1):
                nl = max(need[length], min_cases)
                for k in range(length):
                    i0 = w - length + k
                    hit |= pre[i0 + length] - pre[i0] >= nl
            if not hit:
                continue
            for length in range(1, n_w + 1):
                nl = max(need[length], min_cases)
                if pre[w + length - 1] - pre[w - length] < nl:
                    continue  # even the 2 L - 1 days around d hold too few
                for k in range(length):
                    i0 = w - length + k
                    c = pre[i0 + length] - pre[i0]
                    s = d - length + 1 + k
                    if c < nl or s < 0 or s + length > n_days:
                        continue
                    nd = window_need(need, length, fnc, d_min, thr, thr_at, total, best, top)
                    nl = max(nd, min_cases)
                    if c < nd:
                        continue
                    dd = day_cases[s + length] - day_cases[s]
                    mu = fnc * dd / total
                    if c > mu and not llr_below(float(c), mu, total, best):
                        v = c * (log_int[c] - lnc - math.log(dd))
                        rest = total - c
                        if rest > 0.0:
                            v += rest * math.log(rest / (total - mu))
                        best = max(best, v)
        n_touched = 0
    for t in range(n_seen):
        cnt[seen[t] + pad] = 0
        stamp[seen[t]] = 0
    return best


@numba.njit(cache=True, parallel=True)
def retro_replicates_7day(  # noqa: PLR0917 (numba kernel)
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
    """Max retrospective LLR of each replicate (windows of 1..n_w days, n_w <= 7).

    Replicate r shuffles a fresh copy of the dates (cases ordered by location)
    with ``uniforms[r]`` (Fisher-Yates), so its permutation depends on its row
    only, whatever the number of threads; threads take every ``n_threads``-th
    replicate (their costs differ when the scan stops at ``stop_at``).
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
    for t in numba.prange(n_threads):
        days = slot_day.copy()
        thr = np.zeros(top)
        thr_at = np.zeros(top)
        cnt = np.zeros(n_days + 2 * (MAX_DAYS - 1), dtype=np.int64)
        stamp = np.zeros(n_days, dtype=np.int64)
        touched = np.zeros(n_days, dtype=np.int64)
        seen = np.zeros(n_days, dtype=np.int64)
        need = np.zeros(MAX_DAYS + 1, dtype=np.int64)
        for r in range(t, n_rep, n_threads):
            for j in range(n):
                days[j] = slot_day[j]
            for j in range(n - 1):
                s = j + int(uniforms[r, j] * (n - j))
                if s >= n:
                    s = n - 1
                tmp = days[j]
                days[j] = days[s]
                days[s] = tmp
            for c in range(top):
                thr[c] = c  # c > mu is needed for a high rate: safe before any best
            thr_at[:] = 0.0
            best = 0.0
            # small circles first: the maximum is usually there, and a high best early
            # lets the large circles skip more (and stop sooner at stop_at)
            for phase in range(2):
                for i in range(n_centres):
                    hi = ptr[i + 1] if phase else min(ptr[i + 1], ptr[i] + FIRST_NEIGHBOURS)
                    best = _centre_max_7day(
                        ptr[i], hi, code, n_z, slot_ptr, days, n_w, day_cases, d_min,
                        total, log_total, log_int, min_cases, thr, thr_at, best, cnt, stamp,
                        touched, seen, need,
                    )  # fmt: skip
                    if best >= stop_at:
                        break
                if best >= stop_at:
                    break
            out[r] = best
    return out
