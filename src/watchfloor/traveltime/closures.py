"""Road closures as arcs: what a cordon, a radius or named roads close, and what that cuts off.

A closure makes a set of road arcs (edge ids of a
:class:`~watchfloor.roads.graph.RoadGraph`) unusable;
:meth:`TravelTimeEngine.with_closed_arcs
<watchfloor.traveltime.engine.TravelTimeEngine.with_closed_arcs>` applies it.
The functions here choose the arcs and check the result:

- :func:`arcs_in_polygon`: a cordon, a closed lon/lat ring; every arc with an
  end inside or crossing the boundary;
- :func:`arcs_near_point`: every arc passing within a radius of a point;
- :func:`arcs_of_ways`: every arc of the given OpenStreetMap ways;
- :func:`check_arc_ids`: arc ids given directly;
- :func:`connectivity_after_closure`: which of the given nodes (bases, sites)
  lose the way to or from any other, and which.

Pure numerical code over arrays (numpy and the foundation): no files, settings or clock.
Bad input raises :class:`~watchfloor.errors.InvalidInputError` with what to change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.geo import lonlat_to_bng
from watchfloor.roads.graph import RoadGraph
from watchfloor.types import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    from watchfloor.traveltime.engine import TravelTimeEngine

__all__ = [
    "ConnectivityCheck",
    "CutOff",
    "arcs_in_polygon",
    "arcs_near_point",
    "arcs_of_ways",
    "check_arc_ids",
    "connectivity_after_closure",
]

#: Rows of the point x polygon-edge tests done at once (bounds memory).
_CHUNK = 4096


def _extent_text(graph: RoadGraph) -> str:
    if graph.n_nodes == 0:
        return "no area"
    return (
        f"lon {graph.lon.min():.4f}..{graph.lon.max():.4f}, "
        f"lat {graph.lat.min():.4f}..{graph.lat.max():.4f}"
    )


def check_arc_ids(graph: RoadGraph, arc_ids: npt.ArrayLike) -> IntArray:
    """Return the given arc ids, sorted and unique, after checking they are edges of ``graph``.

    Raises
    ------
    InvalidInputError
        When the list is empty, not integers, or holds an id outside ``0..n_edges - 1``.
    """
    arr = np.atleast_1d(np.asarray(arc_ids))
    if arr.size == 0:
        msg = "no arcs given; name at least one road arc to close"
        raise InvalidInputError(msg)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        msg = f"arc ids must be a list of integer edge ids, got {arr.dtype} values"
        raise InvalidInputError(msg)
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= graph.n_edges)
    if bad.any():
        msg = (
            f"unknown arc id {int(arr[bad][0])}: this road graph's arcs run 0..{graph.n_edges - 1}"
        )
        raise InvalidInputError(msg)
    return np.unique(arr)


def arcs_of_ways(graph: RoadGraph, way_ids: npt.ArrayLike) -> IntArray:
    """Return the arcs (edge ids, sorted) of the given OpenStreetMap ways, both directions.

    Raises
    ------
    InvalidInputError
        When no way is given or a way id has no arc in the graph (say which).
    """
    ways = np.unique(np.atleast_1d(np.asarray(way_ids)))
    if ways.size == 0 or ways.dtype.kind not in "iu":
        msg = "give at least one road (OpenStreetMap way id, an integer) to close"
        raise InvalidInputError(msg)
    ways = ways.astype(np.int64)
    known = np.isin(ways, graph.edge_way_id)
    if not known.all():
        missing = ", ".join(str(int(w)) for w in ways[~known][:5])
        msg = (
            f"unknown road id(s) {missing}: no arc of this region's graph belongs to them; "
            "check the way ids against the region"
        )
        raise InvalidInputError(msg)
    return np.flatnonzero(np.isin(graph.edge_way_id, ways)).astype(np.int64)


def _ring_bng(graph: RoadGraph, polygon_lonlat: npt.ArrayLike) -> FloatArray:
    ring = np.asarray(polygon_lonlat, dtype=np.float64)
    if ring.ndim != 2 or ring.shape[1] != 2:
        msg = f"a polygon is a list of [lon, lat] points, got an array of shape {ring.shape}"
        raise InvalidInputError(msg)
    if not np.isfinite(ring).all():
        msg = "polygon coordinates must be finite numbers"
        raise InvalidInputError(msg)
    if ring.shape[0] < 4:
        msg = (
            f"a polygon needs at least 3 corners and its first point repeated at the end "
            f"(4 points); got {ring.shape[0]}"
        )
        raise InvalidInputError(msg)
    if not np.array_equal(ring[0], ring[-1]):
        msg = (
            f"the polygon is not closed: it starts at {ring[0, 0]:.5f},{ring[0, 1]:.5f} and "
            f"ends at {ring[-1, 0]:.5f},{ring[-1, 1]:.5f}; repeat the first point at the end"
        )
        raise InvalidInputError(msg)
    x, y = lonlat_to_bng(ring[:, 0], ring[:, 1])
    xy = np.column_stack([x, y])
    if graph.n_nodes == 0 or not (
        xy[:, 0].max() >= graph.x_m.min()
        and xy[:, 0].min() <= graph.x_m.max()
        and xy[:, 1].max() >= graph.y_m.min()
        and xy[:, 1].min() <= graph.y_m.max()
    ):
        msg = (
            f"the polygon (lon {ring[:, 0].min():.4f}..{ring[:, 0].max():.4f}, lat "
            f"{ring[:, 1].min():.4f}..{ring[:, 1].max():.4f}) lies outside this region's roads "
            f"({_extent_text(graph)}); draw it inside the region"
        )
        raise InvalidInputError(msg)
    return xy


def _inside(px: FloatArray, py: FloatArray, ring: FloatArray) -> BoolArray:
    """Return whether each point lies inside the closed ring (even-odd rule)."""
    x0, y0 = ring[:-1, 0], ring[:-1, 1]
    x1, y1 = ring[1:, 0], ring[1:, 1]
    out = np.zeros(px.shape[0], dtype=bool)
    for s in range(0, px.shape[0], _CHUNK):
        qx, qy = px[s : s + _CHUNK, None], py[s : s + _CHUNK, None]
        spans = (y0 > qy) != (y1 > qy)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x0 + (qy - y0) * (x1 - x0) / (y1 - y0)
        out[s : s + _CHUNK] = (np.count_nonzero(spans & (qx < x_cross), axis=1) % 2) == 1
    return out


def _crosses(a: FloatArray, b: FloatArray, ring: FloatArray) -> BoolArray:
    """Return whether each segment ``a[i] -> b[i]`` crosses an edge of the ring."""
    c, d = ring[:-1], ring[1:]
    out = np.zeros(a.shape[0], dtype=bool)

    def orient(p: FloatArray, q: FloatArray, r: FloatArray) -> FloatArray:
        o: FloatArray = (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (
            q[..., 1] - p[..., 1]
        ) * (r[..., 0] - p[..., 0])
        return o

    for s in range(0, a.shape[0], _CHUNK):
        pa, pb = a[s : s + _CHUNK, None, :], b[s : s + _CHUNK, None, :]
        o1 = orient(pa, pb, c[None])
        o2 = orient(pa, pb, d[None])
        o3 = orient(c[None], d[None], pa)
        o4 = orient(c[None], d[None], pb)
        hit = (np.sign(o1) * np.sign(o2) <= 0) & (np.sign(o3) * np.sign(o4) <= 0)
        out[s : s + _CHUNK] = hit.any(axis=1)
    return out


def arcs_in_polygon(graph: RoadGraph, polygon_lonlat: npt.ArrayLike) -> IntArray:
    """Return the arcs (edge ids, sorted) a cordon closes: an end inside, or crossing its boundary.

    Parameters
    ----------
    graph : RoadGraph
        The region's roads.
    polygon_lonlat : float[k, 2]
        The cordon as a closed ring of ``[lon, lat]`` points (first point repeated last),
        as in a GeoJSON Polygon's outer ring.

    Raises
    ------
    InvalidInputError
        When the ring is not closed or too short, lies outside the graph's
        extent, or contains no road.
    """
    ring = _ring_bng(graph, polygon_lonlat)
    tails = graph.edge_tails().astype(np.int64)
    heads = graph.indices.astype(np.int64)
    lo_x, hi_x = ring[:, 0].min(), ring[:, 0].max()
    lo_y, hi_y = ring[:, 1].min(), ring[:, 1].max()
    in_box = (graph.x_m >= lo_x) & (graph.x_m <= hi_x) & (graph.y_m >= lo_y) & (graph.y_m <= hi_y)
    inside = np.zeros(graph.n_nodes, dtype=bool)
    box_nodes = np.flatnonzero(in_box)
    inside[box_nodes] = _inside(graph.x_m[box_nodes], graph.y_m[box_nodes], ring)
    closed = inside[tails] | inside[heads]
    # Arcs with both ends outside may still cross the cordon (long rural arcs).
    ax, ay = graph.x_m[tails], graph.y_m[tails]
    bx, by = graph.x_m[heads], graph.y_m[heads]
    near = (
        ~closed
        & (np.maximum(ax, bx) >= lo_x)
        & (np.minimum(ax, bx) <= hi_x)
        & (np.maximum(ay, by) >= lo_y)
        & (np.minimum(ay, by) <= hi_y)
    )
    cand = np.flatnonzero(near)
    if cand.size:
        a = np.column_stack([ax[cand], ay[cand]])
        b = np.column_stack([bx[cand], by[cand]])
        closed[cand[_crosses(a, b, ring)]] = True
    arcs = np.flatnonzero(closed).astype(np.int64)
    if arcs.size == 0:
        msg = "the polygon contains and crosses no road of this region; nothing to close"
        raise InvalidInputError(msg)
    return arcs


def arcs_near_point(graph: RoadGraph, lon: float, lat: float, *, radius_m: float) -> IntArray:
    """Return the arcs (edge ids, sorted) passing within ``radius_m`` of a point.

    Distances are straight-line, from the point to each arc's segment, in
    British National Grid metres.

    Raises
    ------
    InvalidInputError
        When the radius is not a positive number of metres, the point lies
        outside the graph's extent, or no road passes that close.
    """
    if not (math.isfinite(radius_m) and radius_m > 0):
        msg = f"radius_m must be a positive number of metres, got {radius_m}"
        raise InvalidInputError(msg)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        msg = "the centre's lon/lat must be finite numbers"
        raise InvalidInputError(msg)
    px_a, py_a = lonlat_to_bng(np.array([lon]), np.array([lat]))
    px, py = float(px_a[0]), float(py_a[0])
    if graph.n_nodes == 0 or not (
        graph.x_m.min() - radius_m <= px <= graph.x_m.max() + radius_m
        and graph.y_m.min() - radius_m <= py <= graph.y_m.max() + radius_m
    ):
        msg = (
            f"the point {lon:.5f},{lat:.5f} lies outside this region's roads "
            f"({_extent_text(graph)}); give a point inside the region"
        )
        raise InvalidInputError(msg)
    tails = graph.edge_tails().astype(np.int64)
    ax, ay = graph.x_m[tails], graph.y_m[tails]
    dx, dy = graph.x_m[graph.indices] - ax, graph.y_m[graph.indices] - ay
    seg2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(seg2 > 0, ((px - ax) * dx + (py - ay) * dy) / seg2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    dist = np.hypot(ax + t * dx - px, ay + t * dy - py)
    arcs = np.flatnonzero(dist <= radius_m).astype(np.int64)
    if arcs.size == 0:
        msg = (
            f"no road passes within {radius_m:.0f} m of {lon:.5f},{lat:.5f} "
            f"(the nearest is {dist.min():.0f} m away); widen the radius"
        )
        raise InvalidInputError(msg)
    return arcs


@dataclass(frozen=True)
class CutOff:
    """One given node that a closure cuts off from others.

    Attributes
    ----------
    node : int
        Its node id.
    name : str
        Its name (as given, else ``"node N"``).
    cannot_reach : tuple[str, ...]
        Names of the given nodes it reached before the closure and cannot now.
    unreachable_from : tuple[str, ...]
        Names of the given nodes that reached it before and cannot now.
    """

    node: int
    name: str
    cannot_reach: tuple[str, ...]
    unreachable_from: tuple[str, ...]

    def describe(self) -> str:
        """Return one sentence saying what is cut off."""
        parts = []
        if self.cannot_reach:
            parts.append(f"can no longer reach {_names(self.cannot_reach)}")
        if self.unreachable_from:
            parts.append(f"can no longer be reached from {_names(self.unreachable_from)}")
        return f"{self.name} " + " and ".join(parts)


def _names(names: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class ConnectivityCheck:
    """What a closure cuts off among given nodes (bases, sites).

    Attributes
    ----------
    status : {"connected", "disconnected"}
        ``"disconnected"`` when some given node lost a way to or from another.
    cut_off : tuple[CutOff, ...]
        The nodes that did, in the order given.
    """

    status: str
    cut_off: tuple[CutOff, ...]

    def message(self) -> str:
        """Return the findings as one message (empty when nothing is cut off)."""
        if not self.cut_off:
            return ""
        return "the closure cuts off " + "; ".join(c.describe() for c in self.cut_off)

    def raise_if_disconnected(self) -> None:
        """Raise :class:`InvalidInputError` with :meth:`message` when something is cut off."""
        if self.cut_off:
            msg = self.message() + "; leave them a way through or close fewer roads"
            raise InvalidInputError(msg)


def connectivity_after_closure(
    before: TravelTimeEngine,
    after: TravelTimeEngine,
    nodes: npt.ArrayLike,
    *,
    names: Sequence[str] | None = None,
) -> ConnectivityCheck:
    """Return which of ``nodes`` a closure cuts off from the others, and from which.

    Parameters
    ----------
    before, after : TravelTimeEngine
        The engine without and with the closure (same graph).
    nodes : int array-like
        Nodes that must stay connected (bases, sites, snapped to the graph).
    names : sequence of str, optional
        One name per node for the messages (default ``"node N"``).
    """
    node_arr = np.atleast_1d(np.asarray(nodes, dtype=np.int64))
    if names is not None and len(names) != node_arr.shape[0]:
        msg = f"give one name per node: {node_arr.shape[0]} nodes, {len(names)} names"
        raise InvalidInputError(msg)
    if before.n_nodes != after.n_nodes:
        msg = "the engines before and after the closure must share one road graph"
        raise InvalidInputError(msg)
    label = list(names) if names is not None else [f"node {int(v)}" for v in node_arr]
    was = np.isfinite(before.matrix(node_arr, node_arr))
    now = np.isfinite(after.matrix(node_arr, node_arr))
    lost = was & ~now
    cut = []
    for i in np.flatnonzero(lost.any(axis=1) | lost.any(axis=0)).tolist():
        cut.append(
            CutOff(
                node=int(node_arr[i]),
                name=label[i],
                cannot_reach=tuple(label[j] for j in np.flatnonzero(lost[i]).tolist()),
                unreachable_from=tuple(label[j] for j in np.flatnonzero(lost[:, i]).tolist()),
            )
        )
    return ConnectivityCheck("disconnected" if cut else "connected", tuple(cut))
