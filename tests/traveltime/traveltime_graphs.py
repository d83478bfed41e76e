"""Helpers of the travel-time tests: hand-built graphs and a scipy reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from watchfloor.geo import bng_to_lonlat
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph

#: Oakham, Rutland, in British National Grid metres.
ORIGIN_M = (486_000.0, 308_700.0)

GraphFactory = Callable[..., RoadGraph]


def build_graph(
    n: int,
    edges: Sequence[tuple[int, int, float]],
    *,
    xy_m: npt.ArrayLike | None = None,
    road_class: str = "residential",
) -> RoadGraph:
    """Return a RoadGraph with ``n`` nodes and directed edges ``(u, v, seconds)``.

    Nodes sit 100 m apart on a line east of Oakham unless ``xy_m`` is given;
    each edge's length is its straight-line length (at least 1 m).
    """
    if xy_m is None:
        xy = np.column_stack([ORIGIN_M[0] + 100.0 * np.arange(n), np.full(n, ORIGIN_M[1])])
    else:
        xy = np.asarray(xy_m, dtype=np.float64).reshape(n, 2)
    arr = np.asarray(edges, dtype=np.float64).reshape(-1, 3)
    u, v, t = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
    order = np.argsort(u, kind="stable")
    u, v, t = u[order], v[order], t[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    length = np.maximum(np.hypot(*(xy[u] - xy[v]).T), 1.0)
    lon, lat = bng_to_lonlat(xy[:, 0], xy[:, 1])
    m = u.shape[0]
    return RoadGraph(
        indptr=indptr,
        indices=v.astype(np.int32),
        travel_time_s=t,
        length_m=length,
        speed_kph=np.where(t > 0, length / np.maximum(t, 1e-9) * 3.6, 30.0),
        road_class=np.full(m, ROAD_CLASSES.index(road_class), dtype=np.uint8),
        lon=lon,
        lat=lat,
        x_m=np.ascontiguousarray(xy[:, 0]),
        y_m=np.ascontiguousarray(xy[:, 1]),
        node_osm_id=np.arange(n, dtype=np.int64),
        edge_way_id=np.zeros(m, dtype=np.int64),
    )


def scipy_reference(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    weights: npt.NDArray[np.float64],
    sources: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Return scipy's Dijkstra from ``sources`` on the same arrays (parallel edges: the lightest).

    scipy would add up parallel edges when it builds its matrix, so they are
    reduced to the lightest first; zero weights are nudged to a tiny
    positive value because scipy drops explicit zeros.
    """
    n = indptr.shape[0] - 1
    tails = np.repeat(np.arange(n), np.diff(indptr))
    w = np.where(weights > 0, weights, 1e-12)
    order = np.lexsort((w, indices, tails))
    tails, heads, w = tails[order], indices[order], w[order]
    first = np.ones(tails.shape[0], dtype=bool)
    first[1:] = (tails[1:] != tails[:-1]) | (heads[1:] != heads[:-1])
    keep = first & (tails != heads)
    mat = csr_matrix((w[keep], (tails[keep], heads[keep])), shape=(n, n))
    out: npt.NDArray[np.float64] = dijkstra(mat, indices=np.asarray(sources))
    return out
