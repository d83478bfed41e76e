r"""Exact pricing of one unit's route: a longest path on the time-expanded DAG.

The model
---------
Visits start at ticks ``t_0 < t_1 < ...`` (the schedule's grid) and last
``dwell_s``. A unit's route runs from anchor to anchor (its start location at
the time it is free, any pinned visits, its end base by the end of its
shift). Between two anchors ``A = (a, dep_a)`` and ``B = (b, arr_b)`` a state
is a visit ``(j, q)`` with ``dep_a + T_{aj} <= t_q`` and
``t_q + dwell_s + T_{jb} <= arr_b``; state ``(i, p)`` precedes ``(j, q)`` when
``t_p + dwell_s + T_{ij} <= t_q`` (``T`` the unit's travel-time matrix; the
same site again only in a later slot). These states and moves form a DAG in
time order, and the route that collects the most weight ``w_{j, slot(q)}`` is
its longest path, found by dynamic programming over the ticks::

    V(j, q) = w_{j, slot(q)} + max(0, max_{(i, p) -> (j, q)} V(i, p))

with a running maximum of ``V(i, .)`` over the ticks, so a move needs only the
latest tick ``p`` that still reaches ``j`` by ``t_q``. It is exact over *all*
moves (not only the ``n_neighbours`` of the schedule LP's graph).

Only sites of positive weight need be states. That is exact when travel times obey
the triangle inequality (``T_{ij} <= T_{ik} + T_{kj}``: shortest-path times
from the travel-time engine do), since a detour through a site of no weight
then never arrives earlier (with a bound on visits in a row to one site it
is not: a visit elsewhere breaks a run, so every site is a state). A route
may count a site-slot twice only by visiting the site twice in one slot with
another site in between, which
needs three ticks in a slot; the pricing value is then an over-estimate, so
bounds built from it stay valid.

Reference: the pricing problem of column generation for vehicle routing
on a time-expanded network (Desrosiers, Dumas, Solomon & Soumis, "Time
constrained routing and scheduling", Handbooks in OR & MS 8, 1995).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = ["Anchor", "BestRoute", "best_route", "reachable_site_slots"]

#: ``(location, arrive_s, depart_s, pin index or -1)``: where a route must be, in time order.
Anchor = tuple[int, float, float, int]

_EPS_S = 1e-6


@dataclass(frozen=True, eq=False)
class BestRoute:
    """Return value of :func:`best_route`: the route's weight and its visits in time order.

    Attributes
    ----------
    value : float
        Sum of the weights of the visited site-slots (0: stay at base).
    site, tick : int64[n_visits]
        The visits: site index and tick index (into ``tick_time_s``).
    """

    value: float
    site: IntArray
    tick: IntArray


def _previous_slot_tick(tick_time_s: FloatArray, tick_slot: IntArray, dwell_s: float) -> IntArray:
    """Return per tick the latest earlier-slot tick whose visit ends by then (-1: none)."""
    out = np.full(tick_time_s.size, -1, dtype=np.int64)
    for q in range(tick_time_s.size):
        ok = np.flatnonzero(
            (tick_slot < tick_slot[q]) & (tick_time_s + dwell_s <= tick_time_s[q] + _EPS_S)
        )
        if ok.size:
            out[q] = ok[-1]
    return out


def _segment(
    weight: FloatArray,
    sites: IntArray,
    *,
    start: tuple[int, float],
    end: tuple[int, float],
    travel: FloatArray,
    tick_time_s: FloatArray,
    tick_slot: IntArray,
    dwell_s: float,
    prev_slot_tick: IntArray,
    max_run: int | None,
) -> tuple[float, list[tuple[int, int]]]:
    """Return the best value and visits ``(site, tick)`` between two anchors.

    With ``max_run`` the states are layered by the length of the current run of
    visits to one site (layer ``r``: the ``r + 1``-th in a row); a move to another
    site starts layer 0, staying moves up a layer, and there is no layer ``max_run``.
    """
    loc_a, dep_a = start
    loc_b, arr_b = end
    m, n = sites.size, tick_time_s.size
    if m == 0 or n == 0:
        return 0.0, []
    t = tick_time_s
    ok = (t[None, :] >= dep_a + travel[loc_a, sites][:, None] - _EPS_S) & (
        t[None, :] + dwell_s + travel[sites, loc_b][:, None] <= arr_b + _EPS_S
    )
    if not ok.any():
        return 0.0, []
    n_layers = 1 if max_run is None else max_run
    w = weight[sites][:, tick_slot]
    gap = dwell_s + travel[np.ix_(sites, sites)]
    np.fill_diagonal(gap, np.inf)  # the same site again: only in a later slot (below)
    value = np.full((n_layers, m, n), -np.inf)
    best_so_far = np.full((n_layers, m, n), -np.inf)  # per layer, max over ticks <= p
    best_at = np.full((n_layers, m, n), -1, dtype=np.int64)  # flat node of that max
    any_so_far = np.full((m, n), -np.inf)  # over all layers
    any_at = np.full((m, n), -1, dtype=np.int64)
    pred = np.full((n_layers, m, n), -1, dtype=np.int64)  # flat (layer, site, tick); -1: anchor
    rows = np.arange(m)
    for q in range(n):
        js = np.flatnonzero(ok[:, q])
        if js.size:
            # another site: the latest tick p from which site i still reaches j by t_q
            p_idx = np.minimum(np.searchsorted(t, t[q] - gap[:, js], side="right") - 1, q - 1)
            safe = np.maximum(p_idx, 0)
            cand = np.where(p_idx >= 0, any_so_far[rows[:, None], safe], -np.inf)
            bi = np.argmax(cand, axis=0)
            cols = np.arange(js.size)
            cross_v = cand[bi, cols]
            cross_at = any_at[bi, safe[bi, cols]]
            ps = int(prev_slot_tick[q])
            for r in range(n_layers):
                # staying: from layer r - 1 (or, unbounded, from the one layer)
                src = r - 1 if max_run is not None else r
                if ps >= 0 and src >= 0:
                    stay_v = best_so_far[src, js, ps]
                    stay_at = best_at[src, js, ps]
                else:
                    stay_v = np.full(js.size, -np.inf)
                    stay_at = np.full(js.size, -1, dtype=np.int64)
                if r == 0:
                    use_stay = stay_v > cross_v
                    prev_v = np.where(use_stay, stay_v, cross_v)
                    prev_at = np.where(use_stay, stay_at, cross_at)
                    fresh = ~(prev_v > 0.0)  # starting from the anchor is as good
                    value[0, js, q] = w[js, q] + np.where(fresh, 0.0, prev_v)
                    pred[0, js, q] = np.where(fresh, -1, prev_at)
                else:
                    good = np.isfinite(stay_v)
                    value[r, js[good], q] = w[js[good], q] + stay_v[good]
                    pred[r, js[good], q] = stay_at[good]
        here = (np.arange(n_layers)[:, None] * m + rows[None, :]) * n + q
        if q > 0:
            better = value[:, :, q] > best_so_far[:, :, q - 1]
            best_so_far[:, :, q] = np.where(better, value[:, :, q], best_so_far[:, :, q - 1])
            best_at[:, :, q] = np.where(better, here, best_at[:, :, q - 1])
        else:
            best_so_far[:, :, 0] = value[:, :, 0]
            best_at[:, :, 0] = np.where(np.isfinite(value[:, :, 0]), here, -1)
        top = np.argmax(best_so_far[:, :, q], axis=0)
        any_so_far[:, q] = best_so_far[top, rows, q]
        any_at[:, q] = best_at[top, rows, q]
    flat = int(np.argmax(value))
    best = float(value.flat[flat])
    if not best > 0.0:
        return 0.0, []
    visits: list[tuple[int, int]] = []
    node = flat
    while node >= 0:
        layer_site, q = divmod(node, n)
        i = layer_site % m
        visits.append((int(sites[i]), int(q)))
        node = int(pred.flat[node])
    visits.reverse()
    return best, visits


def best_route(
    weight: FloatArray,
    *,
    anchors: Sequence[Anchor],
    travel_time_s: FloatArray,
    tick_time_s: FloatArray,
    tick_slot: IntArray,
    dwell_s: float,
    sites: IntArray | None = None,
    max_run: int | None = None,
) -> BestRoute:
    """Return the route of one unit that collects the largest total weight.

    Parameters
    ----------
    weight : float[n_sites, n_slots]
        Non-negative value of a visit per site-slot.
    anchors
        ``(location, arrive_s, depart_s, pin)`` from the start (where and when
        the unit is free) to the end base (due at the end of its shift), pinned
        visits in between; see :func:`watchfloor.patrol.schedule.unit_anchors`.
    travel_time_s : float[n_locations, n_locations]
        The unit's travel times (sites first, then bases; rows origins).
    tick_time_s, tick_slot
        Visit start times and the slot of each.
    dwell_s
        Visit length.
    sites
        Sites that may be visited (default: those with a positive weight, or
        every site with ``max_run``: a visit of no weight can then break a run).
    max_run
        At most this many visits in a row to one site (one per slot); ``None``:
        no limit.
    """
    if sites is None:
        sites = (
            np.flatnonzero((weight > 0).any(axis=1)).astype(np.int64)
            if max_run is None
            else np.arange(weight.shape[0], dtype=np.int64)
        )
    prev_slot_tick = _previous_slot_tick(tick_time_s, tick_slot, dwell_s)
    total = 0.0
    visits: list[tuple[int, int]] = []
    for (loc_a, _, dep_a, _), (loc_b, arr_b, _, _) in itertools.pairwise(anchors):
        v, seg = _segment(
            weight,
            sites,
            start=(loc_a, dep_a),
            end=(loc_b, arr_b),
            travel=travel_time_s,
            tick_time_s=tick_time_s,
            tick_slot=tick_slot,
            dwell_s=dwell_s,
            prev_slot_tick=prev_slot_tick,
            max_run=max_run,
        )
        total += v
        visits.extend(seg)
    return BestRoute(
        value=total,
        site=np.array([s for s, _ in visits], dtype=np.int64),
        tick=np.array([q for _, q in visits], dtype=np.int64),
    )


def reachable_site_slots(
    *,
    n_sites: int,
    n_slots: int,
    anchors: Sequence[Anchor],
    travel_time_s: FloatArray,
    tick_time_s: FloatArray,
    tick_slot: IntArray,
    dwell_s: float,
) -> BoolArray:
    """Return bool[n_sites, n_slots]: the site-slots one unit can visit, keeping its anchors."""
    out = np.zeros((n_sites, n_slots), dtype=bool)
    site_idx = np.arange(n_sites)
    t = tick_time_s
    for (loc_a, _, dep_a, _), (loc_b, arr_b, _, _) in itertools.pairwise(anchors):
        ok = (t[None, :] >= dep_a + travel_time_s[loc_a, site_idx][:, None] - _EPS_S) & (
            t[None, :] + dwell_s + travel_time_s[site_idx, loc_b][:, None] <= arr_b + _EPS_S
        )
        s_idx, q_idx = np.nonzero(ok)
        out[s_idx, tick_slot[q_idx]] = True
    return out
