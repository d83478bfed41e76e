"""Region folders: a road graph, its site register and metadata on disk.

A region lives in ``settings.regions_dir / NAME``::

    region.json      metadata (source file and SHA-256, OSM timestamp, bbox, counts, ...)
    graph.npz        the RoadGraph arrays (CSR) and edge geometry
    sites.parquet    the site register as GeoParquet (WKB ``geometry`` + ``geo`` metadata)
    sites.geojson    the same sites for GIS tools
    sites.csv        the same sites for spreadsheets

A region is written into a temporary folder next to its target and renamed
into place only when complete, so a failed build never damages an existing
region.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.roads.graph import RoadGraph
from watchfloor.sites.register import SiteRegister
from watchfloor.storage.files import atomic_folder

__all__ = [
    "FORMAT_VERSION",
    "Region",
    "list_region_dirs",
    "read_region",
    "sites_to_geoparquet_table",
    "write_region",
]

log = logging.getLogger(__name__)

#: Version of the on-disk layout; bump when files change incompatibly.
FORMAT_VERSION = 1

_META = "region.json"
_GRAPH = "graph.npz"
_SITES_PARQUET = "sites.parquet"
_SITES_GEOJSON = "sites.geojson"
_SITES_CSV = "sites.csv"


@dataclass(frozen=True, eq=False)
class Region:
    """A built region: road graph, site register and metadata.

    Attributes
    ----------
    name : str
        Region name (its folder name).
    graph : RoadGraph
        Drivable road graph (largest strongly connected component).
    sites : SiteRegister
        Sites snapped to ``graph``.
    meta : dict
        Contents of ``region.json``.
    path : Path
        The region folder.
    """

    name: str
    graph: RoadGraph
    sites: SiteRegister
    meta: dict[str, Any]
    path: Path


def sites_to_geoparquet_table(sites: SiteRegister) -> pa.Table:
    """Return the sites as a GeoParquet-ready table (WKB point ``geometry`` + ``geo`` metadata)."""
    table = sites.to_arrow()
    wkb = shapely.to_wkb(shapely.points(sites.lon, sites.lat)) if len(sites) else []
    table = table.append_column("geometry", pa.array(list(wkb), type=pa.binary()))
    lon, lat = sites.lon, sites.lat
    bbox = (
        [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]
        if len(sites)
        else []
    )
    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {
            "geometry": {
                "encoding": "WKB",
                "geometry_types": ["Point"],
                "crs": "OGC:CRS84",
                **({"bbox": bbox} if bbox else {}),
            }
        },
    }
    metadata = dict(table.schema.metadata or {})
    metadata[b"geo"] = json.dumps(geo).encode()
    return table.replace_schema_metadata(metadata)


def _graph_arrays(graph: RoadGraph) -> dict[str, np.ndarray[Any, Any]]:
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for f in fields(graph):
        value = getattr(graph, f.name)
        if value is not None:
            arrays[f.name] = value
    return arrays


def _write_sites_csv(sites: SiteRegister, path: Path) -> None:
    records = sites.records()
    names = [f.name for f in fields(SiteRegister)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        for rec in records:
            writer.writerow({k: ("" if v is None else v) for k, v in rec.items()})


def write_region(
    target: Path,
    *,
    graph: RoadGraph,
    sites: SiteRegister,
    meta: dict[str, Any],
    before_commit: Callable[[Path], None] | None = None,
) -> Path:
    """Return ``target`` after writing a complete region folder there.

    The files are written to a temporary folder beside ``target`` and renamed
    into place at the end; an existing region at ``target`` is replaced only
    then. ``before_commit`` (if given) is called with the temporary folder
    just before the rename and may raise to abandon the write.
    """
    with atomic_folder(target, before_commit=before_commit) as tmp:
        np.savez(tmp / _GRAPH, **_graph_arrays(graph))  # type: ignore[arg-type]
        pq.write_table(sites_to_geoparquet_table(sites), tmp / _SITES_PARQUET)
        (tmp / _SITES_GEOJSON).write_text(
            json.dumps(sites.to_geojson(), ensure_ascii=False), encoding="utf-8"
        )
        _write_sites_csv(sites, tmp / _SITES_CSV)
        full_meta = {"format_version": FORMAT_VERSION, "name": target.name, **meta}
        (tmp / _META).write_text(
            json.dumps(full_meta, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8",
        )
    log.info("wrote region %s: %d nodes, %d sites", target, graph.n_nodes, len(sites))
    return target


def read_region(path: Path) -> Region:
    """Return the region stored in the folder ``path``.

    Raises
    ------
    NotFoundError
        When the folder holds no region.
    InvalidInputError
        When the files are damaged or from an incompatible version.
    """
    meta_path = path / _META
    if not meta_path.is_file():
        msg = f"no region at {path}; build it with `watchfloor region build FILE --name NAME`"
        raise NotFoundError(msg)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            msg = (
                f"region {path.name} was written in format {meta.get('format_version')}, "
                f"this version reads {FORMAT_VERSION}; rebuild it with `watchfloor region build`"
            )
            raise InvalidInputError(msg)
        with np.load(path / _GRAPH) as npz:
            arrays = {name: npz[name] for name in npz.files}
        graph = RoadGraph(**arrays)
        sites = SiteRegister.from_arrow(pq.read_table(path / _SITES_PARQUET))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        msg = (
            f"region {path.name} at {path} is damaged ({exc}); "
            "rebuild it with `watchfloor region build`"
        )
        raise InvalidInputError(msg) from None
    return Region(name=path.name, graph=graph, sites=sites, meta=meta, path=path)


def list_region_dirs(regions_dir: Path) -> list[Path]:
    """Return the region folders under ``regions_dir`` (sorted by name)."""
    if not regions_dir.is_dir():
        return []
    return sorted(
        p
        for p in regions_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / _META).is_file()
    )
