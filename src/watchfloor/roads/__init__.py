"""Road graphs as CSR arrays: nodes with positions, arcs with lengths, classes and speeds.

:class:`RoadGraph` is the model every travel time is computed on; ``speeds`` turns
OSM tags into travel times (normal and blue-light driving, walking) and
``synthetic`` generates county-scale graphs for benchmarks. It may import only the
foundation (:mod:`watchfloor.errors`, :mod:`watchfloor.types`, :mod:`watchfloor.geo`).
"""

from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph

__all__ = ["ROAD_CLASSES", "RoadGraph"]
