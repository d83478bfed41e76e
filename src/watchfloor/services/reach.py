"""Isochrone bands of a base for the operations-room map: reach in 5, 10, 15 minutes.

One search of the travel-time engine per base (PHAST one-to-all when the
engine has its hierarchy, else Dijkstra stopped at the largest budget) gives
the arrival time at every road node. The bands are drawn from those times:

1. each node's time goes into the cell of a square grid (British National
   Grid metres) that holds it; a cell keeps its earliest time;
2. the time spreads from a reached cell to its neighbours at ``offroad_mps``
   for up to ``snap_m`` metres (a chamfer distance transform), so the area
   between roads near a reached road is reached too, and a cell far from every
   reached road stays unreached;
3. filled contours of that grid between consecutive budgets (contourpy,
   marching squares) are the bands, nested without overlap: band ``i`` holds
   what is reached after ``budget[i-1]`` and within ``budget[i]``.

This is the usual way isochrone services draw a time surface as polygons
(e.g. Valhalla's isochrones contour a time grid); the cell size and the
off-road spread are the drawing's resolution, not part of the travel times,
which are exact on the road graph. A county base takes a few tenths of a
second; the room caches the bands per base, so re-plans that keep the ARV
bases reuse them.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from typing import Any

import contourpy
import numpy as np
import shapely

from watchfloor.errors import InvalidInputError
from watchfloor.geo import bng_to_lonlat
from watchfloor.types import FloatArray, IntArray

__all__ = ["reach_bands"]

log = logging.getLogger(__name__)


def reach_bands(
    engine: Any,
    node: int,
    *,
    budgets_s: Sequence[float],
    cell_m: float | None = None,
    offroad_mps: float = 4.0,
    snap_m: float = 400.0,
    max_cells: int = 240,
) -> list[dict[str, Any]]:
    """Return GeoJSON features, one per budget, of the area reached from ``node`` in time bands.

    Parameters
    ----------
    engine
        A :class:`watchfloor.traveltime.engine.TravelTimeEngine` (the blue-light one for ARVs).
    node
        The base's road node.
    budgets_s
        Band limits in seconds (sorted here; positive, finite).
    cell_m
        Grid cell size; default: the reach's extent over ``max_cells``, at least 75 m.
    offroad_mps
        Speed at which time spreads off the road into neighbouring cells.
    snap_m
        How far the time spreads off the road (metres, whole cells).
    max_cells
        Largest number of cells along a side when ``cell_m`` is not given.

    Returns
    -------
    list of dict
        Features with a (Multi)Polygon in lon/lat (5 decimals) or ``None`` when
        nothing is reached in the band; properties ``budget_s``, ``from_s``,
        ``minutes`` and ``n_nodes`` (nodes reached within ``budget_s``).
    """
    budgets = sorted({float(b) for b in budgets_s})
    if not budgets or any(not (math.isfinite(b) and b > 0) for b in budgets):
        msg = f"budgets_s must be positive, finite seconds, got {list(budgets_s)}"
        raise InvalidInputError(msg)
    graph = engine.graph
    if engine.has_hierarchy:
        time_s = engine.one_to_all(int(node))
    else:
        time_s = engine.one_to_all(int(node), cutoff_s=budgets[-1])
    hit = np.flatnonzero(time_s <= budgets[-1])
    counts = [int((time_s[hit] <= b).sum()) for b in budgets]
    grid, x0, y0, cell = _time_grid(
        np.asarray(graph.x_m, dtype=np.float64)[hit],
        np.asarray(graph.y_m, dtype=np.float64)[hit],
        np.asarray(time_s, dtype=np.float64)[hit],
        cell_m=cell_m,
        offroad_mps=offroad_mps,
        snap_m=snap_m,
        max_cells=max_cells,
    )
    features: list[dict[str, Any]] = []
    lower = -1.0
    for budget, n_nodes in zip(budgets, counts, strict=True):
        geometry = None
        if grid.size:
            area = _filled(grid, (x0, y0), cell, lower=lower, upper=budget)
            if not area.is_empty:
                geometry = _to_lonlat_geojson(area, tolerance_m=cell * 0.75)
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "budget_s": budget,
                    "from_s": max(lower, 0.0),
                    "minutes": round(budget / 60.0, 3),
                    "n_nodes": n_nodes,
                },
            }
        )
        lower = budget
    return features


def _time_grid(
    x_m: FloatArray,
    y_m: FloatArray,
    time_s: FloatArray,
    *,
    cell_m: float | None,
    offroad_mps: float,
    snap_m: float,
    max_cells: int,
) -> tuple[FloatArray, float, float, float]:
    """Return the earliest-time grid (rows = y), its lower-left corner and cell size."""
    if time_s.size == 0:
        return np.empty((0, 0)), 0.0, 0.0, cell_m or 100.0
    extent = max(float(np.ptp(x_m)), float(np.ptp(y_m)), 1.0)
    cell = float(cell_m) if cell_m else max(75.0, extent / max_cells)
    snap_cells = max(1, round(snap_m / cell))
    margin = (snap_cells + 1) * cell
    x0, y0 = float(x_m.min()) - margin, float(y_m.min()) - margin
    nx = int((float(x_m.max()) + margin - x0) // cell) + 1
    ny = int((float(y_m.max()) + margin - y0) // cell) + 1
    grid = np.full((ny, nx), np.inf)
    ix = ((x_m - x0) // cell).astype(np.int64)
    iy = ((y_m - y0) // cell).astype(np.int64)
    np.minimum.at(grid, (iy, ix), time_s)
    step = cell / offroad_mps
    diagonal = step * math.sqrt(2.0)
    for _ in range(snap_cells):
        spread = grid.copy()
        for dy, dx, cost in (
            (0, 1, step),
            (0, -1, step),
            (1, 0, step),
            (-1, 0, step),
            (1, 1, diagonal),
            (1, -1, diagonal),
            (-1, 1, diagonal),
            (-1, -1, diagonal),
        ):
            dst = spread[max(dy, 0) : ny + min(dy, 0), max(dx, 0) : nx + min(dx, 0)]
            src = grid[max(-dy, 0) : ny + min(-dy, 0), max(-dx, 0) : nx + min(-dx, 0)]
            np.minimum(dst, src + cost, out=dst)
        grid = spread
    return grid, x0, y0, cell


def _filled(
    grid: FloatArray, corner: tuple[float, float], cell: float, *, lower: float, upper: float
) -> shapely.Geometry:
    """Return the (Multi)Polygon, in grid metres, where ``lower < time <= upper``."""
    ny, nx = grid.shape
    x0, y0 = corner
    # Cell centres; unreached cells sit far above every band.
    xs = x0 + (np.arange(nx) + 0.5) * cell
    ys = y0 + (np.arange(ny) + 0.5) * cell
    surface = np.where(np.isfinite(grid), grid, upper * 4.0 + 1.0)
    generator = contourpy.contour_generator(
        xs, ys, surface, fill_type=contourpy.FillType.OuterOffset
    )
    # OuterOffset: a list of point arrays (one per outer ring with its holes) and
    # a list of ring offsets into each.
    filled = generator.filled(lower, upper)
    points: list[FloatArray] = list(filled[0])  # type: ignore[arg-type]
    offsets: list[IntArray] = list(filled[1])  # type: ignore[arg-type]
    # Specks and pinholes of a few cells are the grid's noise, not reach: dropped.
    min_area = 16.0 * cell * cell
    polygons = []
    for pts, offs in zip(points, offsets, strict=True):
        rings = [pts[a:b] for a, b in itertools.pairwise(offs)]
        holes = [r for r in rings[1:] if abs(_ring_area(r)) >= min_area]
        if abs(_ring_area(rings[0])) >= min_area:
            polygons.append(shapely.Polygon(rings[0], holes))
    if not polygons:
        return shapely.Polygon()
    return shapely.make_valid(shapely.MultiPolygon(polygons))


def _ring_area(ring: FloatArray) -> float:
    """Return the signed area of a closed ring (shoelace formula)."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _to_lonlat_geojson(area: shapely.Geometry, *, tolerance_m: float) -> dict[str, Any]:
    """Return ``area`` (BNG metres) simplified, in lon/lat with 5 decimals, as GeoJSON."""
    simple = shapely.simplify(area, tolerance_m, preserve_topology=True)

    def convert(xy: FloatArray) -> FloatArray:
        lon, lat = bng_to_lonlat(xy[:, 0], xy[:, 1])
        out = np.empty((xy.shape[0], 2), dtype=np.float64)
        np.round(np.column_stack([lon, lat]), 5, out=out)
        return out

    mapped: dict[str, Any] = shapely.geometry.mapping(shapely.transform(simple, convert))
    return mapped
