"""Travel times over road graphs: snapping, one-to-all, matrices, routes, isochrones, closures.

What lives here: the engine (:mod:`.engine`), its Dijkstra kernels
(:mod:`._dijkstra`), the customisable contraction hierarchy (order in
:mod:`.order`, topology and customisation in :mod:`.cch` with its kernels in
:mod:`._cch_kernels`, queries in :mod:`.ch`), isochrone drawing
(:mod:`.isochrone`) and closure helpers (:mod:`.closures`). Pure numerical
code over arrays: it imports numpy, scipy, numba, shapely and the foundation
(``errors``, ``types``, ``geo``) plus ``roads``; no files except the
hierarchy's own save/load, no settings, no clock.
"""

from watchfloor.traveltime.ch import ContractionHierarchy
from watchfloor.traveltime.closures import (
    ConnectivityCheck,
    CutOff,
    arcs_in_polygon,
    arcs_near_point,
    arcs_of_ways,
    check_arc_ids,
    connectivity_after_closure,
)
from watchfloor.traveltime.engine import DEFAULT_MAX_SNAP_M, Route, TravelTimeEngine

__all__ = [
    "DEFAULT_MAX_SNAP_M",
    "ConnectivityCheck",
    "ContractionHierarchy",
    "CutOff",
    "Route",
    "TravelTimeEngine",
    "arcs_in_polygon",
    "arcs_near_point",
    "arcs_of_ways",
    "check_arc_ids",
    "connectivity_after_closure",
]
