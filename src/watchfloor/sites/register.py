"""The site register: every place in a region that may need protecting.

One entry per site, held as parallel lists and arrays (a column store), so
solvers can take ``register.x_m`` or ``register.node`` straight into numpy.
Sites come from OpenStreetMap nodes, closed ways and multipolygon relations
(``site_id`` ``"n123"``, ``"w456"``, ``"r789"``) and from derived groups
(night-time-economy zones, ``"z1"``, ``"z2"`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.spatial import cKDTree

from watchfloor.errors import InvalidInputError
from watchfloor.roads.graph import RoadGraph
from watchfloor.types import FloatArray, IntArray

__all__ = ["SITE_KINDS", "SiteRegister", "snap_to_graph"]

#: Kinds of site, in display order.
SITE_KINDS: tuple[str, ...] = (
    "place_of_worship",
    "crowded_place",
    "nte_venue",
    "nte_zone",
    "town_centre",
    "school",
    "hospital",
    "police_station",
)

_STR_COLUMNS = ("site_id", "kind", "category", "name", "religion", "denomination", "osm_type")
_FLOAT_COLUMNS = ("lon", "lat", "x_m", "y_m", "snap_m")
_INT_COLUMNS = ("osm_id", "node", "members")


@dataclass(frozen=True, eq=False)
class SiteRegister:
    """Sites of one region as parallel columns.

    Attributes
    ----------
    site_id : list[str]
        Stable identifier: ``"n<id>"``, ``"w<id>"``, ``"r<id>"`` for OSM
        nodes, ways and relations, ``"z<k>"`` for night-time-economy zones.
    kind : list[str]
        One of :data:`SITE_KINDS`.
    category : list[str]
        Finer category (``"church"`` is not used: places of worship keep
        ``category="place_of_worship"`` and carry ``religion``); e.g.
        ``"stadium"``, ``"station"``, ``"pub"``, ``"town"``.
    name, religion, denomination : list[str]
        ``""`` when unknown.
    osm_type : list[str]
        ``"node"``, ``"way"``, ``"relation"`` or ``"zone"``.
    osm_id : int64[n]
        OSM id (zone number for zones).
    lon, lat : float64[n]
        WGS84 position (the centroid of an area, the point of a node).
    x_m, y_m : float64[n]
        British National Grid position.
    node : int64[n]
        Nearest road-graph node (``-1`` before snapping).
    snap_m : float64[n]
        Distance to that node in metres (``nan`` before snapping).
    members : int64[n]
        Number of venues in a night-time-economy zone; 1 for other sites.
    """

    site_id: list[str]
    kind: list[str]
    category: list[str]
    name: list[str]
    religion: list[str]
    denomination: list[str]
    osm_type: list[str]
    osm_id: IntArray
    lon: FloatArray
    lat: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    node: IntArray
    snap_m: FloatArray
    members: IntArray

    def __post_init__(self) -> None:
        n = len(self.site_id)
        bad = [f.name for f in fields(self) if len(getattr(self, f.name)) != n]
        if bad:
            msg = f"invalid site register: columns {', '.join(bad)} do not have {n} entries"
            raise InvalidInputError(msg)
        unknown = sorted(set(self.kind) - set(SITE_KINDS))
        if unknown:
            msg = f"invalid site register: unknown kinds {unknown}; use one of {SITE_KINDS}"
            raise InvalidInputError(msg)

    def __len__(self) -> int:
        return len(self.site_id)

    @classmethod
    def empty(cls) -> SiteRegister:
        """Return a register with no sites."""
        return cls.from_columns({})

    @classmethod
    def from_columns(cls, columns: dict[str, Any]) -> SiteRegister:
        """Return a register built from a mapping of column name to sequence.

        Missing optional columns get defaults (``""``, ``-1``, ``nan``, 1).
        """
        n = len(columns.get("site_id", ()))
        kwargs: dict[str, Any] = {}
        for name in _STR_COLUMNS:
            kwargs[name] = [str(v) for v in columns.get(name, [""] * n)]
        for name in _FLOAT_COLUMNS:
            default = np.full(n, np.nan)
            kwargs[name] = np.asarray(columns.get(name, default), dtype=np.float64).reshape(-1)
        kwargs["osm_id"] = np.asarray(columns.get("osm_id", np.zeros(n)), dtype=np.int64)
        kwargs["node"] = np.asarray(columns.get("node", np.full(n, -1)), dtype=np.int64)
        kwargs["members"] = np.asarray(columns.get("members", np.ones(n)), dtype=np.int64)
        return cls(**kwargs)

    def take(self, index: npt.ArrayLike) -> SiteRegister:
        """Return the register restricted to the given positions (in that order)."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        kwargs: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kwargs[f.name] = [value[i] for i in idx] if isinstance(value, list) else value[idx]
        return SiteRegister(**kwargs)

    def select(self, *, kind: str | None = None, category: str | None = None) -> SiteRegister:
        """Return the sites of one kind and/or category.

        Raises
        ------
        InvalidInputError
            When ``kind`` is not one of :data:`SITE_KINDS`.
        """
        if kind is not None and kind not in SITE_KINDS:
            msg = f"unknown site kind {kind!r}; use one of: {', '.join(SITE_KINDS)}"
            raise InvalidInputError(msg)
        keep = [
            i
            for i in range(len(self))
            if (kind is None or self.kind[i] == kind)
            and (category is None or self.category[i] == category)
        ]
        return self.take(keep)

    def counts_by_kind(self) -> dict[str, int]:
        """Return the number of sites of every kind (zero kinds included)."""
        counts = dict.fromkeys(SITE_KINDS, 0)
        for k in self.kind:
            counts[k] += 1
        return counts

    def records(self) -> list[dict[str, Any]]:
        """Return one plain dict per site (JSON-ready values)."""
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {}
            for f in fields(self):
                value = getattr(self, f.name)[i]
                if isinstance(value, np.floating):
                    value = float(value)
                    value = None if np.isnan(value) else value
                elif isinstance(value, np.integer):
                    value = int(value)
                rec[f.name] = value
            out.append(rec)
        return out

    def to_geojson(self) -> dict[str, Any]:
        """Return the sites as a GeoJSON FeatureCollection of points."""
        features = []
        for rec in self.records():
            lon, lat = rec.pop("lon"), rec.pop("lat")
            features.append(
                {
                    "type": "Feature",
                    "id": rec["site_id"],
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": rec,
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def to_arrow(self) -> pa.Table:
        """Return the register as a pyarrow Table, one column per attribute."""
        arrays = {}
        for f in fields(self):
            value = getattr(self, f.name)
            arrays[f.name] = pa.array(value, type=pa.string()) if isinstance(value, list) else value
        return pa.table(arrays)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> SiteRegister:
        """Return a register from a table written by :meth:`to_arrow`.

        Extra columns (such as a WKB ``geometry``) are ignored.
        """
        names = {f.name for f in fields(cls)}
        missing = sorted({"site_id", "kind", "lon", "lat"} - set(table.column_names))
        if missing:
            msg = f"site table lacks columns {missing}; rebuild the region"
            raise InvalidInputError(msg)
        columns: dict[str, Any] = {}
        for name in table.column_names:
            if name in names:
                col = table.column(name)
                columns[name] = (
                    col.to_pylist() if name in _STR_COLUMNS else col.to_numpy(zero_copy_only=False)
                )
        return cls.from_columns(columns)


def snap_to_graph(sites: SiteRegister, graph: RoadGraph) -> SiteRegister:
    """Return the register with every site snapped to its nearest graph node.

    Distances are straight lines in British National Grid metres.

    Raises
    ------
    InvalidInputError
        When the graph has no nodes.
    """
    if graph.n_nodes == 0:
        msg = "cannot snap sites to an empty road graph; rebuild the region from a file with roads"
        raise InvalidInputError(msg)
    if len(sites) == 0:
        return sites
    tree = cKDTree(np.column_stack([graph.x_m, graph.y_m]))
    dist, node = tree.query(np.column_stack([sites.x_m, sites.y_m]))
    return replace(
        sites, node=np.asarray(node, dtype=np.int64), snap_m=np.asarray(dist, dtype=np.float64)
    )
