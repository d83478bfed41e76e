"""Travel times over road graphs: snapping, one-to-all, matrices, routes, isochrones."""

from watchfloor.traveltime.ch import ContractionHierarchy
from watchfloor.traveltime.engine import DEFAULT_MAX_SNAP_M, Route, TravelTimeEngine

__all__ = ["DEFAULT_MAX_SNAP_M", "ContractionHierarchy", "Route", "TravelTimeEngine"]
