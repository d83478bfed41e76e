"""The road graph: a directed graph in CSR arrays with travel times in seconds.

Row ``u`` of the CSR holds the edges leaving node ``u``:
``indices[indptr[u]:indptr[u + 1]]`` are their heads and the parallel edge
arrays (``travel_time_s``, ``length_m``, ...) their attributes. Node
coordinates are kept both as WGS84 (``lon``, ``lat``) and as British National
Grid metres (``x_m``, ``y_m``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.types import FloatArray, IntArray

__all__ = ["ROAD_CLASSES", "RoadGraph"]

#: Road classes in code order; ``RoadGraph.road_class`` holds indices into it.
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
)


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A directed road graph in CSR form.

    Attributes
    ----------
    indptr : int64[n_nodes + 1]
        CSR row pointers (edges leaving each node).
    indices : int32[n_edges]
        Head node of each edge.
    travel_time_s : float64[n_edges]
        Travel time of each edge for an ordinary vehicle.
    length_m : float64[n_edges]
        Length of each edge along its geometry.
    speed_kph : float64[n_edges]
        Speed used for ``travel_time_s``.
    road_class : uint8[n_edges]
        Index into :data:`ROAD_CLASSES`.
    lon, lat : float64[n_nodes]
        WGS84 node coordinates.
    x_m, y_m : float64[n_nodes]
        British National Grid node coordinates.
    node_osm_id : int64[n_nodes]
        OpenStreetMap node id (or a synthetic id for generated graphs).
    edge_way_id : int64[n_edges]
        OpenStreetMap way id of each edge (0 for generated graphs).
    geometry_offsets : int64[n_edges + 1]
        Optional: edge ``e``'s drawing polyline is
        ``geometry_lonlat[geometry_offsets[e]:geometry_offsets[e + 1]]``.
    geometry_lonlat : float64[k, 2]
        Optional: concatenated polyline vertices (lon, lat).
    """

    indptr: IntArray
    indices: npt.NDArray[np.int32]
    travel_time_s: FloatArray
    length_m: FloatArray
    speed_kph: FloatArray
    road_class: npt.NDArray[np.uint8]
    lon: FloatArray
    lat: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    node_osm_id: IntArray
    edge_way_id: IntArray
    geometry_offsets: IntArray | None = field(default=None)
    geometry_lonlat: FloatArray | None = field(default=None)

    def __post_init__(self) -> None:
        n, m = self.lon.shape[0], self.indices.shape[0]
        problems = []
        if self.indptr.shape != (n + 1,) or (n and int(self.indptr[-1]) != m):
            problems.append("indptr must have n_nodes + 1 entries ending at n_edges")
        for name in ("travel_time_s", "length_m", "speed_kph", "road_class", "edge_way_id"):
            if getattr(self, name).shape != (m,):
                problems.append(f"{name} must have one entry per edge ({m})")
        for name in ("lat", "x_m", "y_m", "node_osm_id"):
            if getattr(self, name).shape != (n,):
                problems.append(f"{name} must have one entry per node ({n})")
        if m and (self.travel_time_s < 0).any():
            problems.append("travel_time_s must be non-negative")
        if problems:
            msg = "invalid road graph: " + "; ".join(problems)
            raise InvalidInputError(msg)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.lon.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.indices.shape[0])

    def edge_tails(self) -> npt.NDArray[np.int32]:
        """Return the tail (origin) node of every edge, parallel to ``indices``."""
        counts = np.diff(self.indptr)
        return np.repeat(np.arange(self.n_nodes, dtype=np.int32), counts)
