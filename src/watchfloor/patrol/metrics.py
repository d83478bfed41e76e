"""Predictability and dosage metrics of sampled patrol shifts.

* empirical coverage: per site-slot, the share of shifts with a visit and the
  mean number of visits (compare with the plan's coverage);
* inter-visit spread: per site, the standard deviation of the time between
  consecutive visits across shifts (a rota has spread 0: it is predictable);
* revisits in peak windows: the share of priority sites whose peak window has
  no gap longer than ``within_s`` (2 hours) without a visit, averaged over
  shifts (Koper 1995; Project Servator's unpredictable, repeated presence);
* visit lengths: the distribution of ``dwell_s`` (600-960 s expected);
* visit-time entropy: per site, the entropy (bits) of the slot of its visits
  across shifts (0: always the same slot; ``log2(n_slots)``: any slot alike);
* the learning attacker: over simulated days, an observer who watched the
  last ``k`` days strikes the site-slot with the highest value times the
  observed share of days without a visit; its realised gain is what it gets
  against that day's actual patrols (the issue's Project Servator test).

The entropy of the mixed strategy itself is
:func:`watchfloor.patrol.sampling.strategy_entropy_bits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchfloor.patrol.sampling import UnitRoute
from watchfloor.types import FloatArray

__all__ = [
    "EmpiricalCoverage",
    "VisitLengths",
    "empirical_coverage",
    "hits_of_shift",
    "inter_visit_spread_s",
    "learning_attacker_gains",
    "peak_revisit_share",
    "visit_lengths",
    "visit_time_entropy_bits",
    "visits_per_unit_hour",
]

Shift = Sequence[UnitRoute]


@dataclass(frozen=True, eq=False)
class EmpiricalCoverage:
    """Return value of :func:`empirical_coverage` (float64[n_sites, n_slots] each)."""

    visited_share: FloatArray
    mean_visits: FloatArray
    n_shifts: int


@dataclass(frozen=True)
class VisitLengths:
    """Return value of :func:`visit_lengths`: counts per minute bin and summary numbers."""

    bin_edges_s: tuple[float, ...]
    counts: tuple[int, ...]
    mean_s: float
    p10_s: float
    p90_s: float
    n_visits: int


def empirical_coverage(shifts: Sequence[Shift], *, n_sites: int, n_slots: int) -> EmpiricalCoverage:
    """Return the share of shifts that visit each site-slot and the mean visits per shift."""
    visited = np.zeros((n_sites, n_slots))
    visits = np.zeros((n_sites, n_slots))
    for shift in shifts:
        hit = np.zeros((n_sites, n_slots))
        for route in shift:
            for v in route.visits:
                if 0 <= v.slot < n_slots:
                    hit[v.site, v.slot] += 1
        visits += hit
        visited += hit > 0
    n = max(len(shifts), 1)
    return EmpiricalCoverage(
        visited_share=visited / n, mean_visits=visits / n, n_shifts=len(shifts)
    )


def inter_visit_spread_s(shifts: Sequence[Shift], *, n_sites: int) -> FloatArray:
    """Return per site the standard deviation (s) of gaps between visits (nan: < 2 gaps)."""
    gaps: list[list[float]] = [[] for _ in range(n_sites)]
    for shift in shifts:
        times: list[list[float]] = [[] for _ in range(n_sites)]
        for route in shift:
            for v in route.visits:
                times[v.site].append(v.arrive_s)
        for i, t in enumerate(times):
            if len(t) > 1:
                gaps[i].extend(np.diff(np.sort(t)).tolist())
    return np.array([float(np.std(g)) if len(g) > 1 else np.nan for g in gaps])


def peak_revisit_share(
    shifts: Sequence[Shift],
    *,
    priority_sites: Sequence[int],
    peak_start_s: Sequence[float],
    peak_end_s: Sequence[float],
    within_s: float = 7200.0,
) -> float:
    """Return the mean share of priority sites never left unvisited for ``within_s`` in their peak.

    Site ``priority_sites[k]``'s peak window is ``[peak_start_s[k], peak_end_s[k]]``;
    it counts as revisited in a shift when the window start, its visits and the
    window end are never more than ``within_s`` apart.
    """
    if not priority_sites or not shifts:
        return float("nan")
    shares = []
    for shift in shifts:
        times: dict[int, list[float]] = {}
        for route in shift:
            for v in route.visits:
                times.setdefault(v.site, []).append(v.arrive_s)
        ok = 0
        for site, a, b in zip(priority_sites, peak_start_s, peak_end_s, strict=True):
            t = sorted(x for x in times.get(site, []) if a <= x <= b)
            marks = np.array([a, *t, b])
            ok += bool(np.diff(marks).max() <= within_s)
        shares.append(ok / len(priority_sites))
    return float(np.mean(shares))


def visit_lengths(shifts: Sequence[Shift], *, include_pinned: bool = False) -> VisitLengths:
    """Return the distribution of visit lengths in one-minute bins from 10 to 16 minutes."""
    dwell = np.array(
        [
            v.dwell_s
            for shift in shifts
            for route in shift
            for v in route.visits
            if include_pinned or not v.pinned
        ]
    )
    edges = np.arange(600.0, 961.0, 60.0)
    counts, _ = (
        np.histogram(np.clip(dwell, 600.0, 960.0), bins=edges)
        if dwell.size
        else (
            np.zeros(edges.size - 1, dtype=np.int64),
            edges,
        )
    )
    if dwell.size == 0:
        return VisitLengths(
            tuple(edges.tolist()), tuple(int(c) for c in counts), np.nan, np.nan, np.nan, 0
        )
    return VisitLengths(
        bin_edges_s=tuple(edges.tolist()),
        counts=tuple(int(c) for c in counts),
        mean_s=float(dwell.mean()),
        p10_s=float(np.percentile(dwell, 10)),
        p90_s=float(np.percentile(dwell, 90)),
        n_visits=int(dwell.size),
    )


def visits_per_unit_hour(shifts: Sequence[Shift]) -> float:
    """Return the number of visits per unit and hour on shift, over all shifts (nan: no time)."""
    visits = sum(len(r.visits) for shift in shifts for r in shift)
    hours = sum((r.end_s - r.start_s) / 3600.0 for shift in shifts for r in shift)
    return visits / hours if hours > 0 else float("nan")


def hits_of_shift(shift: Shift, *, n_sites: int, n_slots: int) -> npt.NDArray[np.bool_]:
    """Return bool[n_sites, n_slots]: the site-slots one shift visits."""
    hit = np.zeros((n_sites, n_slots), dtype=bool)
    for route in shift:
        for v in route.visits:
            if 0 <= v.slot < n_slots:
                hit[v.site, v.slot] = True
    return hit


def visit_time_entropy_bits(shifts: Sequence[Shift], *, n_sites: int, n_slots: int) -> FloatArray:
    """Return per site the entropy (bits) of the slot of its visits over shifts (nan: no visit).

    Each visit counts once; ``0`` means the site is always visited in the same
    slot (an observer knows when), ``log2(n_slots)`` that every slot is as likely.
    """
    counts = np.zeros((n_sites, n_slots))
    for shift in shifts:
        for route in shift:
            for v in route.visits:
                if 0 <= v.slot < n_slots:
                    counts[v.site, v.slot] += 1
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / total
        h = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    out: FloatArray = np.where(total[:, 0] > 0, h, np.nan)
    return out


def learning_attacker_gains(
    hits: npt.NDArray[np.bool_],
    attacker_uncovered: FloatArray,
    attacker_covered: FloatArray,
    *,
    window_days: int,
) -> FloatArray:
    """Return the attacker's realised gain per day after the first ``window_days``.

    Parameters
    ----------
    hits : bool[n_days, n_sites, n_slots]
        Which site-slots were visited on each day.
    attacker_uncovered, attacker_covered : float[n_sites, n_slots]
        Attacker's payoff without / with a visit.
    window_days
        How many past days the attacker watched (``k``).

    On day ``t`` the attacker strikes ``argmax A^u (1 - share of the last k days
    with a visit)`` (ties: the first) and gains ``A^c`` if day ``t`` has a visit
    there, else ``A^u``.
    """
    n_days = hits.shape[0]
    gains = []
    for t in range(window_days, n_days):
        seen = hits[t - window_days : t].mean(axis=0)
        score = attacker_uncovered * (1.0 - seen)
        i, s = np.unravel_index(int(np.argmax(score)), score.shape)
        gains.append(attacker_covered[i, s] if hits[t, i, s] else attacker_uncovered[i, s])
    return np.asarray(gains, dtype=np.float64)
