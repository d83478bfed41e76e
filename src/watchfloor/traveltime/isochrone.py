"""Isochrone polygons: the area reachable within a time budget, as GeoJSON.

The reachable area for budget ``b`` is the union of every road stretch that
can be driven within ``b``, buffered by ``buffer_m``: an edge ``u -> v`` whose
tail is reached at ``t_u <= b`` contributes the fraction
``min(1, (b - t_u) / w_uv)`` of its straight segment from ``u``, so edges left
part-way are drawn part-way. Bands for several budgets are nested
differences: band ``i`` holds what is reachable within ``b_i`` but not within
``b_{i-1}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
import shapely.geometry

from watchfloor.geo import bng_to_lonlat
from watchfloor.types import FloatArray, IntArray

__all__ = ["isochrone_feature_collection", "reachable_area_bng"]

log = logging.getLogger(__name__)


def reachable_area_bng(
    node_xy_m: FloatArray,
    edges: IntArray,
    weights: FloatArray,
    time_s: FloatArray,
    *,
    budget_s: float,
    buffer_m: float = 50.0,
) -> shapely.Geometry:
    """Return the reachable area within ``budget_s`` as a shapely (Multi)Polygon in BNG metres.

    Parameters
    ----------
    node_xy_m : float64[n, 2]
        British National Grid coordinates of the nodes.
    edges : int64[m, 2]
        Tail and head of every edge.
    weights : float64[m]
        Seconds per edge.
    time_s : float64[n]
        Arrival time at every node (``inf`` where not reached).
    budget_s : float
        Time budget.
    buffer_m : float
        Half-width of the drawn road corridor.
    """
    x_m, y_m = node_xy_m[:, 0], node_xy_m[:, 1]
    tails, heads = edges[:, 0], edges[:, 1]
    t_tail = time_s[tails]
    use = np.flatnonzero(t_tail <= budget_s)
    reached = np.flatnonzero(time_s <= budget_s)
    if reached.size == 0:
        return shapely.Polygon()
    w = weights[use]
    left = budget_s - t_tail[use]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(w > 0, np.minimum(1.0, left / np.where(w > 0, w, 1.0)), 1.0)
    x0, y0 = x_m[tails[use]], y_m[tails[use]]
    x1 = x0 + frac * (x_m[heads[use]] - x0)
    y1 = y0 + frac * (y_m[heads[use]] - y0)
    full = frac >= 1.0
    # A two-way road reached end to end appears twice (u -> v and v -> u): draw it once.
    lo = np.minimum(tails[use], heads[use])
    hi = np.maximum(tails[use], heads[use])
    key = lo * (x_m.shape[0] + 1) + hi
    dup = np.zeros(use.shape[0], dtype=bool)
    full_idx = np.flatnonzero(full)
    _, first = np.unique(key[full_idx], return_index=True)
    dup[full_idx] = True
    dup[full_idx[first]] = False
    seg = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)[~dup]
    moving = np.any(seg[:, 0] != seg[:, 1], axis=1)
    starts = np.flatnonzero(time_s <= 0.0)
    # Buffering each piece and merging the pieces (cascaded union) is far faster in GEOS
    # than buffering one large multi-line.
    pieces = [
        shapely.buffer(shapely.linestrings(seg[moving]), buffer_m, quad_segs=2),
        # Sources (time 0) may have no road drawn from them yet.
        shapely.buffer(shapely.points(x_m[starts], y_m[starts]), buffer_m, quad_segs=2),
    ]
    area = shapely.union_all(np.concatenate(pieces))
    area = shapely.simplify(area, buffer_m / 10.0)
    log.debug(
        "isochrone %.0f s: %d nodes, %d edges (%d partial)",
        budget_s,
        reached.size,
        use.size,
        int((frac < 1).sum()),
    )
    return area


def _to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    def convert(xy: FloatArray) -> FloatArray:
        lon, lat = bng_to_lonlat(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)


def isochrone_feature_collection(
    node_xy_m: FloatArray,
    edges: IntArray,
    weights: FloatArray,
    time_s: FloatArray,
    *,
    budgets_s: Sequence[float],
    sources: IntArray,
    buffer_m: float = 50.0,
) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection with one nested band per budget (lon/lat).

    Each feature's properties: ``budget_s`` (its outer limit), ``from_s``
    (the previous budget, 0 for the first), ``minutes`` and ``n_nodes``
    (nodes reached within ``budget_s``).
    """
    features: list[dict[str, Any]] = []
    previous: shapely.Geometry | None = None
    previous_s = 0.0
    for budget in sorted(budgets_s):
        area = reachable_area_bng(
            node_xy_m, edges, weights, time_s, budget_s=budget, buffer_m=buffer_m
        )
        band = area if previous is None else shapely.difference(area, previous)
        geometry = shapely.geometry.mapping(_to_lonlat(band)) if not band.is_empty else None
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "budget_s": float(budget),
                    "from_s": previous_s,
                    "minutes": round(float(budget) / 60.0, 3),
                    "n_nodes": int((time_s <= budget).sum()),
                },
            }
        )
        previous, previous_s = area, float(budget)
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {"sources": [int(s) for s in sources]},
    }
