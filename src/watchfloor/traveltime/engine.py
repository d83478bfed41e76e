"""The travel-time engine: snapping, one-to-all, matrices, nearest source, routes, isochrones.

One :class:`TravelTimeEngine` wraps a :class:`~watchfloor.roads.graph.RoadGraph`
and one weight per edge (seconds). Its answers agree with a plain Dijkstra on
the same arrays (``scipy.sparse.csgraph.dijkstra``) to floating-point rounding.

How each query is answered:

- one-to-all, nearest source, routes: a heap Dijkstra compiled with numba
  (:mod:`watchfloor.traveltime._dijkstra`), stopping early at a target or a
  cutoff when there is one; once a contraction hierarchy is built, full
  one-to-all rows come from PHAST sweeps over it instead;
- matrices: for few rows, one Dijkstra per row (run in parallel, from the
  smaller side, on the reversed graph when there are fewer targets than
  sources); for many, a customisable contraction hierarchy
  (:mod:`watchfloor.traveltime.ch`) built once per engine and queried with
  the bucket many-to-many algorithm (Knopp et al. 2007).

Closures: :meth:`TravelTimeEngine.with_closed_arcs` returns a new engine in
which some road arcs weigh ``inf``; it shares the graph, the snapping tree and
the hierarchy's metric-independent order with this one, and gets the
hierarchy re-customised partially (tens of milliseconds on a 200k-node county).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from watchfloor.errors import InvalidInputError
from watchfloor.geo import bng_to_lonlat, lonlat_to_bng
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph
from watchfloor.traveltime import _dijkstra
from watchfloor.traveltime.cch import HierarchyTopology
from watchfloor.traveltime.ch import ContractionHierarchy
from watchfloor.traveltime.isochrone import isochrone_feature_collection
from watchfloor.types import FloatArray, IntArray

__all__ = ["DEFAULT_MAX_SNAP_M", "Route", "TravelTimeEngine"]

log = logging.getLogger(__name__)


#: Points farther than this from every road node are refused by ``nearest_nodes``.
DEFAULT_MAX_SNAP_M = 5_000.0

#: Without a hierarchy, matrices build one when their smaller side has at least
#: ``max(CH_MIN_ROWS, n_nodes // CH_NODES_PER_ROW)`` nodes: building costs about
#: as much as a few hundred one-to-all searches.
CH_MIN_ROWS = 150
CH_NODES_PER_ROW = 200

_NOT_WALKABLE = frozenset({ROAD_CLASSES.index("motorway"), ROAD_CLASSES.index("motorway_link")})


@dataclass(frozen=True, eq=False)
class Route:
    """A fastest route between two nodes.

    Attributes
    ----------
    status : {"ok", "unreachable"}
        ``"unreachable"`` when no path exists (then the arrays are empty and
        the totals are ``inf``).
    source, target : int
        Node ids.
    nodes : int64[k]
        Nodes along the route, ``source`` first.
    edges : int64[k - 1]
        Edge ids of ``RoadGraph`` along the route.
    travel_time_s : float
        Total travel time by the engine's weights.
    length_m : float
        Total length along the edges.
    lonlat : float64[p, 2]
        Drawing polyline (edge geometry where the graph has it).
    """

    status: Literal["ok", "unreachable"]
    source: int
    target: int
    nodes: IntArray
    edges: IntArray
    travel_time_s: float
    length_m: float
    lonlat: FloatArray

    def to_geojson(self) -> dict[str, Any]:
        """Return the route as a GeoJSON Feature (LineString, lon/lat)."""
        coords = self.lonlat.tolist()
        if len(coords) == 1:
            coords = coords * 2
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords} if coords else None,
            "properties": {
                "status": self.status,
                "source": self.source,
                "target": self.target,
                "travel_time_s": self.travel_time_s,
                "length_m": self.length_m,
            },
        }


class TravelTimeEngine:
    """Shortest travel times over a road graph.

    Parameters
    ----------
    graph : RoadGraph
        The road graph; node ids are its row indices.
    weights : float64[n_edges], optional
        Seconds per edge; default ``graph.travel_time_s`` (e.g. pass
        ``blue_light_travel_time_s(graph)`` for emergency driving).
    max_snap_m : float
        :meth:`nearest_nodes` refuses points farther than this from a node.
    hierarchy : ContractionHierarchy, optional
        A hierarchy built earlier for the same graph and weights (see
        :meth:`hierarchy`); it is checked against the graph's size.
    """

    def __init__(
        self,
        graph: RoadGraph,
        *,
        weights: npt.ArrayLike | None = None,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        hierarchy: ContractionHierarchy | None = None,
    ) -> None:
        w = graph.travel_time_s if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (graph.n_edges,):
            msg = (
                f"weights must have one value per edge ({graph.n_edges}), got shape {w.shape}; "
                "compute them from the same graph"
            )
            raise InvalidInputError(msg)
        if graph.n_edges and not (np.isfinite(w).all() and (w >= 0).all()):
            msg = "weights must be finite and non-negative seconds; check the speed profile"
            raise InvalidInputError(msg)
        self._init_arrays(
            graph,
            graph.indptr.astype(np.int64, copy=False),
            graph.indices.astype(np.int32, copy=False),
            np.ascontiguousarray(w, dtype=np.float64),
            None,
            max_snap_m=max_snap_m,
        )
        if hierarchy is not None:
            self.use_hierarchy(hierarchy)

    def _init_arrays(
        self,
        graph: RoadGraph,
        indptr: IntArray,
        indices: npt.NDArray[np.int32],
        weights: FloatArray,
        edge_origin: IntArray | None,
        *,
        max_snap_m: float,
    ) -> None:
        if not (math.isfinite(max_snap_m) and max_snap_m > 0):
            msg = f"max_snap_m must be a positive number of metres, got {max_snap_m}"
            raise InvalidInputError(msg)
        self.graph = graph
        self.max_snap_m = float(max_snap_m)
        self._indptr = indptr
        self._indices = indices
        self._weights = weights
        # Engine edge -> graph edge: e >= 0 is edge e forwards, -(e + 1) edge e backwards.
        self._edge_origin = edge_origin
        self._reverse: tuple[IntArray, npt.NDArray[np.int32], FloatArray] | None = None
        self._kdtree: cKDTree | None = None
        self._kd_nodes: IntArray | None = None
        self._hierarchy: ContractionHierarchy | None = None
        self._topology: HierarchyTopology | None = None
        self._closed: IntArray = np.zeros(0, dtype=np.int64)

    @classmethod
    def for_walking(
        cls,
        graph: RoadGraph,
        *,
        speed_mps: float = 1.4,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
    ) -> TravelTimeEngine:
        """Return an engine for walking: every road both ways, time = length / speed.

        Motorways and their links are left out (walking there is not allowed);
        parallel edges keep the shortest.
        """
        if not (math.isfinite(speed_mps) and speed_mps > 0):
            msg = f"speed_mps must be a positive walking speed in m/s, got {speed_mps}"
            raise InvalidInputError(msg)
        n = graph.n_nodes
        tails = graph.edge_tails().astype(np.int64)
        heads = graph.indices.astype(np.int64)
        walkable = ~np.isin(graph.road_class, list(_NOT_WALKABLE)) & (tails != heads)
        eid = np.flatnonzero(walkable)
        u = np.concatenate([tails[eid], heads[eid]])
        v = np.concatenate([heads[eid], tails[eid]])
        origin = np.concatenate([eid, -(eid + 1)])
        length = np.concatenate([graph.length_m[eid], graph.length_m[eid]])
        # Keep the shortest of parallel edges: sort by (u, v, length), take the first of each.
        order = np.lexsort((length, v, u))
        u, v, origin, length = u[order], v[order], origin[order], length[order]
        first = np.ones(u.shape[0], dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v, origin, length = u[first], v[first], origin[first], length[first]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
        engine = cls.__new__(cls)
        engine._init_arrays(
            graph,
            indptr,
            v.astype(np.int32),
            np.ascontiguousarray(length / speed_mps),
            origin.astype(np.int64),
            max_snap_m=max_snap_m,
        )
        log.info("walking graph: %d nodes, %d directed edges at %.2f m/s", n, v.shape[0], speed_mps)
        return engine

    # ------------------------------------------------------------------ basics

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self._indptr.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        """Number of directed edges the engine searches."""
        return int(self._indices.shape[0])

    def csr(self) -> tuple[IntArray, npt.NDArray[np.int32], FloatArray]:
        """Return the searched graph as ``(indptr, indices, weights)`` (read-only views)."""
        arrays = (self._indptr, self._indices, self._weights)
        views = tuple(a.view() for a in arrays)
        for a in views:
            a.flags.writeable = False
        return views  # type: ignore[return-value]

    def _reverse_csr(self) -> tuple[IntArray, npt.NDArray[np.int32], FloatArray]:
        if self._reverse is None:
            n = self.n_nodes
            tails = np.repeat(np.arange(n, dtype=np.int64), np.diff(self._indptr))
            order = np.argsort(self._indices, kind="stable")
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(self._indices, minlength=n), out=indptr[1:])
            self._reverse = (
                indptr,
                tails[order].astype(np.int32),
                np.ascontiguousarray(self._weights[order]),
            )
        return self._reverse

    def _check_nodes(self, nodes: npt.ArrayLike, what: str) -> IntArray:
        arr = np.atleast_1d(np.asarray(nodes))
        if arr.ndim != 1:
            msg = f"{what} must be a list of node ids, got an array of shape {arr.shape}"
            raise InvalidInputError(msg)
        if arr.size == 0:
            msg = f"{what} is empty; give at least one node id"
            raise InvalidInputError(msg)
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                msg = f"{what} must be integer node ids, got {arr.dtype} values"
                raise InvalidInputError(msg)
        arr = arr.astype(np.int64, copy=False)
        bad = (arr < 0) | (arr >= self.n_nodes)
        if bad.any():
            msg = (
                f"{what} holds node id {int(arr[bad][0])}, outside 0..{self.n_nodes - 1}; "
                "snap points to nodes with nearest_nodes first"
            )
            raise InvalidInputError(msg)
        return np.ascontiguousarray(arr)

    @staticmethod
    def _check_cutoff(cutoff_s: float | None, what: str = "cutoff_s") -> float:
        if cutoff_s is None:
            return math.inf
        value = float(cutoff_s)
        if math.isnan(value) or value <= 0:
            msg = f"{what} must be a positive number of seconds, got {cutoff_s}"
            raise InvalidInputError(msg)
        return value

    # ---------------------------------------------------------------- snapping

    def _tree(self) -> tuple[cKDTree, IntArray]:
        if self._kdtree is None or self._kd_nodes is None:
            out_deg = np.diff(self._indptr)
            in_deg = np.bincount(self._indices, minlength=self.n_nodes)
            nodes = np.flatnonzero((out_deg > 0) | (in_deg > 0)).astype(np.int64)
            if nodes.size == 0:
                msg = "the road graph has no edges; nothing to snap to"
                raise InvalidInputError(msg)
            xy = np.column_stack([self.graph.x_m[nodes], self.graph.y_m[nodes]])
            self._kdtree = cKDTree(xy)
            self._kd_nodes = nodes
        return self._kdtree, self._kd_nodes

    def nearest_nodes_xy(
        self, x_m: npt.ArrayLike, y_m: npt.ArrayLike
    ) -> tuple[IntArray, FloatArray]:
        """Return the nearest road node and its distance (m) for British National Grid points.

        Raises
        ------
        InvalidInputError
            When a point is farther than ``max_snap_m`` from every node.
        """
        x = np.atleast_1d(np.asarray(x_m, dtype=np.float64))
        y = np.atleast_1d(np.asarray(y_m, dtype=np.float64))
        if x.shape != y.shape or x.ndim != 1:
            msg = f"x and y must be 1-d and of one length, got shapes {x.shape} and {y.shape}"
            raise InvalidInputError(msg)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            msg = "coordinates must be finite numbers"
            raise InvalidInputError(msg)
        tree, nodes = self._tree()
        dist, idx = tree.query(np.column_stack([x, y]))
        dist = np.asarray(dist, dtype=np.float64)
        far = dist > self.max_snap_m
        if far.any():
            i = int(np.flatnonzero(far)[0])
            lon, lat = bng_to_lonlat(x[i], y[i])
            msg = (
                f"point {float(lon):.5f},{float(lat):.5f} is {dist[i] / 1000:.1f} km from the "
                f"nearest road of the graph (more than {self.max_snap_m / 1000:.1f} km); the "
                f"graph covers {self.bbox_text()}: give a point inside it"
            )
            raise InvalidInputError(msg)
        return nodes[np.asarray(idx, dtype=np.int64)], dist

    def nearest_nodes(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
        """Return the nearest road node and its distance (m) for WGS84 points.

        Distances are measured in British National Grid metres.

        Raises
        ------
        InvalidInputError
            When a point is farther than ``max_snap_m`` from every node.
        """
        lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
            msg = f"lon and lat must be 1-d and of one length, got {lon_a.shape}, {lat_a.shape}"
            raise InvalidInputError(msg)
        if not (np.isfinite(lon_a).all() and np.isfinite(lat_a).all()):
            msg = "lon/lat must be finite numbers"
            raise InvalidInputError(msg)
        x, y = lonlat_to_bng(lon_a, lat_a)
        return self.nearest_nodes_xy(x, y)

    def bbox_text(self) -> str:
        """Return the graph's lon/lat bounding box as text (for messages)."""
        g = self.graph
        if g.n_nodes == 0:
            return "no area"
        return f"lon {g.lon.min():.4f}..{g.lon.max():.4f}, lat {g.lat.min():.4f}..{g.lat.max():.4f}"

    # --------------------------------------------------------------- searches

    def one_to_all(self, source: int, *, cutoff_s: float | None = None) -> FloatArray:
        """Return travel times (s) from ``source`` to every node; ``inf`` = not reached.

        With ``cutoff_s`` the search stops there and times above it are ``inf``.
        Without a cutoff and with a hierarchy built, PHAST answers (a few times
        faster than Dijkstra); else a Dijkstra search.
        """
        src = self._check_nodes(source, "source")
        if src.shape[0] != 1:
            msg = "one_to_all takes one source node; use many_to_all for several"
            raise InvalidInputError(msg)
        cut = self._check_cutoff(cutoff_s)
        if self._hierarchy is not None and math.isinf(cut):
            row: FloatArray = self._hierarchy.many_to_all(src)[0]
            return row
        out: FloatArray = _dijkstra.dijkstra_single(
            self._indptr, self._indices, self._weights, int(src[0]), cut
        )
        return out

    def many_to_all(self, sources: npt.ArrayLike, *, cutoff_s: float | None = None) -> FloatArray:
        """Return the ``len(sources) x n_nodes`` travel-time matrix (rows = sources).

        Rows run in parallel: PHAST sweeps when a hierarchy is built, else Dijkstra.
        """
        src = self._check_nodes(sources, "sources")
        cut = self._check_cutoff(cutoff_s)
        if self._hierarchy is not None:
            return self._hierarchy.many_to_all(src, cutoff_s=cut)
        targets = np.arange(self.n_nodes, dtype=np.int64)
        out: FloatArray = _dijkstra.dijkstra_rows(
            self._indptr, self._indices, self._weights, src, targets, cut, False
        )
        return out

    def hierarchy(self) -> ContractionHierarchy:
        """Return the contraction hierarchy of this graph and weights, building it once."""
        if self._hierarchy is None:
            self._hierarchy = ContractionHierarchy.build(
                self._indptr,
                self._indices,
                self._weights,
                x_m=self.graph.x_m,
                y_m=self.graph.y_m,
                topology=self._topology,
            )
            self._topology = self._hierarchy.topology
        return self._hierarchy

    def use_hierarchy(self, hierarchy: ContractionHierarchy) -> None:
        """Adopt a hierarchy built earlier for this graph and weights (e.g. loaded from disk)."""
        if not hierarchy.matches(self._indptr, self._indices, self._weights):
            msg = (
                "the contraction hierarchy was built for another graph or other weights; "
                "rebuild it (delete the cached file)"
            )
            raise InvalidInputError(msg)
        self._hierarchy = hierarchy
        self._topology = hierarchy.topology

    @property
    def has_hierarchy(self) -> bool:
        """Whether a contraction hierarchy is built (matrices of any size then use it)."""
        return self._hierarchy is not None

    # ---------------------------------------------------------------- closures

    @property
    def closed_arcs(self) -> IntArray:
        """Return the road-graph edge ids closed in this engine (sorted; empty when none)."""
        view = self._closed.view()
        view.flags.writeable = False
        return view

    def with_closed_arcs(self, arc_ids: npt.ArrayLike) -> TravelTimeEngine:
        """Return a new engine in which the given road arcs are closed (never used).

        The arcs are edge ids of ``graph`` (see :mod:`watchfloor.traveltime.closures`
        for arcs inside a polygon, near a point or along named roads); closures add
        up (arcs already closed here stay closed). The new engine shares the graph,
        the snapping tree and the hierarchy's order with this one; when this engine
        has a hierarchy, the new one gets it re-customised at once, partially
        (only what the closed arcs touch), so its queries run at hierarchy speed.
        This engine is unchanged: keep it to lift the closure.

        Raises
        ------
        InvalidInputError
            When an id is not an edge of the graph.
        """
        ids = self._check_arcs(arc_ids)
        closed = np.union1d(self._closed, ids).astype(np.int64)
        if self._edge_origin is None:
            positions = ids
        else:
            origin = np.where(self._edge_origin < 0, -self._edge_origin - 1, self._edge_origin)
            positions = np.flatnonzero(np.isin(origin, ids))
        weights = self._weights.copy()
        weights[positions] = math.inf
        engine = type(self).__new__(type(self))
        engine._init_arrays(
            self.graph,
            self._indptr,
            self._indices,
            weights,
            self._edge_origin,
            max_snap_m=self.max_snap_m,
        )
        engine._kdtree, engine._kd_nodes = self._kdtree, self._kd_nodes
        engine._topology = self._topology
        engine._closed = closed
        if self._hierarchy is not None:
            engine._hierarchy = self._hierarchy.customised(weights)
        log.info(
            "closed %d road arcs (%d in all); hierarchy %s",
            ids.shape[0],
            closed.shape[0],
            "re-customised" if engine._hierarchy is not None else "not built yet",
        )
        return engine

    def _check_arcs(self, arc_ids: npt.ArrayLike) -> IntArray:
        arr = np.atleast_1d(np.asarray(arc_ids))
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            msg = f"arc ids must be a 1-d list of integer edge ids, got {arr.dtype} {arr.shape}"
            raise InvalidInputError(msg)
        arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= self.graph.n_edges)
        if bad.any():
            msg = (
                f"arc id {int(arr[bad][0])} is not a road of this graph (ids run "
                f"0..{self.graph.n_edges - 1}); select arcs with watchfloor.traveltime.closures"
            )
            raise InvalidInputError(msg)
        return np.unique(arr)

    def matrix(
        self,
        sources: npt.ArrayLike,
        targets: npt.ArrayLike,
        *,
        cutoff_s: float | None = None,
        method: Literal["auto", "dijkstra", "ch"] = "auto",
    ) -> FloatArray:
        """Return the travel-time matrix (s), rows = sources, columns = targets.

        Times above ``cutoff_s`` are ``inf``, as are unreachable pairs.

        Parameters
        ----------
        sources, targets : int array-like
            Node ids (repeats allowed).
        cutoff_s : float, optional
            Largest time of interest.
        method : {"auto", "dijkstra", "ch"}
            ``"auto"`` uses the contraction hierarchy when one is built or when
            the smaller side is large enough to pay for building it (see
            ``CH_MIN_ROWS``), else one Dijkstra per node of the smaller side.
        """
        src = self._check_nodes(sources, "sources")
        tgt = self._check_nodes(targets, "targets")
        cut = self._check_cutoff(cutoff_s)
        if method not in ("auto", "dijkstra", "ch"):
            msg = f"method must be 'auto', 'dijkstra' or 'ch', got {method!r}"
            raise InvalidInputError(msg)
        use_ch = method == "ch" or (
            method == "auto"
            and (self._hierarchy is not None or min(src.shape[0], tgt.shape[0]) >= CH_MIN_ROWS)
        )
        if use_ch:
            return self.hierarchy().many_to_many(src, tgt, cutoff_s=cut)
        if tgt.shape[0] < src.shape[0]:
            indptr, indices, weights = self._reverse_csr()
            out_t: FloatArray = _dijkstra.dijkstra_rows(
                indptr, indices, weights, tgt, src, cut, True
            )
            return np.ascontiguousarray(out_t.T)
        out: FloatArray = _dijkstra.dijkstra_rows(
            self._indptr, self._indices, self._weights, src, tgt, cut, True
        )
        return out

    def nearest_source(
        self, sources: npt.ArrayLike, *, cutoff_s: float | None = None
    ) -> tuple[FloatArray, IntArray]:
        """Return, for every node, the time from the first-arriving source and that source's index.

        ``index[v]`` is the position in ``sources`` of the source that reaches
        ``v`` soonest (``-1`` when none does within ``cutoff_s``); ``time_s[v]``
        its travel time (``inf`` when none).
        """
        src = self._check_nodes(sources, "sources")
        cut = self._check_cutoff(cutoff_s)
        dist = np.full(self.n_nodes, np.inf)
        label = np.full(self.n_nodes, -1, dtype=np.int64)
        _dijkstra.dijkstra_multi_source(
            self._indptr,
            self._indices,
            self._weights,
            src,
            cut,
            np.zeros(0, dtype=np.bool_),
            0,
            dist,
            np.zeros(0, dtype=np.int64),
            label,
        )
        return dist, label

    def route(self, source: int, target: int) -> Route:
        """Return the fastest route from ``source`` to ``target`` with its geometry."""
        s = int(self._check_nodes(source, "source")[0])
        t = int(self._check_nodes(target, "target")[0])
        n = self.n_nodes
        dist = np.full(n, np.inf)
        pred = np.full(n, -1, dtype=np.int64)
        mask = np.zeros(n, dtype=np.bool_)
        mask[t] = True
        _dijkstra.dijkstra_multi_source(
            self._indptr,
            self._indices,
            self._weights,
            np.array([s], dtype=np.int64),
            math.inf,
            mask,
            1,
            dist,
            pred,
            np.zeros(0, dtype=np.int64),
        )
        empty_i = np.zeros(0, dtype=np.int64)
        if not math.isfinite(dist[t]):
            return Route(
                "unreachable", s, t, empty_i, empty_i, math.inf, math.inf, np.zeros((0, 2))
            )
        engine_edges: list[int] = []
        v = t
        while v != s:
            e = int(pred[v])
            engine_edges.append(e)
            v = int(np.searchsorted(self._indptr, e, side="right") - 1)
        engine_edges.reverse()
        e_arr = np.asarray(engine_edges, dtype=np.int64)
        nodes = np.concatenate([[s], self._indices[e_arr].astype(np.int64)]).astype(np.int64)
        if self._edge_origin is None:
            graph_edges, backwards = e_arr, np.zeros(e_arr.shape[0], dtype=bool)
        else:
            origin = self._edge_origin[e_arr]
            backwards = origin < 0
            graph_edges = np.where(backwards, -origin - 1, origin)
        length_m = float(self.graph.length_m[graph_edges].sum())
        lonlat = self._polyline(nodes, graph_edges, backwards)
        return Route("ok", s, t, nodes, graph_edges, float(dist[t]), length_m, lonlat)

    def _polyline(
        self, nodes: IntArray, edges: IntArray, backwards: npt.NDArray[np.bool_]
    ) -> FloatArray:
        g = self.graph
        node_xy = np.column_stack([g.lon[nodes], g.lat[nodes]])
        if g.geometry_offsets is None or g.geometry_lonlat is None or edges.size == 0:
            return node_xy
        parts: list[FloatArray] = [node_xy[:1]]
        for i, e in enumerate(edges.tolist()):
            a, b = int(g.geometry_offsets[e]), int(g.geometry_offsets[e + 1])
            piece = g.geometry_lonlat[a:b]
            if piece.shape[0] < 2:
                piece = node_xy[i : i + 2]
            elif backwards[i]:
                piece = piece[::-1]
            parts.append(piece)
            parts.append(node_xy[i + 1 : i + 2])
        line = np.concatenate(parts)
        keep = np.ones(line.shape[0], dtype=bool)
        keep[1:] = np.any(line[1:] != line[:-1], axis=1)
        return np.ascontiguousarray(line[keep])

    def isochrone(
        self, sources: npt.ArrayLike, *, budget_s: float | Sequence[float]
    ) -> dict[str, Any]:
        """Return a GeoJSON FeatureCollection of the area reachable within each budget.

        One feature per budget, in increasing order: the first is everything
        reachable within the smallest budget, each next one the band between
        the previous budget and its own (so bands nest without overlap). The
        area is the reachable road (including the reachable part of edges
        left mid-way) buffered by a few tens of metres.
        """
        src = self._check_nodes(sources, "sources")
        budgets = sorted(
            {float(b) for b in np.atleast_1d(np.asarray(budget_s, dtype=np.float64)).tolist()}
        )
        if not budgets or any(not (math.isfinite(b) and b > 0) for b in budgets):
            msg = f"budget_s must be positive, finite seconds, got {budget_s}"
            raise InvalidInputError(msg)
        time_s, _ = self.nearest_source(src, cutoff_s=budgets[-1])
        tails = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self._indptr))
        return isochrone_feature_collection(
            np.column_stack([self.graph.x_m, self.graph.y_m]),
            np.column_stack([tails, self._indices.astype(np.int64)]),
            self._weights,
            time_s,
            budgets_s=budgets,
            sources=src,
        )
