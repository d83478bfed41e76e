"""Road graphs as CSR arrays."""

from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph

__all__ = ["ROAD_CLASSES", "RoadGraph"]
